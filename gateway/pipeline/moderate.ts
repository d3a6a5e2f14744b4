import type { Action, ClassifierError } from '../../audit/types.js';
import { ACTION_RANK, type Passage, type Refusal, type StageDecision } from '../../policies/engine.js';
import type { Pipeline, RequestContext } from './pipeline.js';
import { joinSegments } from '../../policies/select.js';
import { round } from '../../policies/round.js';

/** A lower-threshold signal: a `flag` rule that matched. Recorded and reported, never a flag of the input. */
export interface WatchSignal {
  rule: string;
  category?: string;
  label?: string;
  score?: number;
  threshold?: number;
}

export interface ModerationResult {
  /**
   * As OpenAI's: the input violates the policy, i.e. the policy refuses it. Redaction, routing and watch flags
   * are not violations and do not set it; they are in `gateway`.
   */
  flagged: boolean;
  /** A label or category is true when a rule refusing the input matched on it. */
  categories: Record<string, boolean>;
  category_scores: Record<string, number>;
  /** Our extension: the decision, the rules that matched, the watch signals and each classifier's result. */
  gateway: {
    action: Action;
    matched_rules: { id: string; action: Action; reason: string }[];
    /** Enforced `flag` rules that matched: scores past a watch threshold, under the refusing level. */
    watch: WatchSignal[];
    classifiers: {
      id: string;
      scores: Record<string, number>;
      explanation: string;
      latency_ms: number;
      error?: ClassifierError;
    }[];
  };
}

export interface ModerationResponse {
  id: string;
  model: string;
  results: ModerationResult[];
  gateway: { decision_id: string; action: Action; policy: { id: string; revision: string } };
}

function toResult(d: StageDecision): ModerationResult {
  const scores: Record<string, number> = {};
  for (const c of d.classifiers)
    for (const [label, v] of Object.entries(c.scores)) scores[label] = Math.max(scores[label] ?? 0, v);
  const categories = Object.fromEntries(Object.keys(scores).map((l) => [l, false]));
  for (const m of d.matches) {
    if (m.onError || m.action !== 'refuse') continue;
    if (m.label) categories[m.label] = true;
    if (m.category) categories[m.category] = true;
  }
  const watch = d.matches
    .filter((m) => m.action === 'flag' && !m.onError)
    .map((m) => ({
      rule: m.id,
      ...(m.category !== undefined && { category: m.category }),
      ...(m.label !== undefined && { label: m.label }),
      ...(m.score !== undefined && { score: m.score }),
      ...(m.threshold !== undefined && { threshold: m.threshold }),
    }));
  return {
    // A refusal for a failed check (fail closed) counts too: the input could not be shown to comply.
    flagged: d.action === 'refuse',
    categories,
    category_scores: scores,
    gateway: {
      action: d.action,
      matched_rules: d.matches.map((m) => ({ id: m.id, action: m.action, reason: m.reason })),
      watch,
      classifiers: d.classifiers.map((c) => ({
        id: c.id,
        scores: c.scores,
        explanation: c.explanation,
        latency_ms: round(c.latencyMs, 3),
        ...(c.error !== undefined && { error: c.error }),
      })),
    },
  };
}

/**
 * One stage decision for several inputs: the strongest action (a refusal keeps the first refusing input's
 * message); spans move to their input's offset in the joined text.
 */
function merge(decisions: StageDecision[], offsets: number[]): StageDecision {
  const outcome = {
    stage: 'input' as const,
    matches: decisions.flatMap((d) => d.matches),
    shadow: decisions.flatMap((d) => d.shadow),
    redactions: [],
    rewrites: new Map(),
    trace: decisions.flatMap((d) => d.trace),
    classifiers: decisions.flatMap((d, i) =>
      d.classifiers.map((c) => ({
        ...c,
        spans: c.spans?.map((s) => ({ ...s, start: s.start + (offsets[i] ?? 0), end: s.end + (offsets[i] ?? 0) })),
      })),
    ),
  };
  const refusal = decisions.find((d): d is Refusal => d.action === 'refuse');
  if (refusal) return { ...outcome, action: 'refuse', message: refusal.message };
  const action = decisions.reduce<Passage['action']>(
    (a, d) => (d.action !== 'refuse' && ACTION_RANK[d.action] > ACTION_RANK[a] ? d.action : a),
    'allow',
  );
  return { ...outcome, action };
}

/**
 * The moderation endpoint's work: the input stage on each input, independent of any upstream. One decision
 * record covers the whole request; its input stage merges the per-input decisions (strongest action wins).
 */
export async function moderate(
  pipeline: Pipeline,
  inputs: string[],
  ctx: RequestContext,
  signal: AbortSignal,
): Promise<ModerationResponse> {
  const joined = joinSegments(inputs.map((text, i) => ({ pointer: `/input/${i}`, text })));
  const offsets = joined.segments.map((s) => s.start);
  const run = pipeline.start(ctx, null, joined.text);
  // Each input is read as a one-message chat request, so rules select it as they would a user's message.
  const docs = inputs.map((text) => ({ messages: [{ role: 'user', content: text }] }));
  const { each, merged } = await run.runInputs(docs, signal, (decisions) => merge(decisions, offsets));
  await run.finish(merged.action, 200);
  const { policy, revision } = run.policy;
  return {
    id: `modr-${ctx.decisionId.slice(4)}`,
    model: `gateway-policy/${policy.id}`,
    results: each.map(toResult),
    gateway: { decision_id: ctx.decisionId, action: merged.action, policy: { id: policy.id, revision } },
  };
}
