/**
 * Binary-decision and ranking metrics for the evaluation harness. Small and ours, so their edge cases are
 * pinned by tests (test/eval/metrics.test.ts): a figure that is undefined on the data (recall with no
 * positives, precision with nothing flagged, an AUC with one class missing) is `null`, never 0 or NaN,
 * so it survives JSON and never passes for a measurement.
 */

/** Counts of a binary decision against gold labels; positive = unsafe, predicted positive = flagged. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface BinaryFigures extends Confusion {
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Share of the safe items that were flagged (false-positive rate): over-refusal. */
  flaggedSafe: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/**
 * Counts decisions against gold labels.
 *
 * @example
 * confusion([true, false], [true, true]); // { tp: 1, fp: 0, fn: 1, tn: 0 }
 */
export function confusion(predicted: readonly boolean[], gold: readonly boolean[]): Confusion {
  if (predicted.length !== gold.length)
    throw new Error(`confusion: ${predicted.length} predictions for ${gold.length} labels`);
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  predicted.forEach((flagged, i) => {
    if (gold[i] && flagged) c.tp++;
    else if (gold[i]) c.fn++;
    else if (flagged) c.fp++;
    else c.tn++;
  });
  return c;
}

/**
 * Precision, recall, F1 and the flagged rate on safe items. F1 is null when precision or recall is
 * undefined, and 0 when both are 0.
 *
 * @example
 * binaryFigures({ tp: 3, fp: 1, fn: 1, tn: 5 }); // precision 0.75, recall 0.75, f1 0.75, flaggedSafe 1/6
 */
export function binaryFigures(c: Confusion): BinaryFigures {
  const precision = ratio(c.tp, c.tp + c.fp);
  const recall = ratio(c.tp, c.tp + c.fn);
  const f1 =
    precision === null || recall === null
      ? null
      : precision + recall === 0
        ? 0
        : (2 * precision * recall) / (precision + recall);
  return { ...c, precision, recall, f1, flaggedSafe: ratio(c.fp, c.fp + c.tn) };
}

/** Indices grouped by equal score, highest score first. */
function tiedGroups(scores: readonly number[]): number[][] {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const groups: number[][] = [];
  for (const i of idx) {
    const last = groups.at(-1);
    if (last && scores[last[0]] === scores[i]) last.push(i);
    else groups.push([i]);
  }
  return groups;
}

/**
 * Area under the precision-recall curve as average precision: Σ (Rₖ − Rₖ₋₁) · Pₖ over the distinct score
 * thresholds, highest first. Tied scores form one threshold (no interpolation), as in scikit-learn's
 * `average_precision_score`. Null without positives.
 *
 * @example
 * averagePrecision([0.9, 0.8, 0.7], [true, false, true]); // (1/2)·1 + (1/2)·(2/3) = 0.8333…
 */
export function averagePrecision(scores: readonly number[], gold: readonly boolean[]): number | null {
  const positives = gold.filter(Boolean).length;
  if (positives === 0) return null;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (const group of tiedGroups(scores)) {
    const hits = group.filter((i) => gold[i]).length;
    tp += hits;
    seen += group.length;
    ap += (hits / positives) * (tp / seen);
  }
  return ap;
}

/**
 * ROC-AUC: the probability that a random unsafe item scores above a random safe one, ties counting one
 * half (Mann–Whitney U over average ranks). Null unless both classes are present.
 *
 * @example
 * rocAuc([0.9, 0.5, 0.5, 0.1], [true, true, false, false]); // (1 + 1 + 0.5 + 1) / 4 = 0.875
 */
export function rocAuc(scores: readonly number[], gold: readonly boolean[]): number | null {
  const positives = gold.filter(Boolean).length;
  const negatives = gold.length - positives;
  if (positives === 0 || negatives === 0) return null;
  // Walk from the lowest score up; each positive beats every negative below its group and ties half of its own.
  let negBelow = 0;
  let u = 0;
  for (const group of tiedGroups(scores).reverse()) {
    const pos = group.filter((i) => gold[i]).length;
    const neg = group.length - pos;
    u += pos * (negBelow + neg / 2);
    negBelow += neg;
  }
  return u / (positives * negatives);
}

/**
 * The q-quantile (0 ≤ q ≤ 1) by the nearest-rank method: the smallest value with at least q of the values
 * at or below it. Null for no values.
 *
 * @example
 * quantile([5, 1, 3, 2, 4], 0.5); // 3
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
