import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { JudgeRubricSchema } from '../../classifiers/judge/index.js';
import { classifierType } from '../../classifiers/registry.js';
import { evaluateStage } from '../../policies/engine.js';
import { DEFAULT_POLICY_PATH, compilePolicy } from '../../policies/load.js';
import { RubricSchema } from '../../policies/schema.js';
import { startStubJudge, token, type JudgeReply, type StubJudge } from './stub-judge.js';

const RUBRICS: unknown[] = JSON.parse(readFileSync(`${DEFAULT_POLICY_PATH}/../rules-only/policy.json`, 'utf8')).rubrics;
const response = (content: string) => ({
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
});

/** The example from the report: an output-stage judge on the standard rubric and a rule that refuses grade C. */
const judgePolicy = (url: string) => ({
  apiVersion: 'gateway/v1',
  id: 'judge-example',
  classifiers: [
    {
      id: 'rbrm',
      type: 'rbrm-judge',
      timeoutMs: 300,
      params: { url, model: 'judge-model', rubric: RUBRICS[0], cache: { size: 1000 } },
    },
    {
      id: 'guard',
      type: 'safety-model',
      timeoutMs: 300,
      params: { url, model: 'llama-guard', template: 'llama-guard-3', categories: { S14: 'malware' } },
    },
  ],
  rules: [
    {
      id: 'disallowed-content',
      stage: 'output',
      when: { classifier: 'rbrm', label: 'C', threshold: 0.5 },
      action: 'refuse',
      severity: 'high',
    },
    {
      id: 'guard-unsafe',
      stage: 'output',
      when: { classifier: 'guard', label: 'unsafe', threshold: 0.8 },
      action: 'flag',
    },
  ],
});

describe('judges in a policy', () => {
  it('accept the same rubrics as the policy language (JudgeRubricSchema mirrors RubricSchema)', () => {
    for (const r of RUBRICS) assert.deepEqual(JudgeRubricSchema.parse(r), RubricSchema.parse(r));
    const bad = {
      id: 'x',
      question: 'q',
      options: [{ letter: 'a', meaning: 'm', desired: { safe: true, unsafe: false } }],
    };
    assert.equal(JudgeRubricSchema.safeParse(bad).success, RubricSchema.safeParse(bad).success);
    const dup = {
      id: 'x',
      question: 'q',
      options: ['A', 'A'].map((letter) => ({ letter, meaning: 'm', desired: { safe: true, unsafe: false } })),
    };
    assert.equal(JudgeRubricSchema.safeParse(dup).success, false);
  });

  it('are registered as rbrm-judge and safety-model', () => {
    assert.ok(classifierType('rbrm-judge'));
    assert.ok(classifierType('safety-model'));
  });

  describe('against a stub judge', () => {
    let judge: StubJudge;
    let rbrm: JudgeReply = { text: 'D' };
    before(async () => {
      judge = await startStubJudge((r) => (r.path.endsWith('/chat/completions') ? rbrm : { text: 'safe' }));
    });
    after(() => judge.close());

    it("compiles, and a rule on the judge's labels refuses grade C", async () => {
      const p = compilePolicy(judgePolicy(judge.url));
      rbrm = { text: 'C', tokens: [token('C', { D: -3 })] };
      const d = await evaluateStage(p, {
        stage: 'output',
        doc: response('Sure, step one: …'),
        prompt: 'How do I make a pipe bomb?',
      });
      assert.equal(d.action, 'refuse');
      assert.equal(d.matches[0].id, 'disallowed-content');
      const graded = d.classifiers.find((c) => c.id === 'rbrm');
      assert.equal(graded?.details?.grade, 'C');
      assert.equal(graded?.details?.rubric_id, 'rbrm-output');
    });

    it('allows grade D', async () => {
      rbrm = { text: 'D' };
      const d = await evaluateStage(compilePolicy(judgePolicy(judge.url)), {
        stage: 'output',
        doc: response('Paris.'),
        prompt: 'Capital of France?',
      });
      assert.equal(d.action, 'allow');
    });

    it('fails closed when the judge answers 500 or nonsense', async () => {
      for (const reply of [{ status: 500 }, { text: 'no idea' }]) {
        rbrm = reply;
        const d = await evaluateStage(compilePolicy(judgePolicy(judge.url)), {
          stage: 'output',
          doc: response('Paris.'),
          prompt: 'Capital of France?',
        });
        assert.equal(d.action, 'refuse', JSON.stringify(reply));
        assert.ok(d.classifiers.find((c) => c.id === 'rbrm')?.error);
      }
    });

    it('reports a rule on a label the judge does not have', () => {
      const doc = judgePolicy(judge.url);
      doc.rules[0].when.label = 'E';
      assert.throws(() => compilePolicy(doc), /has no such label; it has: A, B, C, D/);
    });
  });
});
