/**
 * Weighted, L2-regularised logistic regression for one or more labels at once, trained with Adam on
 * shuffled mini-batches. Deterministic for a given seed: the only randomness is the shuffle order.
 * Features are standardised internally and the scaling is folded back into the returned weights, so the
 * head stays a single `x · Wᵀ + b`.
 */
import type { LinearHead } from './linear.js';

/** A small seeded PRNG (mulberry32); the same seed gives the same sequence on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TrainSet {
  /** Row-major `[n, dim]`. */
  x: Float32Array;
  dim: number;
  /** Row-major `[n, labels]` targets: 1, 0, or NaN for "unknown" (masked out of the loss). */
  y: Float32Array;
  /** One weight per row. */
  weight: Float32Array;
  labels: readonly string[];
}

export interface TrainOptions {
  seed?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** L2 penalty on the (standardised) weights, per unit of total sample weight. */
  l2?: number;
}

/**
 * Fits the head; returns weights in the original feature space.
 * @example
 * const head = trainLogistic({ x, dim: 512, y, weight, labels: ['unsafe'] }, { seed: 7 });
 */
export function trainLogistic(
  set: TrainSet,
  { seed = 1, epochs = 40, batchSize = 128, learningRate = 0.01, l2 = 1e-3 }: TrainOptions = {},
): LinearHead {
  const { x, dim, y, weight, labels } = set;
  const k = labels.length;
  const n = weight.length;
  if (x.length !== n * dim || y.length !== n * k)
    throw new Error(`train set shapes disagree: ${n} rows, x ${x.length}, y ${y.length}`);
  if (n === 0) throw new Error('empty train set');

  // Standardise: z = (x - mean) / std.
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) mean[i] += x[r * dim + i] / n;
  for (let r = 0; r < n; r++) for (let i = 0; i < dim; i++) std[i] += (x[r * dim + i] - mean[i]) ** 2 / n;
  for (let i = 0; i < dim; i++) std[i] = Math.sqrt(std[i]) || 1;

  // Per label, positives and negatives get equal total weight, so rare labels are not ignored.
  const classScale = new Float64Array(2 * k);
  for (let j = 0; j < k; j++) {
    let pos = 0;
    let neg = 0;
    for (let r = 0; r < n; r++) {
      const t = y[r * k + j];
      if (t === 1) pos += weight[r];
      else if (t === 0) neg += weight[r];
    }
    if (pos === 0 || neg === 0)
      throw new Error(`label ${labels[j]} has no ${pos === 0 ? 'positive' : 'negative'} examples`);
    classScale[2 * j] = (pos + neg) / (2 * neg);
    classScale[2 * j + 1] = (pos + neg) / (2 * pos);
  }
  let totalWeight = 0;
  for (let r = 0; r < n; r++) totalWeight += weight[r];

  const p = (dim + 1) * k; // per label: dim weights, then the bias
  const theta = new Float64Array(p);
  const m = new Float64Array(p);
  const v = new Float64Array(p);
  const grad = new Float64Array(p);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const random = rng(seed);
  const zrow = new Float64Array(dim);
  let step = 0;
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];

  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const lr = learningRate * (0.5 + 0.5 * Math.cos((Math.PI * epoch) / epochs));
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      grad.fill(0);
      let batchWeight = 0;
      for (let b = start; b < end; b++) {
        const r = order[b];
        batchWeight += weight[r];
        for (let i = 0; i < dim; i++) zrow[i] = (x[r * dim + i] - mean[i]) / std[i];
        for (let j = 0; j < k; j++) {
          const t = y[r * k + j];
          if (Number.isNaN(t)) continue;
          const off = j * (dim + 1);
          let s = theta[off + dim];
          for (let i = 0; i < dim; i++) s += theta[off + i] * zrow[i];
          const pr = s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s));
          const g = (pr - t) * weight[r] * classScale[2 * j + t];
          for (let i = 0; i < dim; i++) grad[off + i] += g * zrow[i];
          grad[off + dim] += g;
        }
      }
      if (batchWeight === 0) continue;
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      for (let q = 0; q < p; q++) {
        const isBias = q % (dim + 1) === dim;
        const g = grad[q] / batchWeight + (isBias ? 0 : (l2 * theta[q] * n) / totalWeight);
        m[q] = beta1 * m[q] + (1 - beta1) * g;
        v[q] = beta2 * v[q] + (1 - beta2) * g * g;
        theta[q] -= (lr * (m[q] / c1)) / (Math.sqrt(v[q] / c2) + eps);
      }
    }
  }

  // Fold the standardisation back: w·(x-μ)/σ + b = (w/σ)·x + (b - Σ wμ/σ).
  const weights = new Float32Array(k * dim);
  const bias = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    const off = j * (dim + 1);
    let b = theta[off + dim];
    for (let i = 0; i < dim; i++) {
      const w = theta[off + i] / std[i];
      weights[j * dim + i] = w;
      b -= w * mean[i];
    }
    bias[j] = b;
  }
  return { dim, labels: [...labels], weights, bias };
}
