import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { Classifier, Stage } from '../classifiers/types.js';
import { ACTION_RANK, evaluateStage, refusalMessage, type RequestMeta, type StageDecision } from './engine.js';
import { formatPath, policyFile, type LoadedPolicy, type PolicyIssue } from './load.js';
import { ActionSchema } from './schema.js';
import { replaceAt, textSelector, USER_AND_TOOL_SELECT } from './select.js';

/**
 * Policy tests: suites of cases in `*.test.json` files beside a policy. Each case gives a request (and
 * optionally a model output, pinned classifier scores, classifier failures and request metadata) and the
 * decision it expects. The runner is shared by `npm run policy -- test` and the gateway's hot reload.
 */

const Scores = z.record(z.string(), z.record(z.string(), z.number().min(0).max(1)));

export const PolicyTestCaseSchema = z.strictObject({
  name: z.string().min(1),
  /** A chat completions request, or a string as shorthand for one user message. */
  request: z.union([z.string(), z.record(z.string(), z.unknown())]),
  /**
   * The model's answer: its text, or the assistant message itself (`{"content", "tool_calls"}`) to test rules on
   * tool calls. The output stage runs only when it is given and the input stage did not refuse.
   */
  output: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  /** Pinned scores (classifier id → label → score) used instead of running those classifiers. */
  scores: Scores.optional(),
  /** Classifiers that fail in this case (classifier id → error message), to test onError. */
  errors: z.record(z.string(), z.string().min(1)).optional(),
  /** Request metadata for meta conditions; `model` defaults to the request's model. */
  /** A known gap: the case runs and is reported, but a FAIL does not fail the run. Say why. */
  todo: z.string().min(1).optional(),
  meta: z
    .strictObject({
      tenant: z.string().nullable().optional(),
      key: z.string().nullable().optional(),
      model: z.string().nullable().optional(),
      route: z.string().optional(),
      headers: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  expect: z.strictObject({
    /** The final action: the stronger of the input and output decisions. */
    action: ActionSchema,
    /** Exactly these enforced rules matched (any order, over every stage that ran). */
    rules: z.array(z.string()).optional(),
    /** The stage that decided: `output` only when the output ran and outranked the input. */
    stage: z.enum(['input', 'output']).optional(),
    /** Exactly these shadow-mode rules matched. */
    shadow: z.array(z.string()).optional(),
    /** The refusal message contains this text. */
    message: z.string().optional(),
    /** Each of these strings is in the request or output and is gone after redaction. */
    redacts: z.array(z.string().min(1)).optional(),
    /** The model the request is routed to. */
    route: z.string().optional(),
  }),
});

export const PolicyTestSuiteSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  cases: z.array(PolicyTestCaseSchema).min(1),
});

export type PolicyTestCase = z.infer<typeof PolicyTestCaseSchema>;
/** What a case feeds the policy, without its name and expectation (what `explain` reads too). */
export type CaseInput = Omit<PolicyTestCase, 'name' | 'expect' | 'todo'>;
export interface PolicyTestSuite {
  /** The file the suite came from (or a name for suites built in code). */
  file: string;
  description?: string;
  cases: PolicyTestCase[];
}

/** A suite file that does not parse or does not match the case format. */
export class PolicyTestFileError extends Error {
  override name = 'PolicyTestFileError';
  constructor(
    readonly file: string,
    readonly issues: PolicyIssue[],
  ) {
    super(
      `invalid policy test file ${file}:\n  ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n  ')}`,
    );
  }
}

/** Parses one suite document; throws PolicyTestFileError with the path of every fault. */
export function parsePolicyTestSuite(doc: unknown, file = '(inline)'): PolicyTestSuite {
  const parsed = PolicyTestSuiteSchema.safeParse(doc);
  if (!parsed.success)
    throw new PolicyTestFileError(
      file,
      parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    );
  return { file, description: parsed.data.description, cases: parsed.data.cases };
}

/**
 * Reads every `*.test.json` in the folder of a policy (a policy file, or a folder holding `policy.json`),
 * in name order.
 *
 * @example
 * const suites = loadPolicyTests('policies/default'); // [{ file: '…/everyday.test.json', cases: [...] }, …]
 */
export function loadPolicyTests(policyPath: string): PolicyTestSuite[] {
  const dir = dirname(policyFile(policyPath));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.json'))
    .sort()
    .map((f) => {
      const file = join(dir, f);
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new PolicyTestFileError(file, [{ path: '', message: `not valid JSON: ${(e as Error).message}` }]);
      }
      return parsePolicyTestSuite(doc, file);
    });
}

export type CaseStatus = 'PASS' | 'FAIL' | 'ERROR';

export interface CaseResult {
  suite: string;
  name: string;
  status: CaseStatus;
  /** Set for a known gap: its FAIL does not count against the run. */
  todo?: string;
  /** What differed from the expectation (FAIL), or why the case could not run (ERROR). */
  problems: string[];
  /** What happened: the final action, the deciding stage, the enforced and shadow rules that matched. */
  action?: string;
  stage?: Stage;
  rules: string[];
  shadow: string[];
  ms: number;
}

