import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Encoder, EncoderError, Tokenizer, loadVocabulary } from '../../classifiers/encoder/index.js';
import { cosine } from './reference.js';

const LONG = 'The committee reviewed the proposal in detail and raised several concerns. '.repeat(20);

describe('Encoder', () => {
  let encoder: Encoder;

  before(async () => {
    encoder = await Encoder.create({ maxBatchSize: 16, maxWaitMs: 5, precision: 'fp32' });
  });
  after(() => encoder?.close());

  test('returns one normalised 512-d vector per text, in order, with duplicates answered once', async () => {
    const vectors = await encoder.embed(['alpha', 'beta', 'alpha']);
    assert.equal(vectors.length, 3);
    for (const v of vectors) assert.equal(v.length, 512);
    assert.deepEqual(vectors[0], vectors[2]);
    assert.notDeepEqual(vectors[0], vectors[1]);
    assert.deepEqual(await encoder.embed([]), []);
  });

  test('serves a repeated text from the cache, as a copy the caller may modify', async () => {
    const [first] = await encoder.embed(['cache me']);
    const hitsBefore = encoder.stats().cache.hits;
    first.fill(0);
    const [second] = await encoder.embed(['cache me']);
    assert.equal(encoder.stats().cache.hits, hitsBefore + 1);
    assert.ok(Math.abs(Math.hypot(...second) - 1) < 1e-5);
  });

  test('batches concurrent single-text calls together', async () => {
    const before = encoder.stats().batcher;
    const texts = Array.from({ length: 40 }, (_, i) => `concurrent call number ${i}`);
    await Promise.all(texts.map((t) => encoder.embed([t])));
    const after = encoder.stats().batcher;
    assert.equal(after.items - before.items, 40);
    assert.ok(after.batches - before.batches <= 4, `40 calls ran in ${after.batches - before.batches} batches`);
  });

  test('rejects with ABORTED when the caller aborts, before or during the call', async () => {
    await assert.rejects(encoder.embed(['x'], AbortSignal.abort()), { name: 'EncoderError', code: 'ABORTED' });
    const controller = new AbortController();
    const call = encoder.embed([`${LONG} abort`], controller.signal);
    controller.abort();
    await assert.rejects(call, { code: 'ABORTED' });
  });

  test('rejects with TIMEOUT past the per-call timeout, and keeps serving afterwards', async () => {
    const hurried = await Encoder.create({ timeoutMs: 1, cacheSize: 0 });
    try {
      const texts = Array.from({ length: 32 }, (_, i) => `${LONG} ${i}`);
      await assert.rejects(
        hurried.embed(texts),
        (error: unknown) => error instanceof EncoderError && error.code === 'TIMEOUT',
      );
    } finally {
      await hurried.close();
    }
    assert.equal((await encoder.embed(['still fine'])).length, 1);
  });

  test('runs a text once for embed and embedChunks alike: the cache is keyed by the token ids', async () => {
    const text = 'shared between the heads and the grader';
    const before = encoder.stats().batcher.items;
    const [windows, [vector]] = [await encoder.embedChunks(text, { maxChunks: 4 }), await encoder.embed([text])];
    assert.equal(encoder.stats().batcher.items - before, 1);
    assert.deepEqual(windows[0], vector);
    // Past the 128th token nothing is read, so two texts that differ only there share one vector.
    const [a, b] = [`${LONG} first ending`, `${LONG} second ending`];
    const [va, vb] = await encoder.embed([a, b]);
    assert.deepEqual(va, vb);
  });

  test('joins concurrent calls for the same text to one run, and one caller giving up does not fail the rest', async () => {
    const text = 'a text asked for by three callers at once';
    const before = encoder.stats().batcher.items;
    const controller = new AbortController();
    const calls = [encoder.embed([text], controller.signal), encoder.embed([text]), encoder.embedChunks(text)];
    controller.abort();
    await assert.rejects(calls[0], { code: 'ABORTED' });
    const [vector] = await calls[1];
    const [window] = await calls[2];
    assert.deepEqual(vector, window);
    assert.equal(encoder.stats().batcher.items - before, 1);
  });

  test('drops a joined text from the queue once every caller has given up', async () => {
    const slow = await Encoder.create({ maxWaitMs: 50, cacheSize: 0 });
    try {
      const controller = new AbortController();
      const calls = [0, 1].map(() => slow.embed(['nobody waits for this'], controller.signal));
      controller.abort();
      for (const call of calls) await assert.rejects(call, { code: 'ABORTED' });
      assert.equal(slow.stats().batcher.queued, 0);
      assert.equal((await slow.embed(['nobody waits for this'])).length, 1, 'a later call runs it afresh');
    } finally {
      await slow.close();
    }
  });

  test('rejects with CLOSED after close', async () => {
    const closing = await Encoder.create({ backend: 'inline' });
    assert.equal(closing.stats().backend, 'inline');
    await closing.close();
    await assert.rejects(closing.embed(['x']), { code: 'CLOSED' });
  });

  test('throws on a nonsensical configuration before loading anything', async () => {
    await assert.rejects(Encoder.create({ timeoutMs: 0 }), /timeoutMs must be > 0/);
    await assert.rejects(Encoder.create({ cacheSize: -1 }), /cacheSize must be >= 0/);
    await assert.rejects(Encoder.create({ precision: 'fp16' as 'fp32' }), /precision must be one of/);
  });

  test('runs on the CPU provider when CUDA is not installed', () => {
    assert.ok(['cpu', 'cuda'].includes(encoder.stats().provider));
  });

  test('embeds a long text as windows whose first one is the plain embedding', async () => {
    const tokens = new Tokenizer(await loadVocabulary()).encode(LONG).length; // 261
    const [plain] = await encoder.embed([LONG]);
    const windows = await encoder.embedChunks(LONG);
    assert.equal(windows.length, Math.ceil(tokens / 128));
    assert.ok(cosine(windows[0], plain) > 0.999999);
    assert.equal((await encoder.embedChunks(LONG, { overlap: 64 })).length, Math.ceil((tokens - 64) / 64));
    assert.equal((await encoder.embedChunks(LONG.repeat(10), { maxChunks: 3 })).length, 3);
    assert.equal((await encoder.embedChunks('')).length, 1);
    await assert.rejects(encoder.embedChunks(LONG, { overlap: 128 }));
  });

  test('reads at most maxTokens tokens of a long text', () => {
    assert.equal(encoder.tokenize(LONG).length, encoder.maxTokens);
    assert.equal(encoder.maxTokens, 128);
  });

  test('at int8 a text scores the same alone and among others, so a decision never depends on concurrent traffic', async () => {
    const int8 = await Encoder.create({ precision: 'int8', cacheSize: 0, maxBatchSize: 16 });
    try {
      const text = 'how do I kill a Python process';
      const [alone] = await int8.embed([text]);
      const others = Array.from({ length: 20 }, (_, i) => `a longer filler sentence ${i} about gardening in spring`);
      const [together] = await Promise.all([int8.embed([text, ...others]), int8.embed(others.slice(5))]);
      // Activations are quantized per row (test/encoder/batch-independence.test.ts), so int8 batches again.
      assert.ok(int8.stats().batcher.largestBatch > 1, 'int8 ran its texts in batches');
      const worst = Math.max(...(together[0] ?? []).map((v, j) => Math.abs(v - (alone?.[j] ?? NaN))));
      assert.ok(worst <= 1e-6, `largest difference ${worst}`);
    } finally {
      await int8.close();
    }
  });
});
