import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MicroBatcher } from '../../classifiers/encoder/batcher.js';
import { EncoderError } from '../../classifiers/encoder/errors.js';
import { planGroups } from '../../classifiers/encoder/grouping.js';
import { LruCache } from '../../classifiers/lru.js';

/** A runner that records each batch and answers after `delayMs`. */
function recordingRunner(delayMs = 5) {
  const batches: number[][] = [];
  const run = async (xs: number[]) => {
    batches.push(xs);
    await sleep(delayMs);
    return xs.map((x) => x * 2);
  };
  return { batches, run };
}

describe('MicroBatcher', () => {
  test('runs calls made within maxWaitMs as one batch', async () => {
    const { batches, run } = recordingRunner();
    const batcher = new MicroBatcher(run, { maxBatchSize: 8, maxWaitMs: 5 });
    const results = await Promise.all([1, 2, 3].map((x) => batcher.submit(x).promise));
    assert.deepEqual(results, [2, 4, 6]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('never exceeds maxBatchSize and sends what queued during a run right after it', async () => {
    const { batches, run } = recordingRunner(10);
    const batcher = new MicroBatcher(run, { maxBatchSize: 4, maxWaitMs: 1 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(i).promise));
    assert.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => i * 2),
    );
    assert.deepEqual(
      batches.map((b) => b.length),
      [4, 4, 2],
    );
    assert.deepEqual(batcher.stats(), { batches: 3, items: 10, largestBatch: 4, queued: 0 });
  });

  test('with maxWaitMs 0 still batches the calls made in the same tick', async () => {
    const { batches, run } = recordingRunner();
    const batcher = new MicroBatcher(run, { maxBatchSize: 8, maxWaitMs: 0 });
    await Promise.all([1, 2, 3].map((x) => batcher.submit(x).promise));
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('waits maxWaitMs for company only when calls arrive while a batch runs: one caller at a time pays no wait', async () => {
    const { batches, run } = recordingRunner(10);
    const batcher = new MicroBatcher(run, { maxBatchSize: 8, maxWaitMs: 40 });
    const timed = async (xs: number[]) => {
      const t0 = performance.now();
      await Promise.all(xs.map((x) => batcher.submit(x).promise));
      return performance.now() - t0;
    };
    // One caller at a time, even with several texts per call: none waits the 40 ms.
    for (const xs of [[1], [2, 3], [4]]) assert.ok((await timed(xs)) < 35, 'a lone call ran at once');
    // A call made while a batch runs is concurrent traffic: it runs right after, and the next lone call waits,
    // so a call made 10 ms later joins it.
    const first = batcher.submit(5).promise;
    await sleep(3);
    await Promise.all([first, batcher.submit(6).promise]);
    await sleep(5);
    const late = sleep(10).then(() => batcher.submit(8).promise);
    await Promise.all([batcher.submit(7).promise, late]);
    assert.deepEqual(batches.slice(3), [[5], [6], [7, 8]]);
  });

  test('drops a cancelled item from the queue and rejects it with the given reason', async () => {
    const { batches, run } = recordingRunner();
    const batcher = new MicroBatcher(run, { maxBatchSize: 8, maxWaitMs: 5 });
    const kept = batcher.submit(1);
    const dropped = batcher.submit(2);
    dropped.cancel(new EncoderError('TIMEOUT'));
    await assert.rejects(dropped.promise, { code: 'TIMEOUT' });
    assert.equal(await kept.promise, 2);
    assert.deepEqual(batches, [[1]]);
  });

  test('rejects with OVERLOADED once maxQueue items wait', async () => {
    const { run } = recordingRunner();
    const batcher = new MicroBatcher(run, { maxBatchSize: 2, maxWaitMs: 50, maxQueue: 1 });
    const first = batcher.submit(1);
    await assert.rejects(batcher.submit(2).promise, { code: 'OVERLOADED' });
    assert.equal(await first.promise, 2);
  });

  test('rejects every item of a failed batch with the runner error', async () => {
    const batcher = new MicroBatcher<number, number>(async () => Promise.reject(new Error('boom')), { maxWaitMs: 1 });
    const results = await Promise.allSettled([batcher.submit(1).promise, batcher.submit(2).promise]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  test('rejects a batch whose runner returns the wrong number of outputs', async () => {
    const batcher = new MicroBatcher<number, number>(async () => [1], { maxWaitMs: 1 });
    const results = await Promise.allSettled([batcher.submit(1).promise, batcher.submit(2).promise]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });

  test('fails queued items with CLOSED on close and refuses new ones', async () => {
    const { run } = recordingRunner();
    const batcher = new MicroBatcher(run, { maxWaitMs: 50 });
    const queued = batcher.submit(1);
    batcher.close();
    await assert.rejects(queued.promise, { code: 'CLOSED' });
    await assert.rejects(batcher.submit(2).promise, { code: 'CLOSED' });
  });

  test('throws at construction on a nonsensical configuration', () => {
    assert.throws(() => new MicroBatcher(async (x: number[]) => x, { maxBatchSize: 0 }));
    assert.throws(() => new MicroBatcher(async (x: number[]) => x, { maxWaitMs: -1 }));
  });
});

describe('LruCache', () => {
  test('evicts the least recently used entry', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    assert.equal(cache.get('a'), 1);
    cache.set('c', 3);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), 1);
    assert.equal(cache.get('c'), 3);
    assert.deepEqual({ hits: cache.hits, misses: cache.misses, size: cache.size }, { hits: 3, misses: 1, size: 2 });
  });

  test('stores nothing with capacity 0', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    assert.equal(cache.get('a'), undefined);
  });
});

describe('planGroups', () => {
  test('keeps texts of similar length in one padded batch', () => {
    assert.deepEqual(planGroups([20, 18, 22, 19]), [[1, 3, 0, 2]]);
  });

  test('runs a long text apart from many short ones', () => {
    const lengths = [...Array.from({ length: 31 }, () => 20), 128];
    const groups = planGroups(lengths);
    assert.equal(groups.length, 2);
    assert.deepEqual(groups[1], [31]);
  });

  test('caps a run at maxSlots token-slots, and still runs a text longer than the cap alone', () => {
    const groups = planGroups(
      Array.from({ length: 10 }, () => 128),
      64,
      512,
    );
    assert.deepEqual(
      groups.map((g) => g.length),
      [2, 4, 4],
    );
    assert.deepEqual(planGroups([600], 64, 512), [[0]]);
  });

  test('covers every index exactly once, including for empty texts and an empty batch', () => {
    const lengths = [0, 5, 128, 0, 64, 3, 100, 128];
    assert.deepEqual(
      planGroups(lengths)
        .flat()
        .sort((a, b) => a - b),
      lengths.map((_, i) => i),
    );
    assert.deepEqual(planGroups([]), []);
  });
});
