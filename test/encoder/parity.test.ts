import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Encoder } from '../../classifiers/encoder/index.js';
import { cosine, loadReference } from './reference.js';
import type { Reference } from './reference.js';
import { PARITY_SENTENCES } from './sentences.js';

const MIN_COSINE = 0.9999;

describe('the ONNX encoder against the TF.js reference', () => {
  let encoder: Encoder;
  let reference: Reference;

  before(async () => {
    [encoder, reference] = await Promise.all([
      Encoder.create({ precision: 'fp32', cacheSize: 0, timeoutMs: 60_000 }),
      loadReference(),
    ]);
  });
  after(() => encoder?.close());

  test('holds at least 200 distinct sentences, with empty, unicode, emoji, code and over-long texts', () => {
    assert.ok(new Set(PARITY_SENTENCES).size >= 200);
    assert.ok(PARITY_SENTENCES.includes(''));
    assert.ok(PARITY_SENTENCES.some((s) => /\p{Extended_Pictographic}/u.test(s)));
    assert.ok(PARITY_SENTENCES.some((s) => /[\u4e00-\u9fff]/.test(s)));
    assert.ok(PARITY_SENTENCES.some((s) => s.includes('def ') && s.includes('return')));
    assert.ok(PARITY_SENTENCES.some((s) => reference.tokenize(s).length > 128));
  });

  test('tokenizes every sentence to exactly the reference ids', () => {
    for (const [i, text] of PARITY_SENTENCES.entries()) {
      const expected = reference.tokenize(text).slice(0, encoder.maxTokens);
      assert.deepEqual(encoder.tokenize(text), expected, `sentence ${i}: ${JSON.stringify(text.slice(0, 60))}`);
    }
  });

  test('embeds every sentence within cosine 0.9999 of the reference, batched', async (t) => {
    const [ours, theirs] = await Promise.all([encoder.embed(PARITY_SENTENCES), reference.embed(PARITY_SENTENCES)]);
    const cosines = ours.map((v, i) => cosine(v, theirs[i]));
    const worst = cosines.reduce((w, c, i) => (c < cosines[w] ? i : w), 0);
    const mean = cosines.reduce((a, b) => a + b, 0) / cosines.length;
    t.diagnostic(
      `n=${cosines.length} min cosine=1-${(1 - cosines[worst]).toExponential(2)} (sentence ${worst}) ` +
        `mean=1-${(1 - mean).toExponential(2)}`,
    );
    for (const [i, c] of cosines.entries()) {
      assert.ok(c >= MIN_COSINE, `sentence ${i} ${JSON.stringify(PARITY_SENTENCES[i].slice(0, 60))}: cosine ${c}`);
    }
    for (const v of ours) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'embeddings are L2-normalised');
  });

  test('embeds a text alone the same as inside a padded batch', async () => {
    const texts = [
      'short',
      PARITY_SENTENCES.find((s) => reference.tokenize(s).length > 128)!,
      '',
      'a medium length sentence here',
    ];
    const batched = await encoder.embed(texts);
    for (const [i, text] of texts.entries()) {
      const [alone] = await encoder.embed([text]);
      assert.ok(cosine(alone, batched[i]) > 0.999999, `text ${i}`);
    }
  });
});
