import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffDecisions, diffPolicies, fieldChanges, parseCorpusLine } from '../../policies/diff.js';
import { compilePolicy } from '../../policies/load.js';
import { rule, small } from './helpers.js';

describe('policy diff', () => {
  it('summarises changes field by field, walking nested objects but keeping `when` whole', () => {
    assert.deepEqual(
      fieldChanges(
        { a: 1, d: { x: 1, y: 2 }, when: { all: [1] } },
        { a: 1, d: { x: 1, y: 3 }, when: { all: [2] }, n: 'new' },
      ),
      [
        { field: 'd.y', from: 2, to: 3 },
        { field: 'n', from: undefined, to: 'new' },
        { field: 'when', from: { all: [1] }, to: { all: [2] } },
      ],
    );
    assert.deepEqual(fieldChanges({ b: 1, a: 2 }, { a: 2, b: 1 }), []);
  });

  it('reports classifiers, taxonomy and reordered rules', () => {
    const a = compilePolicy(small([rule('one', 'a', 'flag'), rule('two', 'b', 'flag')]));
    const bDoc = small([rule('two', 'b', 'flag'), rule('one', 'a', 'flag')], {
      taxonomy: [{ id: 'cat' }, { id: 'dog' }],
    });
    bDoc.classifiers[0].params.patterns[0].regex = 'a{3}';
    const d = diffPolicies(a, compilePolicy(bDoc));
    assert.equal(d.rules.reordered, true);
    assert.deepEqual(d.rules.changed, []);
    assert.deepEqual(d.taxonomy.added, [{ id: 'dog' }]);
    assert.deepEqual(
      d.classifiers.changed.map((c) => c.fields.map((f) => f.field)),
      [['params.patterns']],
    );
  });

  it('reads both corpus formats, and output records with their prompt', () => {
    assert.deepEqual(parseCorpusLine('{"id":"x:1","text":"hi","label":"safe"}', 1), {
      id: 'x:1',
      label: 'safe',
      stage: 'input',
      request: { messages: [{ role: 'user', content: 'hi' }] },
      text: 'hi',
    });
    const out = parseCorpusLine('{"id":7,"text":"answer","label":"unsafe","stage":"output","prompt":"q"}', 2);
    assert.equal(out.id, '7');
    assert.equal(out.stage === 'output' && out.output, 'answer');
    assert.equal(
      parseCorpusLine('{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}', 3).text,
      'a / b',
    );
    assert.equal(parseCorpusLine('{"messages":[]}', 9).id, 'line 9');
    assert.throws(() => parseCorpusLine('{"prompt":"x"}', 4), /expected "text"/);
    assert.throws(() => parseCorpusLine('[1]', 5), /JSON object/);
  });

  it('counts changed decisions per transition and per rule, with examples capped', async () => {
    const a = compilePolicy(
      small([rule('refuse-a', 'a', 'refuse'), rule('redact-b', 'b', 'redact', { stage: 'both' })]),
    );
    const b = compilePolicy(
      small([rule('refuse-a', 'a', 'flag'), rule('redact-b', 'b', 'redact', { stage: 'input' })]),
    );
    const items = ['aaa 1', 'aaa 2', 'aaa 3', 'aaa 4', 'ok'].map((text, i) =>
      parseCorpusLine(JSON.stringify({ id: `i${i}`, text, label: 'unsafe' }), i + 1),
    );
    items.push(parseCorpusLine(JSON.stringify({ id: 'o', text: 'bbb', stage: 'output', label: 'safe' }), 9));
    const d = await diffDecisions(a, b, items, { examples: 2 });
    assert.equal(d.total, 6);
    assert.equal(d.changed, 5);
    assert.deepEqual(
      d.transitions.map((t) => [t.from, t.to, t.count, t.labels, t.examples.map((x) => x.id)]),
      [
        ['refuse', 'flag', 4, { unsafe: 4 }, ['i0', 'i1']],
        ['redact', 'allow', 1, { safe: 1 }, ['o']],
      ],
    );
    assert.deepEqual(d.rules, [{ id: 'redact-b', gained: 0, lost: 1 }]);
  });
});
