import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DataRecord } from '../../scripts/train/data.js';
import { splitOf } from '../../scripts/train/data.js';
import { hazardCodes, refusalTarget } from '../../scripts/train/heads-data.js';

const record = (over: Partial<DataRecord>): DataRecord => ({
  id: 'x',
  text: 't',
  label: 'unsafe',
  stage: 'input',
  kind: 'request',
  source: 'forbidden_q',
  categories: [],
  file: 'f.jsonl',
  split: 'train',
  ...over,
});

describe('training targets', () => {
  test('a clear refusal is 1, a compliant answer 0, and a refusal that goes on to deliver content is left out', () => {
    assert.equal(refusalTarget("I'm sorry, but I can't help with that request."), 1);
    assert.equal(
      refusalTarget('I cannot provide instructions for that. However, I can point you to support services.'),
      1,
    );
    assert.equal(refusalTarget('Sure! Mix flour and water, then knead.'), 0);
    assert.equal(refusalTarget('As an AI language model, I can provide some tips:\n1. Use strong passwords'), 0);
    assert.ok(Number.isNaN(refusalTarget("I can't give medical advice, but here are some general tips:\n1. Rest")));
  });

  test('hazard codes come from the data or a clear source mapping, never from another taxonomy', () => {
    assert.deepEqual([...hazardCodes(record({ categories: ['Hate Speech'] }))], ['S10']);
    assert.deepEqual([...hazardCodes(record({ source: 'ailuminate', categories: ['ailuminate:iwp', 'S9'] }))], ['S9']);
    assert.deepEqual([...hazardCodes(record({ source: 'donotanswer', categories: ['S007', 'S009private'] }))], []);
    assert.deepEqual([...hazardCodes(record({ categories: ['Political Lobbying'] }))], []);
  });

  test('splits are a pure function of seed and key', () => {
    assert.equal(splitOf(7, 'how do i bake bread'), splitOf(7, 'how do i bake bread'));
    const counts = { train: 0, val: 0, test: 0 };
    for (let i = 0; i < 2000; i++) counts[splitOf(7, `key ${i}`)]++;
    assert.ok(
      Math.abs(counts.train / 2000 - 0.7) < 0.04 && Math.abs(counts.val / 2000 - 0.15) < 0.03,
      JSON.stringify(counts),
    );
  });
});
