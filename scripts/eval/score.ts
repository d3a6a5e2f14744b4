import type { Stage } from '../../classifiers/types.js';
import type { StageDecision } from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import type { Condition } from '../../policies/schema.js';

/** A classifier label whose score feeds the policy's main score. */
export interface ScoreRef {
  classifier: string;
  label: string;
}

export const refName = (r: ScoreRef) => `${r.classifier}.${r.label}`;

/** The score conditions of a `when` tree that raise the chance of a match (not under `not`, not `<`/`<=`). */
function raisingConditions(when: Condition | undefined, out: ScoreRef[], negated = false): void {
  if (!when) return;
  if ('all' in when) for (const c of when.all) raisingConditions(c, out, negated);
  else if ('any' in when) for (const c of when.any) raisingConditions(c, out, negated);
  else if ('not' in when) raisingConditions(when.not, out, !negated);
  else if ('classifier' in when) {
    const lower = when.op === '<' || when.op === '<=';
    if (lower === negated) out.push({ classifier: when.classifier, label: when.label });
  }
}

/**
 * The labels behind the policy's main score at a stage: every classifier label that a score condition of
 * an enforced `refuse` rule for that stage tests upwards (`>=`, `>`, `==`; a `<` under `not` counts too).
 * The main score of an item is the highest of these scores (see `mainScore`).
 *
 * @example
 * mainScoreRefs(loadPolicy('policies/default'), 'input'); // [{ classifier: 'hazards', label: 'S1' }, …]
 */
export function mainScoreRefs(loaded: LoadedPolicy, stage: Stage): ScoreRef[] {
  const refs: ScoreRef[] = [];
  for (const c of loaded.rules) {
    if (c.rule.action !== 'refuse' || c.rule.mode !== 'enforce' || !c.stages.includes(stage)) continue;
    raisingConditions(c.rule.when, refs);
  }
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(refName(r)) && seen.add(refName(r)));
}

/**
 * Parses `--score classifier.label` against the policy. The label may itself hold dots (`pii.contact`):
 * the classifier id is the longest declared id that prefixes the option.
 */
export function parseScoreOption(option: string, loaded: LoadedPolicy): ScoreRef {
  const ids = [...loaded.classifiers.keys()]
    .filter((id) => option.startsWith(`${id}.`))
    .sort((a, b) => b.length - a.length);
  const classifier = ids[0];
  const declared = classifier === undefined ? undefined : loaded.classifiers.get(classifier);
  if (classifier === undefined || !declared) {
    const known = [...loaded.classifiers.keys()].join(', ');
    throw new Error(`--score ${option}: expected classifier.label with a classifier of the policy (${known})`);
  }
  const label = option.slice(classifier.length + 1);
  const labels = declared.labels;
  if (!labels.includes(label))
    throw new Error(
      `--score ${option}: classifier "${classifier}" has no label "${label}"; it has: ${labels.join(', ')}`,
    );
  return { classifier, label };
}

/**
 * The main score of one decision: the highest score, over every result of the named classifiers (a
 * classifier runs once per selection its rules read), of the named labels. A classifier that failed gives
 * no score, and a missing label reads 0 as in the engine; undefined when none was available.
 */
export function mainScore(decision: StageDecision, refs: readonly ScoreRef[]): number | undefined {
  let best: number | undefined;
  for (const r of decision.classifiers) {
    if (r.error !== undefined) continue;
    for (const ref of refs) {
      if (ref.classifier !== r.id) continue;
      const v = r.scores[ref.label] ?? 0; // as the engine reads a missing label
      if (best === undefined || v > best) best = v;
    }
  }
  return best;
}
