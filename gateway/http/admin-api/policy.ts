import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { diffDecisions, diffPolicies, parseCorpusLine, type CorpusItem } from '../../../policies/diff.js';
import { packBundle } from '../../../policies/package.js';
import { policyFile, type LoadedPolicy } from '../../../policies/load.js';
import { loadPolicyTests, PolicyTestFileError, runPolicyTests } from '../../../policies/testing.js';
import { explainTrace } from '../../../policies/cli/explain.js';
import { asRequest, caseMeta, type CaseInput } from '../../../policies/testing.js';
import { selectPolicy } from '../../../policies/bundle.js';
import { GatewayError } from '../../pipeline/errors.js';
import { policyStatus, type GatewayPolicies } from '../../policies.js';
import type { PolicySync } from '../../shared/policy-sync.js';
import type { AuditSource } from '../audit-export.js';
import { compileCandidate, requireCandidate } from './candidate.js';
import { findDecision } from './decisions.js';
import { outputText, promptText, scanDecisions } from './records.js';

export interface PlaygroundOptions {
  policies: GatewayPolicies;
  source?: AuditSource;
  /** The shadow policy file (GATEWAY_SHADOW_POLICY): where "publish as shadow" writes; unset, it is refused. */
  shadowPath?: string;
  /** Policies published in Redis: "publish as enforced" goes there instead of the file. */
  policySync?: PolicySync;
}

const readText = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** The enforced default policy's file, as the candidate's stand-in location (for paths and its tests). */
const enforcedFile = (o: PlaygroundOptions) => policyFile(o.policies.store.current().default.source);

/** GET /console/api/policy: the enforced and shadow policies' text and status. */
export function policyTexts(o: PlaygroundOptions) {
  const file = enforcedFile(o);
  const shadow = o.policies.store.shadow();
  return {
    status: policyStatus(o.policies),
    enforced: { file, text: readText(file) },
    shadow: o.shadowPath
      ? { file: policyFile(o.shadowPath), text: shadow ? readText(policyFile(o.shadowPath)) : null }
      : null,
    publish: { enforced: o.policySync ? 'redis' : 'file', shadow: o.shadowPath ? 'file' : null },
  };
}

/** POST /console/api/policy/validate {text}: the faults, each pinned to its JSON path and line. */
export function validate(o: PlaygroundOptions, body: { text?: unknown }) {
  const c = compileCandidate(body.text, enforcedFile(o));
  return c.ok
    ? { ok: true, id: c.policy.policy.id, revision: c.policy.revision, rules: c.policy.rules.length, issues: [] }
    : { ok: false, issues: c.issues };
}

/** A recorded request as a test case input: its kept prompt (and answer), or a 422 when the log kept no text. */
async function recordedInput(o: PlaygroundOptions, id: unknown): Promise<CaseInput> {
  if (!o.source) throw new GatewayError('not_found', 'no decision log is configured');
  const r = await findDecision(o.source, id);
  const prompt = promptText(r);
  if (prompt === undefined)
    throw new GatewayError(
      'invalid_request',
      `decision ${r.decision_id} kept no text (content mode "${r.content.mode}"); paste the request instead`,
      'decision_id',
      { status: 422 },
    );
  const output = outputText(r);
  return {
    request: asRequest(prompt),
    ...(output !== undefined && { output }),
    meta: { ...(r.tenant && { tenant: r.tenant }), ...(r.key_id && { key: r.key_id }), route: r.route },
  };
}

/**
 * POST /console/api/policy/explain {text?, decision_id | request, output?}: the `policy explain` trace under the
 * edited text, or under the policy in force when no text is given.
 */
export async function explain(o: PlaygroundOptions, body: Record<string, unknown>) {
  let input: CaseInput;
  if (body.decision_id !== undefined) input = await recordedInput(o, body.decision_id);
  else if (typeof body.request === 'string' || (body.request && typeof body.request === 'object'))
    input = {
      request: asRequest(body.request as string | Record<string, unknown>),
      ...(typeof body.output === 'string' && { output: body.output }),
    };
  else throw new GatewayError('invalid_request', 'give decision_id (a recorded request) or request', 'request');
  // Without text: the policy in force that the gateway would select for this request (bindings included).
  const policy =
    body.text === undefined
      ? selectPolicy(o.policies.store.current(), caseMeta(input))
      : requireCandidate(body.text, enforcedFile(o));
  const { final, stages, outputSkipped, problems } = await explainTrace(policy, input);
  return { policy: { id: policy.policy.id, revision: policy.revision }, final, stages, outputSkipped, problems };
}

/** The enforced policy's suites (the *.test.json beside it) run against a candidate: `policy test`. */
export async function testCandidate(o: PlaygroundOptions, policy: LoadedPolicy) {
  let suites;
  try {
    suites = loadPolicyTests(enforcedFile(o));
  } catch (e) {
    if (!(e instanceof PolicyTestFileError)) throw e;
    return { ok: false, suites: 0, error: `${e.file}: ${e.issues.map((i) => i.message).join('; ')}` };
  }
  const report = await runPolicyTests(policy, suites);
  const { total, fail, error } = report.summary;
  return { ok: total > 0 && fail + error === 0, suites: suites.length, ...report };
}

