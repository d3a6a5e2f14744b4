import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Tokenizer, loadVocabulary } from '../../classifiers/encoder/index.js';
import { loadReference } from './reference.js';
import type { Reference } from './reference.js';

/** Pieces that stress normalisation, separators, unknown symbols and duplicate vocabulary entries. */
const ALPHABET = [
  'a',
  'b',
  'e',
  't',
  'h',
  's',
  'x',
  'ing',
  'the',
  '.',
  '1',
  ' ',
  ' ',
  '  ',
  '\n',
  '\t',
  '\u0301',
  '\u0308',
  '\u00a0',
  '\u00a8',
  '\u3000',
  'ﬁ',
  'Å',
  'é',
  '”',
  '5',
  '▁',
  '😀',
  '👍🏽',
  '中',
  'ｆ',
  '①',
  '㎏',
];

function randomTexts(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 40);
    return Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
  });
}

describe('the tokenizer', () => {
  let tokenizer: Tokenizer;
  let reference: Reference;

  before(async () => {
    [tokenizer, reference] = await Promise.all([loadVocabulary().then((v) => new Tokenizer(v)), loadReference()]);
  });

  test('gives no tokens for the empty text, and ▁ pieces for whitespace-only text', () => {
    assert.deepEqual(tokenizer.encode(''), []);
    assert.deepEqual(tokenizer.encode(' '), reference.tokenize(' '));
    assert.deepEqual(tokenizer.encode('   '), reference.tokenize('   '));
  });

  test('collapses a run of unknown symbols into one unknown id, as the reference does', () => {
    const ids = tokenizer.encode('😀😀😀 x');
    assert.deepEqual(ids, reference.tokenize('😀😀😀 x'));
    assert.equal(ids.filter((id) => id === 0).length, 1);
  });

  test('matches the reference on NFKC-sensitive, multi-script and duplicate-piece edge cases', () => {
    const cases = [
      'ﬁnance',
      'ｆｕｌｌ　ｗｉｄｔｈ',
      'cafe\u0301 \u0301x',
      '\u00a8 \u00a8a',
      'a\u00a0b',
      '”5 ”5x”5',
      '▁ ▁▁x',
      '① ② ㎏ ™',
      'e\u0301\u0308\u0301',
      ' leading',
      'trailing ',
      'tab\tand\nnewline',
      '中文字符测试',
      '👨‍👩‍👧‍👦 🇺🇸',
      'x'.repeat(500),
    ];
    for (const text of cases) assert.deepEqual(tokenizer.encode(text), reference.tokenize(text), JSON.stringify(text));
  });

  test('matches the reference on 3000 random strings over a hostile alphabet', () => {
    for (const text of randomTexts(3000, 7)) {
      assert.deepEqual(tokenizer.encode(text), reference.tokenize(text), JSON.stringify(text));
    }
  });

  test('stops at maxTokens with exactly the first maxTokens reference ids', () => {
    const texts = [
      'The committee reviewed the proposal and raised concerns about funding. '.repeat(40),
      `${'😀 '.repeat(100)}${'word '.repeat(100)}`,
      'ﬁ\u00a0'.repeat(300),
      ...randomTexts(200, 11).map((t) => t.repeat(20)),
    ];
    for (const text of texts) {
      const full = reference.tokenize(text);
      for (const maxTokens of [1, 7, 128]) {
        assert.deepEqual(
          tokenizer.encode(text, { maxTokens }),
          full.slice(0, maxTokens),
          JSON.stringify(text.slice(0, 40)),
        );
      }
    }
  });

  test('reads only as much of a long text as it needs', () => {
    const huge = 'a perfectly ordinary sentence with several words in it. '.repeat(20_000); // about 1.1 MB
    const start = performance.now();
    const ids = tokenizer.encode(huge, { maxTokens: 128 });
    assert.equal(ids.length, 128);
    assert.ok(performance.now() - start < 50, 'early stop keeps the cost independent of the text length');
  });
});