export interface PolicyTestReport {
  cases: CaseResult[];
  /** Rules (not disabled) that no case made match. */
  unexercised: string[];
  /** FAIL and ERROR exclude todo cases; `todo` counts todo cases that still fail. */
  summary: { total: number; pass: number; fail: number; error: number; todo: number };
}

/** The text of one user message as a chat request. */
export const asRequest = (request: string | Record<string, unknown>): Record<string, unknown> =>
  typeof request === 'string' ? { messages: [{ role: 'user', content: request }] } : request;

/** The response document the output stage reads for a plain answer. */
export const asResponse = (
  text: string,
): { choices: [{ index: number; message: { role: string; content: string } }] } => ({
  choices: [{ index: 0, message: { role: 'assistant', content: text } }],
});

/** A case's output as the response document: a plain answer's text, or an assistant message as given. */
const asAnswer = (output: string | Record<string, unknown>) =>
  typeof output === 'string'
    ? asResponse(output)
    : { choices: [{ index: 0, message: { role: 'assistant', ...output } }] };

/** The answer as `redacts` searches it: its content, then each tool call's raw arguments, a line each. */
const answerText = (doc: { choices: { message: Record<string, unknown> }[] }): string => {
  const m = doc.choices[0]?.message ?? {};
  const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as { function?: { arguments?: unknown } }[]) : [];
  const args = calls.map((c) => c.function?.arguments).filter((a): a is string => typeof a === 'string');
  return [typeof m.content === 'string' ? m.content : '', ...args].join('\n');
};

const NO_META: RequestMeta = { tenant: null, key: null, model: null, route: '/v1/chat/completions', headers: {} };

/** A stand-in classifier that fails, for a case's `errors`. */
const failing = (c: Classifier, message: string): Classifier => ({
  id: c.id,
  labels: c.labels,
  version: c.version,
  timeoutMs: c.timeoutMs,
  classify: async () => {
    throw new Error(message);
  },
});

/** The policy with the case's failing classifiers swapped in; unknown ids are reported. */
function withErrors(
  loaded: LoadedPolicy,
  errors: Record<string, string> | undefined,
  problems: string[],
): LoadedPolicy {
  if (!errors) return loaded;
  const classifiers = new Map(loaded.classifiers);
  for (const [id, message] of Object.entries(errors)) {
    const c = classifiers.get(id);
    if (!c) problems.push(`errors names classifier "${id}", which the policy does not declare`);
    else classifiers.set(id, failing(c, message));
  }
  return { ...loaded, classifiers };
}

export interface CaseRun {
  input: StageDecision;
  output?: StageDecision;
  /** The request after input redaction, and the output after output redaction. */
  request: unknown;
  answer?: string;
}

/** A case's request metadata as the gateway would see it: `model` from the request unless the case says otherwise. */
export function caseMeta(c: Pick<CaseInput, 'request' | 'meta'>): RequestMeta {
  const request = asRequest(c.request);
  return {
    ...NO_META,
    model: typeof request.model === 'string' ? request.model : null,
    ...c.meta,
    headers: lower(c.meta?.headers),
  };
}

/** Runs a case through the input stage and, when it did not refuse and an output is given, the output stage. */
export async function runCase(loaded: LoadedPolicy, c: CaseInput, problems: string[] = []): Promise<CaseRun> {
  const policy = withErrors(loaded, c.errors, problems);
  for (const id of Object.keys(c.scores ?? {}))
    if (!loaded.classifiers.has(id))
      problems.push(`scores names classifier "${id}", which the policy does not declare`);
  const request = asRequest(c.request);
  const meta = caseMeta(c);
  const input = await evaluateStage(policy, { stage: 'input', doc: request, meta, pinned: c.scores });
  const redacted = input.rewrites.size ? replaceAt(request, input.rewrites) : request;
  if (input.action === 'refuse' || c.output === undefined) return { input, request: redacted };
  const doc = asAnswer(c.output);
  const prompt = textSelector(USER_AND_TOOL_SELECT, 'input').select(redacted).text;
  const output = await evaluateStage(policy, { stage: 'output', doc, meta, prompt, pinned: c.scores });
  return {
    input,
    output,
    request: redacted,
    answer: answerText(output.rewrites.size ? replaceAt(doc, output.rewrites) : doc),
  };
}