/** POST /console/api/policy/test {text}. */
export async function test(o: PlaygroundOptions, body: { text?: unknown }) {
  return testCandidate(o, requireCandidate(body.text, enforcedFile(o)));
}

/** Recent recorded requests (kept text only) as a `policy diff --corpus` corpus, newest `limit`. */
async function recentCorpus(o: PlaygroundOptions, limit: number): Promise<{ items: CorpusItem[]; skipped: number }> {
  const items: CorpusItem[] = [];
  let skipped = 0;
  if (o.source)
    await scanDecisions(o.source, {}, (r) => {
      const prompt = promptText(r);
      if (prompt === undefined) return void skipped++;
      items.push(parseCorpusLine(JSON.stringify({ id: r.decision_id, text: prompt }), items.length + 1));
      if (items.length > limit) items.shift();
    });
  return { items, skipped };
}

/** POST /console/api/policy/diff {text, limit?}: what changed against the enforced policy, and on recent traffic. */
export async function diff(o: PlaygroundOptions, body: { text?: unknown; limit?: unknown }) {
  const candidate = requireCandidate(body.text, enforcedFile(o));
  const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.min(body.limit, 5000) : 500;
  const enforced = o.policies.store.current().default;
  const corpus = await recentCorpus(o, limit);
  return {
    ...diffPolicies(enforced, candidate),
    corpus: {
      recorded: corpus.items.length,
      skipped_without_text: corpus.skipped,
      ...(await diffDecisions(enforced, candidate, corpus.items, { examples: 5 })),
    },
  };
}

/**
 * POST /console/api/policy/publish {text, target: "shadow" | "enforced", override?}: the enforced policy's tests run
 * first and a failure refuses the publish unless `override` is true. Enforced goes to Redis when policies are
 * published there, else into the policy file followed by a reload (which validates and tests again, and puts the
 * old file back if it fails); shadow goes into the shadow policy file.
 */
export async function publish(o: PlaygroundOptions, body: Record<string, unknown>) {
  const target = body.target;
  if (target !== 'shadow' && target !== 'enforced')
    throw new GatewayError('invalid_request', 'target: expected "shadow" or "enforced"', 'target');
  const text = body.text;
  const candidate = requireCandidate(text, enforcedFile(o));
  const tests = await testCandidate(o, candidate);
  if (!tests.ok && body.override !== true)
    throw new GatewayError(
      'policy_invalid',
      'the policy tests fail; nothing was published (override to publish anyway)',
      'override',
      {
        status: 422,
        details: { tests },
      },
    );
  if (target === 'shadow') {
    if (!o.shadowPath)
      throw new GatewayError(
        'invalid_request',
        'no shadow policy is configured (set GATEWAY_SHADOW_POLICY)',
        'target',
        { status: 409 },
      );
    return {
      target,
      tests: 'summary' in tests ? tests.summary : null,
      ...(await writeAndReload(o, policyFile(o.shadowPath), text as string, 'console publish (shadow)')),
    };
  }
  if (o.policySync)
    return {
      target,
      tests: 'summary' in tests ? tests.summary : null,
      ...(await publishShared(o, o.policySync, text as string)),
    };
  return {
    target,
    tests: 'summary' in tests ? tests.summary : null,
    ...(await writeAndReload(o, enforcedFile(o), text as string, 'console publish')),
  };
}

/** Writes the file, reloads, and puts the old text back when the reload rejects the new one. */
async function writeAndReload(o: PlaygroundOptions, file: string, text: string, trigger: string) {
  const old = readText(file);
  writeFileSync(file, text);
  const result = await o.policies.store.reload(trigger);
  if (!result.ok) {
    if (old !== null) writeFileSync(file, old);
    throw new GatewayError('policy_invalid', 'the gateway rejected the policy on reload; the file was put back', null, {
      details: result,
    });
  }
  return { via: 'file', file, reload: result, shadow: o.policies.store.shadow()?.revision ?? null };
}

/** The candidate beside the enforced policy's other files, packed and published for every replica. */
async function publishShared(o: PlaygroundOptions, sync: PolicySync, text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'console-candidate-'));
  try {
    const from = dirname(enforcedFile(o));
    for (const f of readdirSync(from).filter((f) => f.endsWith('.json'))) cpSync(join(from, f), join(dir, f));
    writeFileSync(join(dir, 'policy.json'), text);
    const checked = await o.policies.store.validate(dir);
    if (!checked.ok)
      throw new GatewayError('policy_invalid', 'the policy was rejected; nothing was published', null, {
        details: { faults: checked.faults },
      });
    const event = await sync.published.publish(checked.bundle.revision, packBundle(dir));
    return { via: 'redis', ...event, replica: await sync.check('console publish', true) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
