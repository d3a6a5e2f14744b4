import { runClassifier } from '../classifiers/run.js';
import type { ClassifierResult, Span, Stage } from '../classifiers/types.js';
import type { LoadedPolicy } from './load.js';
import type { Action, Rule } from './schema.js';

/** Precedence of actions: refuse beats redact beats flag beats allow. */
export const ACTION_RANK: Record<Action, number> = { refuse: 3, redact: 2, flag: 1, allow: 0 };

export interface RuleMatch {
  id: string;
  action: Action;
  reason: string;
  classifier: string;
  label: string;
  score?: number;
  threshold: number;
  /** True when the rule fired because its classifier failed (onError). */
  onError?: boolean;
}

/** A span to replace, with its replacement text. */
export interface Redaction extends Span {
  replacement: string;
}

export interface StageDecision {
  stage: Stage;
  action: Action;
  /** Every rule that matched, winner first. */
  matches: RuleMatch[];
  /** For `refuse`: the assistant message to send. */
  message?: string;
  /** For `redact`: the spans of the stage text to replace. */
  redactions: Redaction[];
  classifiers: ClassifierResult[];
}

const rulesFor = (loaded: LoadedPolicy, stage: Stage) =>
  loaded.policy.rules.filter((r) => r.stage === stage || r.stage === 'both');

/**
 * Turns classifier results into one action for a stage. Deterministic: matches are ordered by action
 * precedence, then by priority (higher first), then by their order in the policy; the first one wins.
 */
export function decide(loaded: LoadedPolicy, stage: Stage, results: ClassifierResult[]): StageDecision {
  const { defaults } = loaded.policy;
  const byId = new Map(results.map((r) => [r.id, r]));
  const fired: { rule: Rule; order: number; match: RuleMatch }[] = [];
  rulesFor(loaded, stage).forEach((rule, order) => {
    const { classifier, label, threshold } = rule.when;
    const result = byId.get(classifier);
    if (!result || result.error !== undefined) {
      const onError = rule.onError ?? defaults.onError;
      if (onError === 'allow') return;
      const why = result?.error ?? 'classifier did not run';
      const match = { id: rule.id, action: onError, reason: `classifier ${classifier} failed: ${why}`, classifier, label, threshold, onError: true };
      fired.push({ rule, order, match });
      return;
    }
    const score = result.scores[label] ?? 0;
    if (score >= threshold) {
      const reason = `${classifier}.${label} = ${round(score)} >= ${threshold}`;
      fired.push({ rule, order, match: { id: rule.id, action: rule.action, reason, classifier, label, score, threshold } });
    }
  });
  fired.sort(
    (a, b) =>
      ACTION_RANK[b.match.action] - ACTION_RANK[a.match.action] || b.rule.priority - a.rule.priority || a.order - b.order,
  );
  const winner = fired[0];
  const action: Action = winner?.match.action ?? 'allow';
  const decision: StageDecision = { stage, action, matches: fired.map((f) => f.match), redactions: [], classifiers: results };
  if (action === 'refuse') {
    decision.message = winner.match.onError ? defaults.errorRefusal : (winner.rule.message ?? defaults.refusal);
  } else if (action === 'redact') {
    for (const { rule, match } of fired) {
      if (match.action !== 'redact' || match.onError) continue;
      const spans = byId.get(rule.when.classifier)?.spans ?? [];
      for (const s of spans) {
        if (s.label === rule.when.label) decision.redactions.push({ ...s, replacement: rule.replacement.replaceAll('{label}', s.label) });
      }
    }
  }
  return decision;
}

const round = (n: number) => Math.round(n * 1e4) / 1e4;

/** Runs the classifiers the stage's rules need, concurrently, then decides. */
export async function evaluateStage(
  loaded: LoadedPolicy,
  stage: Stage,
  text: string,
  { prompt, signal }: { prompt?: string; signal?: AbortSignal } = {},
): Promise<StageDecision> {
  const ids = [...new Set(rulesFor(loaded, stage).map((r) => r.when.classifier))];
  const results = await Promise.all(
    ids.map((id) => runClassifier(loaded.classifiers.get(id)!, { stage, text, prompt }, signal)),
  );
  return decide(loaded, stage, results);
}

/** Replaces spans in a text. Overlapping spans merge under the first one's replacement, so nothing leaks. */
export function applyRedactions(text: string, redactions: Redaction[]): string {
  const sorted = [...redactions].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const r of sorted) {
    if (r.start < at) {
      at = Math.max(at, r.end);
      continue;
    }
    out += text.slice(at, r.start) + r.replacement;
    at = r.end;
  }
  return out + text.slice(at);
}
