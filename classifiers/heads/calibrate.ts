/**
 * Calibration and threshold choice, both fitted on a validation split (never on the data that is reported).
 */
import { sigmoid, type Platt } from './linear.js';

/**
 * Fits Platt scaling `p = σ(a·z + c)` to raw logits by Newton's method on the weighted log loss, with
 * Platt's smoothed targets so a separable validation set does not push `a` to infinity.
 * @example
 * const platt = fitPlatt(valLogits, valLabels, valWeights); // { a: 0.8, c: -0.3 }
 */
export function fitPlatt(z: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): Platt {
  const n = z.length;
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < n; i++) (y[i] === 1 ? (pos += w?.[i] ?? 1) : (neg += w?.[i] ?? 1));
  if (pos === 0 || neg === 0) throw new Error('Platt scaling needs both classes');
  // Platt (1999): targets (N+ + 1)/(N+ + 2) and 1/(N- + 2).
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (neg + 2);
  let a = 1;
  let c = 0;
  for (let iter = 0; iter < 100; iter++) {
    let ga = 0;
    let gc = 0;
    let haa = 1e-9;
    let hac = 0;
    let hcc = 1e-9;
    for (let i = 0; i < n; i++) {
      const wi = w?.[i] ?? 1;
      const t = y[i] === 1 ? hi : lo;
      const p = sigmoid(a * z[i] + c);
      const d = (p - t) * wi;
      const s = p * (1 - p) * wi;
      ga += d * z[i];
      gc += d;
      haa += s * z[i] * z[i];
      hac += s * z[i];
      hcc += s;
    }
    const det = haa * hcc - hac * hac;
    if (!(Math.abs(det) > 0)) break;
    const da = (hcc * ga - hac * gc) / det;
    const dc = (haa * gc - hac * ga) / det;
    a -= da;
    c -= dc;
    if (Math.abs(da) < 1e-10 && Math.abs(dc) < 1e-10) break;
  }
  return { a, c };
}

/**
 * The threshold on calibrated probabilities that maximises weighted TPR − FPR (Youden's J): a missed
 * positive and a false alarm count the same, which is what "over-refusal matters as much as recall" means
 * once each source carries equal weight.
 */
export function chooseThreshold(p: ArrayLike<number>, y: ArrayLike<number>, w?: ArrayLike<number>): number {
  const idx = Array.from({ length: p.length }, (_, i) => i).sort((i, j) => p[j] - p[i]);
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < p.length; i++) (y[i] === 1 ? (pos += w?.[i] ?? 1) : (neg += w?.[i] ?? 1));
  if (pos === 0 || neg === 0) throw new Error('a threshold needs both classes');
  let tp = 0;
  let fp = 0;
  let best = -Infinity;
  let threshold = 0.5;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    if (y[i] === 1) tp += w?.[i] ?? 1;
    else fp += w?.[i] ?? 1;
    if (k + 1 < idx.length && p[idx[k + 1]] === p[i]) continue; // ties go together
    const j = tp / pos - fp / neg;
    if (j > best) {
      best = j;
      const next = k + 1 < idx.length ? p[idx[k + 1]] : 0;
      threshold = (p[i] + next) / 2; // midway to the next lower score
    }
  }
  return threshold;
}
