/**
 * Calibration and threshold choice, both fitted on a validation split (never on the data that is reported).
 */
import { sigmoid, type Platt } from './linear.js';

/**
 * Fits Platt scaling `p = σ(a·z + c)` to raw logits by Newton's method with backtracking on the weighted
 * log loss, with Platt's smoothed targets (from the counts, not the weights) so a separable validation set
 * does not push `a` to infinity.
 * @example
 * const platt = fitPlatt(valLogits, valLabels, valWeights); // { a: 0.8, c: -0.3 }
 */
export function fitPlatt(z: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): Platt {
  const n = z.length;
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < n; i++) {
    if ((w?.[i] ?? 1) <= 0) continue;
    if (y[i] === 1) pos++;
    else neg++;
  }
  if (pos === 0 || neg === 0) throw new Error('Platt scaling needs both classes');
  // Platt (1999): targets (N+ + 1)/(N+ + 2) and 1/(N- + 2).
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (neg + 2);
  const target = (i: number) => (y[i] === 1 ? hi : lo);
  const loss = (a: number, c: number) => {
    let l = 0;
    for (let i = 0; i < n; i++) {
      const s = a * z[i] + c;
      const t = target(i);
      // log(1 + e^s) - t·s, computed stably
      l += (w?.[i] ?? 1) * ((s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - t * s);
    }
    return l;
  };
  let a = 0;
  let c = 0;
  let current = loss(a, c);
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gc = 0;
    let haa = 1e-12;
    let hac = 0;
    let hcc = 1e-12;
    for (let i = 0; i < n; i++) {
      const wi = w?.[i] ?? 1;
      const p = sigmoid(a * z[i] + c);
      const d = (p - target(i)) * wi;
      const s = p * (1 - p) * wi;
      ga += d * z[i];
      gc += d;
      haa += s * z[i] * z[i];
      hac += s * z[i];
      hcc += s;
    }
    const det = haa * hcc - hac * hac;
    if (!(det > 0)) break;
    const da = (hcc * ga - hac * gc) / det;
    const dc = (haa * gc - hac * ga) / det;
    // Backtracking line search (as in Lin, Lin & Weng's note on Platt scaling): Newton steps can overshoot.
    let step = 1;
    let next = loss(a - da, c - dc);
    while (next > current + 1e-4 * step * (da * ga + dc * gc) * -1 && step > 1e-8) {
      step /= 2;
      next = loss(a - step * da, c - step * dc);
    }
    if (step <= 1e-8) break;
    a -= step * da;
    c -= step * dc;
    const improved = current - next;
    current = next;
    if (Math.abs(step * da) < 1e-9 && Math.abs(step * dc) < 1e-9) break;
    if (improved < 1e-12 * Math.max(1, Math.abs(current))) break;
  }
  return { a, c };
}

/**
 * The threshold on calibrated probabilities that maximises TPR − FPR on weighted data (Youden's J), where a
 * missed positive and a false alarm count the same. With `groups` (a source index per item, −1 for none),
 * FPR is the mean of the weighted FPR and the worst single group's FPR, so one benign source that the head
 * flags heavily (over-refusal on look-alikes) moves the threshold even when the pooled rate looks fine.
 * Groups with fewer than `minGroup` negatives do not count towards the worst.
 * @example
 * const t = chooseThreshold(valProbabilities, valLabels, valWeights, valSourceIndex);
 */
export function chooseThreshold(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  w?: ArrayLike<number>,
  groups?: ArrayLike<number>,
  minGroup = 20,
): number {
  const idx = Array.from({ length: p.length }, (_, i) => i).sort((i, j) => p[j] - p[i]);
  let pos = 0;
  let neg = 0;
  const groupNeg = new Map<number, number>();
  for (let i = 0; i < p.length; i++) {
    if (y[i] === 1) pos += w?.[i] ?? 1;
    else {
      neg += w?.[i] ?? 1;
      const g = groups?.[i] ?? -1;
      if (g >= 0) groupNeg.set(g, (groupNeg.get(g) ?? 0) + 1);
    }
  }
  if (pos === 0 || neg === 0) throw new Error('a threshold needs both classes');
  const groupFp = new Map<number, number>();
  let worst = 0;
  let tp = 0;
  let fp = 0;
  let best = -Infinity;
  let threshold = 0.5;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    if (y[i] === 1) tp += w?.[i] ?? 1;
    else {
      fp += w?.[i] ?? 1;
      const g = groups?.[i] ?? -1;
      const n = groupNeg.get(g) ?? 0;
      if (g >= 0 && n >= minGroup) {
        const f = (groupFp.get(g) ?? 0) + 1;
        groupFp.set(g, f);
        worst = Math.max(worst, f / n);
      }
    }
    if (k + 1 < idx.length && p[idx[k + 1]] === p[i]) continue; // ties go together
    const fpr = groups ? (fp / neg + worst) / 2 : fp / neg;
    const j = tp / pos - fpr;
    if (j > best) {
      best = j;
      const next = k + 1 < idx.length ? p[idx[k + 1]] : 0;
      threshold = (p[i] + next) / 2; // midway to the next lower score
    }
  }
  return threshold;
}
