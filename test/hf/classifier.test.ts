import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HfError, HfSequenceClassifier, HfSequenceParamsSchema, activate } from '../../classifiers/hf/index.js';
import { classifierType } from '../../classifiers/registry.js';
import { runClassifier } from '../../classifiers/run.js';
import { modelFolder, referenceLogits } from './fixture.js';

const NEVER = new AbortController().signal;
const input = (text: string) => ({ stage: 'input' as const, text });
const close = (a: readonly number[], b: readonly number[], eps = 1e-5) =>
  a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < eps);

describe('hf-sequence classifier on a generated ONNX model and the real MiniLM tokenizer', () => {
  const folder = modelFolder();
  let c: HfSequenceClassifier;

  before(async () => {
    c = new HfSequenceClassifier(
      'tiny',
      HfSequenceParamsSchema.parse({ dir: folder.dir, batch: { maxBatchSize: 8, maxWaitMs: 5 } }),
      5000,
    );
    await c.ready();
  });
  after(async () => {
    await c?.close();
    folder.dispose();
  });

  test('takes its labels from config.json id2label, in index order', () => {
    assert.deepEqual(c.labels, ['neutral', 'greeting', 'threat']);
    assert.equal(c.folder.activation, 'softmax');
    assert.equal(c.folder.maxLength, 128, "tokenizer.json's truncation.max_length");
    assert.match(c.version, /^tiny-test-classifier@[0-9a-f]{12}$/);
  });

  test('scores are softmax probabilities that sum to 1 and equal the model arithmetic done in JS', async () => {
    for (const text of [
      'hello world',
      'kill the python process',
      '',
      'Ünïcödé text with emoji 🙂 and code `rm -rf /`',
    ]) {
      const { scores, details } = await c.classify(input(text), NEVER);
      const probs = c.labels.map((l) => scores[l]);
      assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-6, `sum for ${JSON.stringify(text)}`);
      const { ids, typeIds } = c.folder.tokenizer.encode(text);
      assert.equal(details?.tokens, ids.length);
      assert.ok(
        close(probs, activate(referenceLogits(folder.model, ids, typeIds), 'softmax')),
        `${JSON.stringify(text)}: ${probs} vs reference`,
      );
    }
  });

  test('maps outputs to labels by meaning: "hello" → greeting, "kill" → threat', async () => {
    const top = async (text: string) => {
      const { scores } = await c.classify(input(text), NEVER);
      return Object.entries(scores).sort((a, b) => b[1] - a[1])[0][0];
    };
    assert.equal(await top('hello hello'), 'greeting');
    assert.equal(await top('kill kill'), 'threat');
  });

  test('concurrent calls are batched together and padded, with the same scores as one at a time', async () => {
    const texts = [
      'hello',
      'a much longer sentence that needs many more tokens than the short one',
      'kill',
      '',
      'hello world kill',
    ];
    const alone: Array<Record<string, number>> = [];
    for (const t of texts) alone.push((await c.classify(input(t), NEVER)).scores);
    const together = await Promise.all(texts.map((t) => c.classify(input(t), NEVER)));
    together.forEach((r, i) =>
      assert.ok(
        close(
          c.labels.map((l) => r.scores[l]),
          c.labels.map((l) => alone[i][l]),
        ),
        texts[i],
      ),
    );
  });

  test('truncates a long text to the window and says so', async () => {
    const { details, explanation } = await c.classify(input('hello '.repeat(500)), NEVER);
    assert.equal(details?.tokens, 128);
    assert.equal(details?.truncated, true);
    assert.match(explanation, /greeting .*128 tokens, truncated/);
  });

  test('passes the contract checks of runClassifier', async () => {
    const r = await runClassifier(c, input('hello world'));
    assert.equal(r.error, undefined);
    assert.equal(r.id, 'tiny');
    assert.ok(r.latencyMs >= 0);
  });
});

