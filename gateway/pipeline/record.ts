/**
 * The one place where the pipeline's camelCase objects become the decision record's snake_case fields
 * (audit/types.ts, published as audit/record.schema.json). Members are written in sorted order at every depth:
 * the audit log stores canonical JSON, and its masker shares (rather than copies) any part already in that order.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../audit/canonical.js';
import type {
  ClassifierRecord,
  ContentMode,
  ContentRecord,
  MediaRecord,
  RuleMatch as RecordRuleMatch,
  ShadowRecord,
  StageRecord,
  ToolCallRecord,
} from '../../audit/types.js';
import type { Classifier } from '../../classifiers/types.js';
import type { ChatMessage } from '../../generator/types.js';
import type { Span } from '../../classifiers/types.js';
import {
  applyRedactions,
  evaluateStage,
  type RequestMeta,
  type RuleMatch,
  type StageDecision,
} from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { strongest } from './context.js';
import { round } from '../../policies/round.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A stage decision as the decision record stores it. */
export function stageRecord(d: StageDecision, latencyMs: number, classifiers: Map<string, Classifier>): StageRecord {
  return {
    action: d.action,
    classifiers: d.classifiers.map((c): ClassifierRecord => ({
      ...(c.details && { details: c.details }),
      ...(c.error !== undefined && { error: { code: c.error.code, message: c.error.message } }),
      explanation: c.explanation,
      id: c.id,
      latency_ms: round(c.latencyMs, 3),
      scores: c.scores,
      version: classifiers.get(c.id)?.version ?? 'unknown',
    })),
    latency_ms: round(latencyMs, 3),
    ...(d.route && { route: d.route }),
    rules: d.matches.map(toRecordMatch),
    ...(d.shadow.length && { shadow_rules: d.shadow.map(toRecordMatch) }),
  };
}

/**
 * What the shadow candidate would have done, or undefined when it decided nothing: refusing at input ends its
 * run there, as it would have.
 */
export function shadowRecord(
  candidate: LoadedPolicy,
  input: StageDecision | undefined,
  output: StageDecision | undefined,
): ShadowRecord | undefined {
  if (!input && !output) return undefined;
  const reached = input?.action === 'refuse' ? undefined : output;
  return {
    action: strongest(input?.action ?? 'allow', reached?.action ?? 'allow'),
    policy: { id: candidate.policy.id, revision: candidate.revision },
    stages: {
      ...(input && { input: stageRecord(input, 0, candidate.classifiers) }),
      ...(reached && { output: stageRecord(reached, 0, candidate.classifiers) }),
    },
  };
}

/** A rule match as the record stores it. */
const toRecordMatch = ({ onError, mode: _mode, ...m }: RuleMatch): RecordRuleMatch => ({
  ...m,
  ...(onError && { on_error: true }),
});

/** A text the record may keep, with the spans that `redacted` mode replaces: offsets into this very text. */
export interface KeptText {
  text: string;
  spans?: readonly Span[];
}

/** Every span any classifier labelled in a stage decision (offsets into the text that stage read). */
export const labelledSpans = (d: StageDecision | undefined): Span[] =>
  (d?.classifiers ?? []).flatMap((c) => c.spans ?? []);

/** What `redacted` mode keeps of an answer whose spans could not all be found (a classifier failed). */
export const UNSCANNED: Span = { label: 'unscanned', start: 0, end: Number.MAX_SAFE_INTEGER };

/**
 * The labelled spans of an answer as the client received it, for `redacted` mode. The output stage's own spans
 * point into the text it read, which is not the text sent once rules have redacted it (nor, for a stream, any
 * one window), so the sent text is classified once more, by the output stage's classifiers. A failed classifier
 * hides the whole answer rather than keep what it would have found.
 */
export async function answerSpans(policy: LoadedPolicy, text: string, meta: RequestMeta, prompt: string) {
  if (!text) return [];
  const doc = { choices: [{ index: 0, message: { role: 'assistant', content: text } }] };
  try {
    const d = await evaluateStage(policy, { stage: 'output', doc, meta, prompt });
    return d.classifiers.some((c) => c.error !== undefined) ? [UNSCANNED] : labelledSpans(d);
  } catch {
    return [UNSCANNED];
  }
}

/** What a record's content is built from: the prompt, the answer, and the conversation's other parts. */
export interface ContentSource {
  prompt: KeptText;
  output?: KeptText;
  /** The conversation, for its tool calls and its parts that are not text. */
  messages?: readonly ChatMessage[];
  /** Tool calls in the answer, as the wire gives them. */
  outputToolCalls?: readonly unknown[];
  /** Graded answers the output stage passed that the client did not get as they were (ContentRecord.answers). */
  answers?: { original?: KeptText; retry?: KeptText };
}

/**
 * The content a record keeps, by mode: `full` keeps the text; `redacted` keeps it with every span any
 * classifier labelled replaced by `[REDACTED:label]`; `hash` keeps sha256 digests; `none` keeps nothing.
 * Tool call arguments are kept as they are in `full` mode only and hashed otherwise (no classifier redacts
 * them); parts that are not text are always hashed, and kept raw in `full` mode only.
 */
export function recordContent(mode: ContentMode, source: ContentSource): ContentRecord {
  if (mode === 'none') return { mode };
  const keep = (p: KeptText) => {
    if (mode === 'full') return p.text;
    if (mode === 'hash') return { sha256: sha(p.text) };
    return applyRedactions(
      p.text,
      (p.spans ?? []).map((s) => ({ ...s, end: Math.min(s.end, p.text.length), replacement: `[REDACTED:${s.label}]` })),
    );
  };
  const media = source.messages ? mediaOf(source.messages, mode === 'full') : [];
  const input = source.messages
    ? toolCallsOf(
        source.messages.flatMap((m) => listOf(m.tool_calls)),
        mode,
      )
    : [];
  const output = toolCallsOf(source.outputToolCalls ?? [], mode);
  const { original, retry } = source.answers ?? {};
  return {
    ...((original || retry) && {
      answers: { ...(original && { original: keep(original) }), ...(retry && { retry: keep(retry) }) },
    }),
    ...(media.length && { media }),
    mode,
    ...(source.output && { output: keep(source.output) }),
    prompt: keep(source.prompt),
    ...((input.length || output.length) && {
      tool_calls: { ...(input.length && { input }), ...(output.length && { output }) },
    }),
  };
}

const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** OpenAI-style tool calls (`{id, function: {name, arguments}}`); anything else on the wire is skipped. */
function toolCallsOf(calls: readonly unknown[], mode: ContentMode): ToolCallRecord[] {
  const out: ToolCallRecord[] = [];
  for (const call of calls) {
    if (!isObject(call) || !isObject(call.function)) continue;
    const { name, arguments: args } = call.function;
    const text = typeof args === 'string' ? args : canonicalJson(args ?? null);
    out.push({
      arguments: mode === 'full' ? text : { sha256: sha(text) },
      ...(typeof call.id === 'string' && { id: call.id }),
      name: typeof name === 'string' ? name : '',
    });
  }
  return out;
}

/** Every message part that is not text, hashed over its canonical JSON. */
function mediaOf(messages: readonly ChatMessage[], raw: boolean): MediaRecord[] {
  const out: MediaRecord[] = [];
  for (const m of messages) {
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content) {
      if (!isObject(part) || part.type === 'text') continue;
      out.push({
        ...(raw && { raw: part }),
        sha256: sha(canonicalJson(part)),
        type: typeof part.type === 'string' ? part.type : 'unknown',
      });
    }
  }
  return out;
}
