import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONVERSATION_SELECT } from '../conversation.js';
import { DEFAULT_OUTPUT_SELECT } from '../select.js';
import { formatPath, type LoadedPolicy } from '../load.js';
import { bindingFor, loadBundle, selectPolicy } from '../bundle.js';
import { caseMeta, finalOf, PolicyTestCaseSchema, runCase, type CaseInput } from '../testing.js';
import { EXIT, positional, reportInvalid, say, sayJson, tryLoad, UsageError, type ExitCode, type Io } from './io.js';
import { explainStage, type ExplainedStage } from './trace.js';

export const EXPLAIN_USAGE = `explain <path> <request.json> [--output TEXT | --output-file FILE] [--json]
          [--tenant T] [--key KEY_ID] [--route R] [--header NAME=VALUE]... [--score CLASSIFIER.LABEL=N]...
          The full decision trace: every rule, its conditions with their values, why it matched or not, the
          winner and why. <request.json> is a chat request, or {request, output?, scores?, errors?, meta?}
          as in a test case. For a folder with bindings.json, the policy is the one the gateway would select
          for this tenant, key id, model and route.`;

/** Reads the request file: a chat request or a test-case-like object. */
function readInput(file: string): CaseInput {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError(`${file}: expected a JSON object (a chat request)`);
  const o = doc as Record<string, unknown>;
  if ('request' in o && !('messages' in o)) {
    const parsed = PolicyTestCaseSchema.omit({ name: true, expect: true, todo: true }).safeParse(o);
    if (!parsed.success)
      throw new UsageError(
        `${file}: ${parsed.error.issues.map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`).join('; ')}`,
      );
    return parsed.data;
  }
  return { request: o };
}

const pairs = (list: string[] | undefined, sep: string, what: string): [string, string][] =>
  (list ?? []).map((p) => {
    const i = p.indexOf(sep);
    if (i <= 0) throw new UsageError(`expected ${what}, got ${JSON.stringify(p)}`);
    return [p.slice(0, i), p.slice(i + 1)];
  });

/**
 * The decision trace of one request (and optional answer) under one policy: each stage's rules with their
 * conditions and values, the final action, and why the output stage did not run. The CLI prints it; the
 * console's playground (gateway/http/admin-api) answers it as JSON.
 */
export async function explainTrace(chosen: LoadedPolicy, input: CaseInput) {
  const problems: string[] = [];
  const run = await runCase(chosen, input, problems);
  const stages = {
    input: explainStage(chosen, run.input),
    ...(run.output && { output: explainStage(chosen, run.output) }),
  };
  const final = finalOf(run);
  const outputSkipped = run.output
    ? undefined
    : run.input.action === 'refuse'
      ? 'the input stage refused'
      : 'no output given; pass --output';
  return { final, stages, outputSkipped, run, problems };
}

/** `explain <path> <request.json>`: exit 0 when the trace was printed, whatever the decision. */
export async function explainCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      output: { type: 'string' },
      'output-file': { type: 'string' },
      tenant: { type: 'string' },
      key: { type: 'string' },
      route: { type: 'string' },
      header: { type: 'string', multiple: true },
      score: { type: 'string', multiple: true },
    },
  });
  const path = positional(positionals, 0, '<path>');
  const input = readInput(resolve(io.cwd, positional(positionals, 1, '<request.json>')));
  if (values['output-file'] !== undefined) {
    try {
      input.output = readFileSync(resolve(io.cwd, values['output-file']), 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${values['output-file']}: ${(e as Error).message}`);
    }
  } else if (values.output !== undefined) input.output = values.output;
  const meta = { ...input.meta };
  if (values.tenant !== undefined) meta.tenant = values.tenant;
  if (values.key !== undefined) meta.key = values.key;
  if (values.route !== undefined) meta.route = values.route;
  if (values.header) meta.headers = { ...meta.headers, ...Object.fromEntries(pairs(values.header, '=', 'NAME=VALUE')) };
  input.meta = meta;
  for (const [at, v] of pairs(values.score, '=', 'CLASSIFIER.LABEL=N')) {
    const dot = at.indexOf('.');
    const n = Number(v);
    if (dot <= 0 || !(n >= 0 && n <= 1))
      throw new UsageError(`--score expects CLASSIFIER.LABEL=N with N in [0, 1], got ${JSON.stringify(`${at}=${v}`)}`);
    input.scores = {
      ...input.scores,
      [at.slice(0, dot)]: { ...input.scores?.[at.slice(0, dot)], [at.slice(dot + 1)]: n },
    };
  }

  const loaded = tryLoad(path, loadBundle);
  if (!loaded.ok) return reportInvalid(io, loaded.error, values.json);
  // The gateway's own selection, so that explain answers for the policy the request would meet.
  const bundle = loaded.policy;
  const requestMeta = caseMeta(input);
  const binding = bindingFor(bundle, requestMeta);
  const chosen = selectPolicy(bundle, requestMeta);
  const selected =
    bundle.bindings.length === 0
      ? undefined
      : binding < 0
        ? { binding: null, why: 'no binding matched: the default policy' }
        : {
            binding,
            why: `binding ${binding + 1} of bindings.json matched ${JSON.stringify(bundle.bindings[binding]?.match)}`,
          };
  const { final, stages, outputSkipped, run, problems } = await explainTrace(chosen, input);
  const { policy, revision } = chosen;
  if (values.json) {
    sayJson(io, {
      policy: { id: policy.id, revision, ...(selected && { selected }) },
      final,
      stages,
      ...(outputSkipped && { outputSkipped }),
      request: run.request,
      ...(run.answer !== undefined && { answer: run.answer }),
      problems,
    });
    return EXIT.ok;
  }
  say(io.stdout, `policy ${policy.id} (${policy.mode}), revision ${revision.slice(0, 12)}`);
  if (selected) say(io.stdout, `selected by ${selected.why}`);
  for (const p of problems) say(io.stdout, `warning: ${p}`);
  printStage(io, stages.input);
  if (stages.output) printStage(io, stages.output);
  else say(io.stdout, `\nOUTPUT stage: not run (${outputSkipped})`);
  say(io.stdout, `\nFINAL: ${final.action} (decided at the ${final.stage} stage)`);
  return EXIT.ok;
}

