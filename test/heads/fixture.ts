import { rng, type TrainSet } from '../../classifiers/heads/train.js';

/** Two Gaussian blobs in 8 dimensions, 2 labels (the second one partly unknown), from a seeded PRNG. */
export function fixture(seed = 3, n = 200, dim = 8): TrainSet {
  const random = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const x = new Float32Array(n * dim);
  const y = new Float32Array(n * 2);
  for (let r = 0; r < n; r++) {
    const cls = r % 2;
    for (let i = 0; i < dim; i++) x[r * dim + i] = gauss() * 0.3 + (i < 3 ? (cls ? 1 : -1) : 0);
    y[r * 2] = cls;
    y[r * 2 + 1] = r % 5 === 0 ? NaN : x[r * dim + 3] > 0 ? 1 : 0;
  }
  return { x, dim, y, weight: new Float32Array(n).fill(1), labels: ['a', 'b'] };
}
