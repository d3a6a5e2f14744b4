/**
 * Binary classification metrics over scores. Small enough to own: ROC-AUC by ranks (ties averaged),
 * average precision (the step-wise area under the precision-recall curve), and counts at a threshold.
 */

/** ROC-AUC; NaN when one class is missing. */
export function rocAuc(score: ArrayLike<number>, y: ArrayLike<number>): number {
  const idx = Array.from({ length: score.length }, (_, i) => i).sort((i, j) => score[i] - score[j]);
  let pos = 0;
  let rankSum = 0;
  for (let k = 0; k < idx.length;) {
    let end = k;
    while (end + 1 < idx.length && score[idx[end + 1]] === score[idx[k]]) end++;
    const rank = (k + end) / 2 + 1;
    for (let q = k; q <= end; q++) {
      if (y[idx[q]] !== 1) continue;
      pos++;
      rankSum += rank;
    }
    k = end + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Average precision (area under the precision-recall curve); NaN without positives. */
export function averagePrecision(score: ArrayLike<number>, y: ArrayLike<number>): number {
  const idx = Array.from({ length: score.length }, (_, i) => i).sort((i, j) => score[j] - score[i]);
  let pos = 0;
  for (let i = 0; i < y.length; i++) if (y[i] === 1) pos++;
  if (pos === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let k = 0; k < idx.length;) {
    let end = k;
    while (end + 1 < idx.length && score[idx[end + 1]] === score[idx[k]]) end++;
    let groupTp = 0;
    for (let q = k; q <= end; q++) if (y[idx[q]] === 1) groupTp++;
    tp += groupTp;
    seen += end - k + 1;
    ap += (groupTp / pos) * (tp / seen);
    k = end + 1;
  }
  return ap;
}

export interface Counts {
  n: number;
  positives: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of the safe (negative) items that were flagged: the over-refusal rate. */
  flaggedSafe: number;
}

/** Precision, recall, F1 and the flagged rate on negatives, at `score >= threshold`. */
export function countsAt(score: ArrayLike<number>, y: ArrayLike<number>, threshold: number): Counts {
  let tp = 0;
  let fp = 0;
  let pos = 0;
  for (let i = 0; i < score.length; i++) {
    const flagged = score[i] >= threshold;
    if (y[i] === 1) {
      pos++;
      if (flagged) tp++;
    } else if (flagged) fp++;
  }
  const neg = score.length - pos;
  const precision = tp + fp ? tp / (tp + fp) : NaN;
  const recall = pos ? tp / pos : NaN;
  return {
    n: score.length,
    positives: pos,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : NaN,
    flaggedSafe: neg ? fp / neg : NaN,
  };
}
