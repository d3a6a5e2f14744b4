import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averagePrecision, binaryFigures, confusion, quantile, rocAuc } from '../../scripts/eval/metrics.js';

const close = (actual: number | null, expected: number) => {
  assert.notEqual(actual, null);
  assert.ok(Math.abs(actual! - expected) < 1e-12, `${actual} ≠ ${expected}`);
};
const T = true;
const F = false;

describe('precision, recall, F1 and the flagged rate on safe items', () => {
  it('counts each decision against its gold label', () => {
    assert.deepEqual(confusion([T, T, F, F, T], [T, F, T, F, T]), { tp: 2, fp: 1, fn: 1, tn: 1 });
  });

  it('computes the figures of an ordinary confusion', () => {
    const f = binaryFigures({ tp: 3, fp: 1, fn: 1, tn: 5 });
    assert.equal(f.precision, 0.75);
    assert.equal(f.recall, 0.75);
    close(f.f1, 0.75);
    close(f.flaggedSafe, 1 / 6);
  });

  it('leaves recall and F1 undefined (null) with zero positives, and still reports over-refusal', () => {
    assert.deepEqual(binaryFigures({ tp: 0, fp: 0, fn: 0, tn: 4 }), {
      tp: 0,
      fp: 0,
      fn: 0,
      tn: 4,
      precision: null,
      recall: null,
      f1: null,
      flaggedSafe: 0,
    });
    const flagged = binaryFigures({ tp: 0, fp: 2, fn: 0, tn: 2 });
    assert.equal(flagged.precision, 0);
    assert.equal(flagged.recall, null);
    assert.equal(flagged.f1, null);
    assert.equal(flagged.flaggedSafe, 0.5);
  });

  it('leaves precision undefined when nothing is flagged, and the flagged rate undefined without safe items', () => {
    const f = binaryFigures({ tp: 0, fp: 0, fn: 3, tn: 0 });
    assert.equal(f.precision, null);
    assert.equal(f.recall, 0);
    assert.equal(f.f1, null);
    assert.equal(f.flaggedSafe, null);
  });

  it('gives F1 0 when precision and recall are both 0', () => {
    assert.equal(binaryFigures({ tp: 0, fp: 1, fn: 2, tn: 0 }).f1, 0);
  });

  it('refuses predictions and labels of different lengths', () => {
    assert.throws(() => confusion([T], [T, F]), /1 predictions for 2 labels/);
  });
});

describe('AUPRC (average precision)', () => {
  it('sums precision at each positive over distinct scores', () => {
    close(averagePrecision([0.9, 0.8, 0.7], [T, F, T]), 1 / 2 + (1 / 2) * (2 / 3));
  });

  it('is 1 for a perfect ranking, whatever the scores', () => {
    close(averagePrecision([0.3, 0.2, 0.1, 0], [T, T, F, F]), 1);
  });

  it('treats tied scores as one threshold, with no optimistic order inside the tie', () => {
    close(averagePrecision([0.5, 0.5, 0.5, 0.1], [T, F, T, F]), 1 * (2 / 3));
    // 0.9: no positive; 0.5 pair: recall ½ at precision ⅓; 0.1: recall ½ more at precision 2/4.
    close(averagePrecision([0.9, 0.5, 0.5, 0.1], [F, T, F, T]), (1 / 2) * (1 / 3) + (1 / 2) * (2 / 4));
  });

  it('is the share of positives when every score ties (a constant score ranks nothing)', () => {
    close(averagePrecision([1, 1, 1, 1], [T, F, F, F]), 0.25);
  });

  it('is undefined without positives and does not depend on input order', () => {
    assert.equal(averagePrecision([0.2, 0.1], [F, F]), null);
    close(averagePrecision([0.7, 0.9, 0.8], [T, T, F]), averagePrecision([0.9, 0.8, 0.7], [T, F, T])!);
  });
});

describe('ROC-AUC', () => {
  it('counts a tie between an unsafe and a safe item as one half', () => {
    close(rocAuc([0.9, 0.5, 0.5, 0.1], [T, T, F, F]), (1 + 1 + 0.5 + 1) / 4);
    // positives 0.8, 0.6, 0.6 against negatives 0.6, 0.2: 2 + 1.5 + 1.5 of 6 pairs.
    close(rocAuc([0.8, 0.6, 0.6, 0.6, 0.2], [T, F, T, T, F]), 5 / 6);
  });

  it('is 0.5 when every score ties, 1 for a perfect ranking and 0 for a reversed one', () => {
    close(rocAuc([0.4, 0.4, 0.4], [T, F, T]), 0.5);
    close(rocAuc([0.9, 0.8, 0.1], [T, T, F]), 1);
    close(rocAuc([0.1, 0.2, 0.9], [T, T, F]), 0);
  });

  it('is undefined with one class only', () => {
    assert.equal(rocAuc([0.1, 0.9], [T, T]), null);
    assert.equal(rocAuc([0.1, 0.9], [F, F]), null);
    assert.equal(rocAuc([], []), null);
  });
});

describe('latency quantiles (nearest rank)', () => {
  it('takes the smallest value with at least q of the values at or below it', () => {
    assert.equal(quantile([5, 1, 3, 2, 4], 0.5), 3);
    assert.equal(quantile([5, 1, 3, 2, 4], 0.99), 5);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(hundred, 0.5), 50);
    assert.equal(quantile(hundred, 0.99), 99);
    assert.equal(quantile([7], 0.99), 7);
    assert.equal(quantile([], 0.5), null);
  });
});
