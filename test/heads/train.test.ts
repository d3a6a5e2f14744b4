import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseThreshold, fitPlatt } from '../../classifiers/heads/calibrate.js';
import { logits, sigmoid } from '../../classifiers/heads/linear.js';
import { averagePrecision, countsAt, rocAuc } from '../../classifiers/heads/metrics.js';
import { rng, trainLogistic } from '../../classifiers/heads/train.js';
import { fixture } from './fixture.js';

describe('trainLogistic', () => {
  test('gives byte-identical weights for the same seed and data', () => {
    const one = trainLogistic(fixture(), { seed: 5, epochs: 10 });
    const two = trainLogistic(fixture(), { seed: 5, epochs: 10 });
    assert.deepEqual(Buffer.from(one.weights.buffer), Buffer.from(two.weights.buffer));
    assert.deepEqual(Buffer.from(one.bias.buffer), Buffer.from(two.bias.buffer));
  });

  test('a different shuffle seed gives different (but equally good) weights', () => {
    const one = trainLogistic(fixture(), { seed: 5, epochs: 10 });
    const two = trainLogistic(fixture(), { seed: 6, epochs: 10 });
    assert.notDeepEqual(Buffer.from(one.weights.buffer), Buffer.from(two.weights.buffer));
  });

  test('separates the blobs and learns the second label despite unknown targets', () => {
    const set = fixture();
    const head = trainLogistic(set, { seed: 1, epochs: 30, batchSize: 16 });
    const held = fixture(99);
    const za: number[] = [];
    const zb: number[] = [];
    const ya: number[] = [];
    const yb: number[] = [];
    for (let r = 0; r < 200; r++) {
      const z = logits(head, held.x.subarray(r * 8, (r + 1) * 8));
      za.push(z[0]);
      ya.push(held.y[r * 2]);
      if (!Number.isNaN(held.y[r * 2 + 1])) {
        zb.push(z[1]);
        yb.push(held.y[r * 2 + 1]);
      }
    }
    assert.ok(rocAuc(za, ya) > 0.99, `AUC a ${rocAuc(za, ya)}`);
    assert.ok(rocAuc(zb, yb) > 0.9, `AUC b ${rocAuc(zb, yb)}`);
  });

  test('refuses a label with no positive examples', () => {
    const set = fixture();
    for (let r = 0; r < 200; r++) set.y[r * 2] = 0;
    assert.throws(() => trainLogistic(set), /label a has no positive examples/);
  });
});

describe('calibration and thresholds', () => {
  test('Platt scaling recovers the slope and offset of a logistic source', () => {
    const random = rng(11);
    const z: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const v = random() * 8 - 4;
      z.push(v);
      y.push(random() < sigmoid(2 * v - 1) ? 1 : 0);
    }
    const { a, c } = fitPlatt(z, y);
    assert.ok(Math.abs(a - 2) < 0.15 && Math.abs(c + 1) < 0.1, `a ${a}, c ${c}`);
  });

  test('the threshold separates perfectly separable scores', () => {
    const t = chooseThreshold([0.9, 0.8, 0.3, 0.2], [1, 1, 0, 0]);
    assert.ok(t > 0.3 && t < 0.8, `threshold ${t}`);
  });
});

describe('metrics', () => {
  test('ROC-AUC, average precision and counts on a hand-checked example', () => {
    const s = [0.9, 0.8, 0.7, 0.6, 0.5];
    const y = [1, 0, 1, 0, 0];
    assert.equal(rocAuc(s, y), 5 / 6);
    assert.equal(averagePrecision(s, y), (1 + 2 / 3) / 2);
    const c = countsAt(s, y, 0.65);
    assert.deepEqual([c.precision, c.recall, c.flaggedSafe], [2 / 3, 1, 1 / 3]);
    assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
  });
});