const MARK = { matched: '✔ matched ', 'no-match': '· no match', error: '✖ error   ', skipped: '- skipped ' } as const;

const defaultSelect = { input: CONVERSATION_SELECT, output: DEFAULT_OUTPUT_SELECT };

function printStage(io: Io, s: ExplainedStage): void {
  const out = (t = '') => say(io.stdout, t);
  out(
    `\n${s.stage.toUpperCase()} stage → ${s.action}   (rules read ${defaultSelect[s.stage]} unless they say otherwise)`,
  );
  for (const r of s.rules) {
    out(
      `  ${MARK[r.outcome]}  ${r.id}  ` +
        `[${r.action}, priority ${r.priority}, #${r.order}${r.mode !== 'enforce' ? `, ${r.mode}` : ''}]`,
    );
    if (r.outcome === 'skipped') {
      out(`        ${r.why}`);
      continue;
    }
    if (r.select !== defaultSelect[s.stage]) out(`        select ${r.select}`);
    if (r.conditions.length > 1 || r.when !== r.conditions[0]?.condition) {
      out(`        when   ${r.when}`);
      for (const c of r.conditions)
        out(`          ${c.result ? '✔' : '✘'} ${c.condition}  = ${JSON.stringify(c.value)}`);
    }
    out(`        ${r.why}`);
  }
  if (s.winner) {
    out(`  winner: ${s.winner.id} — ${s.winner.why[0]}`);
    for (const w of s.winner.why.slice(1)) out(`    ${w}`);
  } else out('  winner: none (no enforced rule matched): allow');
  for (const sh of s.shadow) out(`  shadow: ${sh.id} would ${sh.action} (${sh.reason})`);
  if (s.message) out(`  message: ${s.message}`);
  if (s.route) out(`  route: ${s.route.model}`);
  for (const [pointer, text] of Object.entries(s.rewrites)) out(`  redacted ${pointer}: ${JSON.stringify(text)}`);
  for (const c of s.classifiers) {
    const scores =
      Object.entries(c.scores)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'all 0';
    out(
      `  classifier ${c.id}: ${c.error ? `FAILED (${c.error.code}): ${c.error.message}` : scores} (${c.latencyMs} ms)`,
    );
  }
}
