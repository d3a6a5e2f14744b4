import { createHash } from 'node:crypto';
import type {
  ClassifierRecord,
  ContentMode,
  DecisionRecord,
  RuleMatch as RecordRuleMatch,
  StageRecord,
} from '../../audit/types.js';
import type { Classifier } from '../../classifiers/types.js';
import { applyRedactions, type RuleMatch, type StageDecision } from '../../policies/engine.js';
import { round } from '../../policies/round.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A stage decision as the decision record stores it. */
export function stageRecord(d: StageDecision, latencyMs: number, classifiers: Map<string, Classifier>): StageRecord {
  // In sorted member order, like the decision record (see Trace.finish).
  return {
    action: d.action,
    classifiers: d.classifiers.map((c): ClassifierRecord => ({
      ...(c.details && { details: c.details }),
      ...(c.error !== undefined && { error: c.error }),
      explanation: c.explanation,
      id: c.id,
      latencyMs: round(c.latencyMs, 3),
      scores: c.scores,
      version: classifiers.get(c.id)?.version ?? 'unknown',
    })),
    latencyMs: round(latencyMs, 3),
    ...(d.route && { route: d.route }),
    rules: d.matches.map(toRecordMatch),
    ...(d.shadow.length && { shadow_rules: d.shadow.map(toRecordMatch) }),
  };
}

/** A rule match as the record stores it. */
const toRecordMatch = ({ onError, mode: _mode, ...m }: RuleMatch): RecordRuleMatch => ({
  ...m,
  ...(onError && { on_error: true }),
});

/**
 * The content a record keeps, by mode: `full` keeps the text; `redacted` keeps it with every span any
 * classifier labelled replaced by `[REDACTED:label]`; `hash` keeps sha256 digests; `none` keeps nothing.
 */
export function recordContent(
  mode: ContentMode,
  prompt: { text: string; decision?: StageDecision },
  output?: { text: string; decision?: StageDecision },
): DecisionRecord['content'] {
  const keep = (p: { text: string; decision?: StageDecision }) => {
    if (mode === 'full') return p.text;
    if (mode === 'hash') return { sha256: sha(p.text) };
    const spans = (p.decision?.classifiers ?? []).flatMap((c) => c.spans ?? []);
    return applyRedactions(
      p.text,
      spans.map((s) => ({ ...s, replacement: `[REDACTED:${s.label}]` })),
    );
  };
  if (mode === 'none') return { mode };
  return { mode, ...(output && { output: keep(output) }), prompt: keep(prompt) };
}
