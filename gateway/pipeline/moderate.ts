import type { Action } from '../../audit/types.js';
import { ACTION_RANK, evaluateStage, type StageDecision } from '../../policies/engine.js';
import type { Pipeline, RequestContext } from './pipeline.js';

export interface ModerationResult {
  flagged: boolean;
  categories: Record<string, boolean>;
  category_scores: Record<string, number>;
  /** Our extension: the decision, the rules that matched and each classifier's result. */
  gateway: {
    action: Action;
    matched_rules: { id: string; action: Action; reason: string }[];
    classifiers: { id: string; scores: Record<string, number>; explanation: string; latency_ms: number; error?: string }[];
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
  for (const c of d.classifiers) for (const [label, v] of Object.entries(c.scores)) scores[label] = Math.max(scores[label] ?? 0, v);
  const categories = Object.fromEntries(Object.keys(scores).map((l) => [l, false]));
  for (const m of d.matches) if (!m.onError && m.action !== 'allow') categories[m.label] = true;
  return {
    flagged: d.action !== 'allow',
    categories,
    category_scores: scores,
    gateway: {
      action: d.action,
      matched_rules: d.matches.map((m) => ({ id: m.id, action: m.action, reason: m.reason })),
      classifiers: d.classifiers.map((c) => ({
        id: c.id,
        scores: c.scores,
        explanation: c.explanation,
        latency_ms: Math.round(c.latencyMs * 1000) / 1000,
        ...(c.error !== undefined && { error: c.error }),
      })),
    },
  };
}

/**
 * The moderation endpoint's work: the input stage on each input, independent of any upstream. One decision
 * record covers the whole request; its input stage merges the per-input decisions (strongest action wins).
 */
export async function moderate(pipeline: Pipeline, inputs: string[], ctx: RequestContext, signal: AbortSignal): Promise<ModerationResponse> {
  const trace = pipeline.trace(ctx, null, inputs.join('\n\n'));
  const t = performance.now();
  const decisions = await Promise.all(inputs.map((text) => evaluateStage(trace.policy, 'input', text, { signal })));
  const merged: StageDecision = {
    stage: 'input',
    action: decisions.reduce<Action>((a, d) => (ACTION_RANK[d.action] > ACTION_RANK[a] ? d.action : a), 'allow'),
    matches: decisions.flatMap((d) => d.matches),
    redactions: [],
    classifiers: decisions.flatMap((d) => d.classifiers),
  };
  trace.input = { decision: merged, ms: performance.now() - t };
  pipeline.deps.observer?.stage('input', trace.input.ms);
  await trace.finish(merged.action, 200);
  return {
    id: `modr-${ctx.decisionId.slice(4)}`,
    model: `gateway-policy/${trace.policy.policy.id}`,
    results: decisions.map(toResult),
    gateway: { decision_id: ctx.decisionId, action: merged.action, policy: { id: trace.policy.policy.id, revision: trace.policy.revision } },
  };
}
