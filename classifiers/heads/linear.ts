/**
 * A linear head over sentence embeddings: `logits = x · Wᵀ + b`, one row of `W` per label, then a per-label
 * Platt scaling `p = σ(a·logit + c)`. This is the whole runtime model; the ONNX export holds the same numbers.
 */

/** Platt scaling parameters: `p = σ(a·z + c)` for a raw logit `z`. */
export interface Platt {
  a: number;
  c: number;
}

export interface LinearHead {
  /** Input width (512 for one embedding, 1536 for the prompt/response features). */
  dim: number;
  labels: readonly string[];
  /** Row-major `[labels.length, dim]`. */
  weights: Float32Array;
  /** One bias per label. */
  bias: Float32Array;
}

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/**
 * Raw logits for one input vector.
 * @example
 * const [z] = logits(head, embedding); // one logit per label
 */
export function logits(head: LinearHead, x: ArrayLike<number>): Float64Array {
  if (x.length !== head.dim) throw new Error(`head expects ${head.dim} inputs, got ${x.length}`);
  const k = head.labels.length;
  const out = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = head.bias[j];
    const row = j * head.dim;
    for (let i = 0; i < head.dim; i++) s += head.weights[row + i] * x[i];
    out[j] = s;
  }
  return out;
}

/** Calibrated probabilities for one input vector (the Platt parameters are in label order). */
export function probabilities(head: LinearHead, platt: readonly Platt[], x: ArrayLike<number>): Float64Array {
  const z = logits(head, x);
  return z.map((v, j) => sigmoid(platt[j].a * v + platt[j].c));
}

/**
 * The prompt/response features the refusal head reads: `[p, r, p ⊙ r]` (1536 values), so the head can
 * weigh the response against what was asked.
 */
export function pairFeatures(prompt: Float32Array, response: Float32Array): Float32Array {
  const d = prompt.length;
  const out = new Float32Array(3 * d);
  out.set(prompt, 0);
  out.set(response, d);
  for (let i = 0; i < d; i++) out[2 * d + i] = prompt[i] * response[i];
  return out;
}