const lower = (h: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\0') === [...b].sort().join('\0');
const list = (xs: string[]) => (xs.length ? xs.join(', ') : '(none)');

/** The final action of a run and the stage that decided it (the input wins a tie, as in the gateway). */
export function finalOf(run: CaseRun): { action: StageDecision['action']; stage: Stage } {
  const { action, stage } = decidingStage(run);
  return { action, stage };
}

function decidingStage({ input, output }: CaseRun): StageDecision {
  return output && ACTION_RANK[output.action] > ACTION_RANK[input.action] ? output : input;
}

/** Compares a run with the case's expectation; returns what differs. */
function check(c: PolicyTestCase, run: CaseRun, rules: string[], shadow: string[]): string[] {
  const e = c.expect;
  const out: string[] = [];
  const decided = decidingStage(run);
  const { action, stage } = decided;
  if (action !== e.action)
    out.push(`action: expected ${e.action}, got ${action}${rules.length ? ` (rules: ${rules.join(', ')})` : ''}`);
  if (e.rules && !sameSet(e.rules, rules)) out.push(`rules: expected ${list(e.rules)}, got ${list(rules)}`);
  if (e.shadow && !sameSet(e.shadow, shadow)) out.push(`shadow rules: expected ${list(e.shadow)}, got ${list(shadow)}`);
  if (e.stage && e.stage !== stage) out.push(`stage: expected ${e.stage}, got ${stage}`);
  if (e.message !== undefined && !(refusalMessage(decided) ?? '').includes(e.message))
    out.push(
      `message: expected it to contain ${JSON.stringify(e.message)}, got ${JSON.stringify(refusalMessage(decided) ?? null)}`,
    );
  if (e.route !== undefined && run.input.route?.model !== e.route)
    out.push(`route: expected ${e.route}, got ${run.input.route?.model ?? '(none)'}`);
  if (e.redacts) {
    const inside = (doc: unknown, text: string | undefined, s: string) =>
      JSON.stringify(doc).includes(JSON.stringify(s).slice(1, -1)) || (text ?? '').includes(s);
    for (const s of e.redacts) {
      const given = c.output === undefined ? undefined : answerText(asAnswer(c.output));
      if (!inside(asRequest(c.request), given, s))
        out.push(`redacts: ${JSON.stringify(s)} is not in the request or the output`);
      else if (inside(run.request, run.answer, s)) out.push(`redacts: ${JSON.stringify(s)} was not redacted`);
    }
  }
  return out;
}

/**
 * Runs every case of every suite against a loaded policy. A case is ERROR when it cannot run, or when a
 * classifier failed that the case did not declare in `errors` (pin its scores instead).
 *
 * @example
 * const report = await runPolicyTests(loadPolicy('policies/default'), loadPolicyTests('policies/default'));
 * if (report.summary.fail + report.summary.error > 0) throw new Error('policy tests failed');
 */
export async function runPolicyTests(loaded: LoadedPolicy, suites: PolicyTestSuite[]): Promise<PolicyTestReport> {
  const exercised = new Set<string>();
  const cases: CaseResult[] = [];
  for (const suite of suites) {
    for (const c of suite.cases) {
      const started = performance.now();
      const problems: string[] = [];
      const base = {
        suite: suite.file,
        name: c.name,
        ...(c.todo && { todo: c.todo }),
        rules: [] as string[],
        shadow: [] as string[],
      };
      try {
        const run = await runCase(loaded, c, problems);
        const stages = [run.input, ...(run.output ? [run.output] : [])];
        const rules = [...new Set(stages.flatMap((d) => d.matches.map((m) => m.id)))];
        const shadow = [...new Set(stages.flatMap((d) => d.shadow.map((m) => m.id)))];
        if (!c.todo) for (const id of [...rules, ...shadow]) exercised.add(id);
        const failed = stages.flatMap((d) => d.classifiers).filter((r) => r.error !== undefined && !c.errors?.[r.id]);
        for (const r of failed)
          problems.push(
            `classifier "${r.id}" failed: ${r.error?.message} (pin its scores or declare the failure in errors)`,
          );
        const ms = performance.now() - started;
        const { action, stage } = finalOf(run);
        if (problems.length) cases.push({ ...base, status: 'ERROR', problems, action, stage, rules, shadow, ms });
        else {
          const diff = check(c, run, rules, shadow);
          cases.push({
            ...base,
            status: diff.length ? 'FAIL' : 'PASS',
            problems: diff,
            action,
            stage,
            rules,
            shadow,
            ms,
          });
        }
      } catch (e) {
        cases.push({
          ...base,
          status: 'ERROR',
          problems: [...problems, e instanceof Error ? e.message : String(e)],
          ms: performance.now() - started,
        });
      }
    }
  }
  const count = (s: CaseStatus) => cases.filter((c) => c.status === s && (s === 'PASS' || !c.todo)).length;
  return {
    cases,
    unexercised: loaded.rules
      .filter((r) => r.rule.mode !== 'disabled' && !exercised.has(r.rule.id))
      .map((r) => r.rule.id),
    summary: {
      total: cases.length,
      pass: count('PASS'),
      fail: count('FAIL'),
      error: count('ERROR'),
      todo: cases.filter((c) => c.todo && c.status !== 'PASS').length,
    },
  };
}