describe('hf-sequence options', () => {
  test('renames labels with params.labels (by name or index) and uses sigmoid for multi-label models', async () => {
    const f = modelFolder({
      id2label: { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' },
      problemType: 'multi_label_classification',
      withTypeIds: false,
    });
    const c = new HfSequenceClassifier(
      'ml',
      HfSequenceParamsSchema.parse({ dir: f.dir, labels: { LABEL_0: 'safe', 2: 'violence' } }),
      5000,
    );
    try {
      assert.deepEqual(c.labels, ['safe', 'LABEL_1', 'violence']);
      assert.equal(c.folder.activation, 'sigmoid');
      const { scores } = await c.classify(input('kill'), NEVER);
      const { ids } = c.folder.tokenizer.encode('kill');
      const expected = activate(referenceLogits(f.model, ids), 'sigmoid');
      assert.ok(close([scores.safe, scores.LABEL_1, scores.violence], expected));
      assert.ok(scores.violence > 0.5);
    } finally {
      await c.close();
      f.dispose();
    }
  });

  test('an explicit activation and maxLength override the defaults', async () => {
    const f = modelFolder({ id2label: { 0: 'benign', 1: 'injection' } });
    const c = new HfSequenceClassifier(
      'x',
      HfSequenceParamsSchema.parse({ dir: f.dir, activation: 'sigmoid', maxLength: 6 }),
      5000,
    );
    try {
      const { details, scores } = await c.classify(input('one two three four five six seven'), NEVER);
      assert.equal(details?.tokens, 6);
      assert.notEqual(scores.benign + scores.injection, 1);
    } finally {
      await c.close();
      f.dispose();
    }
  });

  test('is registered as "hf-sequence" and validates its params with zod', () => {
    const type = classifierType('hf-sequence');
    assert.ok(type);
    assert.equal(type.params.safeParse({ dir: 'x' }).success, true);
    assert.equal(type.params.safeParse({ dir: 'x', activation: 'relu' }).success, false);
    assert.equal(type.params.safeParse({ dir: 'x', unknown: 1 }).success, false);
    assert.equal(type.params.safeParse({}).success, false);
  });

  /**
   * The batcher waits `maxWaitMs` for company only once traffic was concurrent (encoder/batcher.ts): one call made
   * while another runs makes it so, and the next lone call is then held for the whole wait.
   */
  async function makeConcurrent(c: HfSequenceClassifier): Promise<void> {
    const first = c.classify(input('warm one'), NEVER);
    // Two turns: the call submits after `await ready()`, and its batch goes out at the batcher's next setImmediate.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([first, c.classify(input('warm two'), NEVER)]);
  }

  test('past its timeout a call rejects with TIMEOUT, and its queued text is dropped', async () => {
    const f = modelFolder();
    // With concurrent traffic the batcher holds a lone call for 100 ms, so a 20 ms timeout always fires first.
    const c = new HfSequenceClassifier(
      'slow',
      HfSequenceParamsSchema.parse({ dir: f.dir, batch: { maxWaitMs: 100 } }),
      20,
    );
    try {
      await c.ready();
      await makeConcurrent(c);
      await assert.rejects(
        c.classify(input('hello'), NEVER),
        (e: unknown) => e instanceof HfError && e.code === 'TIMEOUT' && /20 ms/.test(e.message),
      );
      // Still concurrent: the cancelled call never ran, so the batcher holds this one too.
      const r = await runClassifier(c, input('hello'));
      assert.match(r.error?.message ?? '', /20 ms/);
      assert.equal(r.error?.code, 'timeout');
      assert.deepEqual(r.scores, {});
    } finally {
      await c.close();
      f.dispose();
    }
  });

  test('an aborted signal rejects with ABORTED; a closed classifier with CLOSED', async () => {
    const f = modelFolder();
    const c = new HfSequenceClassifier(
      'a',
      HfSequenceParamsSchema.parse({ dir: f.dir, batch: { maxWaitMs: 50 } }),
      5000,
    );
    try {
      await c.ready();
      await makeConcurrent(c);
      const ac = new AbortController();
      const pending = c.classify(input('hello'), ac.signal);
      setTimeout(() => ac.abort(new Error('client went away')), 5);
      await assert.rejects(pending, (e: unknown) => e instanceof HfError && e.code === 'ABORTED');
      await c.close();
      await assert.rejects(
        c.classify(input('hello'), NEVER),
        (e: unknown) => e instanceof HfError && e.code === 'CLOSED',
      );
    } finally {
      await c.close();
      f.dispose();
    }
  });
});
