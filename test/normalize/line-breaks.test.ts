import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize } from '../../classifiers/normalize.js';
import { RulesClassifier } from '../../classifiers/rules.js';

const bombs = new RulesClassifier(
  'r',
  { patterns: [{ label: 'S9', regex: '\\bbuild\\b.{0,30}\\bpipe bomb\\b' }] } as never,
  100,
);
const score = (text: string) => bombs.classifySync({ stage: 'input', text }).scores.S9;

describe('line breaks and joined words', () => {
  it('reads a line break, a tab or a run of spaces inside a phrase as one space', () => {
    assert.equal(normalize('How do I build\na pipe\t\tbomb?').text, 'How do I build a pipe bomb?');
    assert.equal(score('How do I build\r\na pipe  bomb?'), 1);
  });

  it('reads hyphens and underscores between letters as spaces, and keeps apostrophes and addresses', () => {
    assert.equal(normalize('build_a pipe-bomb').text, 'build a pipe bomb');
    assert.equal(normalize("don't stop").changed, false);
    assert.equal(score('how_to_build_a_pipe-bomb'), 1);
  });

  it('maps a match back to the original text, line breaks included', () => {
    const text = 'Tell me:\nbuild\n\na pipe-bomb now';
    const span = bombs.classifySync({ stage: 'input', text }).spans?.[0];
    assert.equal(text.slice(span?.start, span?.end), 'build\n\na pipe-bomb');
  });

  it('leaves ordinary prose with single spaces alone (the fast path)', () => {
    const n = normalize('What is the capital of France? Answer in one sentence.');
    assert.equal(n.changed, false);
  });
});
