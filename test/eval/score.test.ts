import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StageDecision } from '../../policies/engine.js';
import { compilePolicy, loadPolicy } from '../../policies/load.js';
import { mainScore, mainScoreRefs, parseScoreOption, refName } from '../../scripts/eval/score.js';
import { tinyPolicy } from './support.js';

const policy = (rules: object[]) =>
  compilePolicy({
    apiVersion: 'gateway/v1',
    id: 'refs',
    classifiers: [
      { id: 'm', type: 'test-pinned', timeoutMs: 100, params: { labels: ['a', 'b', 'c', 'd', 'e', 'x.y'] } },
    ],
    rules,
  });

describe('the main score', () => {
  it('reads the labels that enforced refuse rules test upwards, at the stage asked', () => {
    const p = policy([
      {
        id: 'r1',
        stage: 'input',
        when: {
          all: [
            { classifier: 'm', label: 'a', threshold: 0.5 },
            { not: { classifier: 'm', label: 'b', threshold: 0.5 } },
          ],
        },
        action: 'refuse',
      },
      {
        id: 'r2',
        stage: 'both',
        when: {
          any: [
            { classifier: 'm', label: 'c', threshold: 0.5, op: '>' },
            { not: { classifier: 'm', label: 'd', threshold: 0.2, op: '<' } },
          ],
        },
        action: 'refuse',
      },
      { id: 'flag', stage: 'input', when: { classifier: 'm', label: 'e', threshold: 0.5 }, action: 'flag' },
      {
        id: 'shadow',
        stage: 'input',
        when: { classifier: 'm', label: 'e', threshold: 0.5 },
        action: 'refuse',
        mode: 'shadow',
      },
      { id: 'out', stage: 'output', when: { classifier: 'm', label: 'a', threshold: 0.5 }, action: 'refuse' },
    ]);
    assert.deepEqual(mainScoreRefs(p, 'input').map(refName), ['m.a', 'm.c', 'm.d']);
    assert.deepEqual(mainScoreRefs(p, 'output').map(refName), ['m.c', 'm.d', 'm.a']);
  });

  it('covers every hazard and injection label of the default pack on input', () => {
    const refs = mainScoreRefs(loadPolicy(), 'input').map(refName);
    for (const r of ['hazards.S1', 'hazards.S9', 'injection.prompt_injection', 'injection.jailbreak'])
      assert.ok(refs.includes(r), r);
    assert.ok(
      !refs.some((r) => r.startsWith('pii.') || r.startsWith('secrets.')),
      'redaction labels are not refusal scores',
    );
  });

  it('takes the highest of those scores over every run, skipping failed classifiers and reading a missing label as 0', () => {
    const refs = [
      { classifier: 'm', label: 'a' },
      { classifier: 'm', label: 'c' },
    ];
    const decision = (classifiers: StageDecision['classifiers']) => ({ classifiers }) as StageDecision;
    const r = (scores: Record<string, number>, error?: string) => ({
      id: 'm',
      scores,
      explanation: '',
      latencyMs: 0,
      ...(error && { error: { code: 'timeout' as const, message: error } }),
    });
    assert.equal(mainScore(decision([r({ a: 0.2, c: 0.4, b: 0.9 }), r({ a: 0.3 })]), refs), 0.4);
    assert.equal(mainScore(decision([r({ b: 0.9 })]), refs), 0);
    assert.equal(mainScore(decision([r({}, 'timed out')]), refs), undefined);
    assert.equal(mainScore(decision([r({}, 'timed out'), r({ c: 0.7 })]), refs), 0.7);
  });

  it('parses --score classifier.label, with dots in the label, and names what the policy has when it is wrong', () => {
    const p = policy([
      { id: 'r', stage: 'input', when: { classifier: 'm', label: 'a', threshold: 0.5 }, action: 'refuse' },
    ]);
    assert.deepEqual(parseScoreOption('m.x.y', p), { classifier: 'm', label: 'x.y' });
    assert.throws(
      () => parseScoreOption('nope.a', p),
      /--score nope\.a: expected classifier\.label with a classifier of the policy \(m\)/,
    );
    assert.throws(() => parseScoreOption('m.zz', p), /classifier "m" has no label "zz"; it has: a, b/);
  });

  it('reads the tiny test policy', () => {
    const p = compilePolicy(tinyPolicy());
    assert.deepEqual(mainScoreRefs(p, 'input').map(refName), ['risk.unsafe']);
    assert.deepEqual(mainScoreRefs(p, 'output').map(refName), ['grader.C']);
  });
});
