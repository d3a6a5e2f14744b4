import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { pairFeatures, probabilities, logits } from '../../classifiers/heads/linear.js';
import { exportHead } from '../../classifiers/heads/export-head.js';
import { readHead } from '../../classifiers/heads/read-head.js';
import { rng, trainLogistic } from '../../classifiers/heads/train.js';
import { fixture } from './fixture.js';

test('an exported head gives the same logits and probabilities in onnxruntime as in TypeScript (within 1e-5)', async () => {
  const set = fixture();
  const head = trainLogistic(set, { seed: 2, epochs: 5 });
  const platt = [
    { a: 0.7, c: -0.2 },
    { a: 1.3, c: 0.4 },
  ];
  const bytes = exportHead('fixture', head, platt);
  const session = await ort.InferenceSession.create(bytes);
  const n = 50;
  const input = new ort.Tensor('float32', set.x.slice(0, n * set.dim), [n, set.dim]);
  const out = await session.run({ features: input });
  const z = out.logits.data as Float32Array;
  const p = out.probabilities.data as Float32Array;
  assert.deepEqual(out.probabilities.dims, [n, 2]);
  for (let r = 0; r < n; r++) {
    const x = set.x.subarray(r * set.dim, (r + 1) * set.dim);
    const tz = logits(head, x);
    const tp = probabilities(head, platt, x);
    for (let j = 0; j < 2; j++) {
      assert.ok(Math.abs(tz[j] - z[r * 2 + j]) < 1e-5, `logit ${r},${j}: ${tz[j]} vs ${z[r * 2 + j]}`);
      assert.ok(Math.abs(tp[j] - p[r * 2 + j]) < 1e-5, `probability ${r},${j}: ${tp[j]} vs ${p[r * 2 + j]}`);
    }
  }
  await session.release();
});

test('readHead returns exactly what exportHead wrote', () => {
  const head = trainLogistic(fixture(), { seed: 2, epochs: 2 });
  const back = readHead(
    exportHead('fixture', head, [
      { a: 1, c: 0 },
      { a: 2, c: -1 },
    ]),
  );
  assert.equal(back.name, 'fixture');
  assert.deepEqual(back.head.labels, ['a', 'b']);
  assert.deepEqual(back.head.weights, head.weights);
  assert.deepEqual(back.head.bias, head.bias);
  assert.deepEqual(back.platt, [
    { a: 1, c: 0 },
    { a: 2, c: -1 },
  ]);
});

test('readHead rejects an ONNX model that is not a head', () => {
  const bytes = exportHead('x', { dim: 2, labels: ['l'], weights: new Float32Array(2), bias: new Float32Array(1) }, [
    { a: 1, c: 0 },
  ]);
  const tampered = Buffer.from(bytes).toString('latin1').replace('rbrm-linear-head/1', 'some-other-model/1');
  assert.throws(() => readHead(Buffer.from(tampered, 'latin1')), /not a head model/);
});

test('pair features are [p, r, p⊙r]', () => {
  const random = rng(1);
  const p = Float32Array.from({ length: 4 }, random);
  const r = Float32Array.from({ length: 4 }, random);
  const f = pairFeatures(p, r);
  assert.equal(f.length, 12);
  assert.deepEqual(f.subarray(0, 4), p);
  assert.deepEqual(f.subarray(4, 8), r);
  assert.equal(f[9], Math.fround(p[1] * r[1]));
});
