import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HfModelError, SequenceTokenizer } from '../../classifiers/hf/index.js';
import { TOKENIZER_DIR, vocabulary } from './fixture.js';

describe('SequenceTokenizer over the real all-MiniLM-L6-v2 tokenizer.json', () => {
  const json = () => JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as unknown;
  const config = () => JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')) as unknown;
  const v = vocabulary();
  const tok = (maxLength = 128) => new SequenceTokenizer(json(), config(), { maxLength });

  test('wraps the WordPiece ids the vocabulary defines in [CLS] … [SEP]', () => {
    const t = tok();
    assert.deepEqual(t.encode('hello world').ids, [v['[CLS]'], v.hello, v.world, v['[SEP]']]);
    assert.deepEqual(t.encode('hello world').ids, [101, 7592, 2088, 102]);
    assert.deepEqual(t.encode('Hello, World!').ids, [v['[CLS]'], v.hello, v[','], v.world, v['!'], v['[SEP]']]);
    assert.deepEqual(t.encode('').ids, [v['[CLS]'], v['[SEP]']]);
  });

  test('splits an out-of-vocabulary word into ## continuation pieces, longest match first', () => {
    assert.equal(v.unaffable, undefined);
    assert.deepEqual(tok().encode('unaffable').ids, [v['[CLS]'], v.una, v['##ffa'], v['##ble'], v['[SEP]']]);
  });

  test('lower-cases and strips accents as the BertNormalizer says, and marks unknown symbols [UNK]', () => {
    const t = tok();
    assert.deepEqual(t.encode('HÉLLO Wörld').ids, t.encode('hello world').ids);
    assert.deepEqual(t.encode('hello 🙂').ids, [v['[CLS]'], v.hello, v['[UNK]'], v['[SEP]']]);
  });

  test('gives segment id 0 to every token of a single text', () => {
    const { ids, typeIds } = tok().encode('kill the python process');
    assert.equal(typeIds.length, ids.length);
    assert.ok(typeIds.every((x) => x === 0));
  });

  test('truncates long texts to maxLength and keeps [CLS] first and [SEP] last', () => {
    const t = tok(8);
    const e = t.encode('one two three four five six seven eight nine ten');
    assert.equal(e.ids.length, 8);
    assert.equal(e.ids[0], v['[CLS]']);
    assert.equal(e.ids[7], v['[SEP]']);
    assert.deepEqual(
      e.ids.slice(1, 7),
      ['one', 'two', 'three', 'four', 'five', 'six'].map((w) => v[w]),
    );
    assert.equal(e.truncated, true);
    assert.equal(t.encode('one two').truncated, false);
    const wide = tok(256).encode('word '.repeat(1000)).ids;
    assert.equal(
      wide.length,
      256,
      "a window past tokenizer.json's own truncation (128) is honoured; nothing is padded",
    );
    assert.equal(wide[255], v['[SEP]']);
  });

  test('tokenizes only maxChars characters of a huge text, without splitting a surrogate pair', () => {
    const t = new SequenceTokenizer(json(), config(), { maxLength: 16, maxChars: 5 });
    assert.deepEqual(t.encode('hello world').ids, t.encode('hello').ids);
    assert.equal(t.encode('hello world').truncated, true);
    const two = new SequenceTokenizer(json(), config(), { maxLength: 16, maxChars: 2 });
    assert.deepEqual(two.encode('a🙂b').ids, two.encode('a').ids, 'the lone high surrogate is dropped, not tokenized');
    const started = performance.now();
    assert.equal(tok(128).encode('word '.repeat(400_000)).ids.length, 128);
    assert.ok(performance.now() - started < 1000, 'a 2 MB text is capped before tokenizing');
  });

  test('refuses a file that is not a tokenizer, and a maxLength with no room for text', () => {
    assert.throws(
      () => new SequenceTokenizer({ hello: 1 }, {}, { maxLength: 8 }, 'x/tokenizer.json'),
      (e: unknown) => e instanceof HfModelError && /x\/tokenizer\.json: .*no "model"/.test(e.message),
    );
    assert.throws(
      () => new SequenceTokenizer(json(), config(), { maxLength: 2 }),
      /no room for text next to 2 special tokens/,
    );
  });
});
