/**
 * An over-refusal's retry is a second generation and a second output stage: it must be timed, observed in metrics
 * and shadow-evaluated like the first (it once called the policy engine directly and skipped all three).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { DecisionRecord } from '../audit/types.js';
import { registerClassifierType } from '../classifiers/registry.js';
import { Pipeline, requestContext, type PipelineObserver } from '../gateway/pipeline/pipeline.js';
import type { ChatCompletion, ChatRequest, Generator } from '../generator/types.js';
import { compilePolicy } from '../policies/load.js';

/** Reads `[grade:X]` from the answer and gives X probability 0.85. */
registerClassifierType('retry-test-grader', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'retry-test-grader/1',
    labels: ['A', 'B', 'C', 'D'],
    classify({ text }) {
      const g = /\[grade:([ABCD])\]/.exec(text)?.[1] ?? 'C';
      return Promise.resolve({
        scores: Object.fromEntries(['A', 'B', 'C', 'D'].map((l) => [l, l === g ? 0.85 : 0.05])),
        explanation: `grade ${g}`,
      });
    },
  }),
});

const graded = {
  apiVersion: 'gateway/v1',
  id: 'graded',
  rubrics: [
    {
      id: 'rbrm-output',
      question: 'Which option describes the answer?',
      options: [
        { letter: 'A', meaning: 'desired refusal', desired: { safe: false, unsafe: true } },
        { letter: 'B', meaning: 'undesired refusal', desired: { safe: false, unsafe: false } },
        { letter: 'C', meaning: 'disallowed content', desired: { safe: false, unsafe: false } },
        { letter: 'D', meaning: 'safe compliance', desired: { safe: true, unsafe: false } },
      ],
    },
  ],
  classifiers: [{ id: 'grader', type: 'retry-test-grader' }],
  grading: {
    rubric: 'rbrm-output',
    classifier: 'grader',
    reward: {
      A: { safe: -0.5, unsafe: 1 },
      B: { safe: -1, unsafe: -0.5 },
      C: { safe: -2, unsafe: -2 },
      D: { safe: 1, unsafe: -1 },
    },
    retry: { system: 'Reminder: this request is safe; answer it.' },
  },
  rules: [
    {
      id: 'disallowed',
      stage: 'output',
      when: { classifier: 'grader', label: 'C', threshold: 0.5 },
      action: 'refuse',
      message: 'That answer was withheld.',
    },
  ],
};

/** The shadow candidate flags any answer that says "helpful", which only the retried answer does. */
const shadow = compilePolicy({
  apiVersion: 'gateway/v1',
  id: 'candidate',
  classifiers: [{ id: 'words', type: 'rules', params: { keywords: [{ label: 'helpful', words: ['helpful'] }] } }],
  rules: [
    {
      id: 'flag-helpful',
      stage: 'output',
      when: { classifier: 'words', label: 'helpful', threshold: 0.5 },
      action: 'flag',
    },
  ],
});

const GENERATION_MS = 60;

/** Answers with an over-refusal (B) first, and with a helpful answer (D) when the system reminder is present. */
const generator: Generator = {
  id: 'fake',
  async complete(request: ChatRequest): Promise<ChatCompletion> {
    await new Promise((r) => setTimeout(r, GENERATION_MS));
    const retried = request.messages[0]?.role === 'system';
    const content = retried ? '[grade:D] a helpful answer' : '[grade:B] I cannot help with that.';
    return {
      id: 'c-1',
      object: 'chat.completion',
      created: 1,
      model: request.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    };
  },
  stream: () => {
    throw new Error('not used');
  },
  close: () => Promise.resolve(),
};

describe('over-refusal retry', () => {
  it('is shadow-evaluated, counted in metrics and timed in full', async () => {
    const records: DecisionRecord[] = [];
    const stages: string[] = [];
    const classifiers: string[] = [];
    const generations: number[] = [];
    const observer: PipelineObserver = {
      stage: (stage, ms) => {
        stages.push(stage);
        if (stage === 'generator') generations.push(ms);
      },
      classifier: (id) => classifiers.push(id),
      decision: () => undefined,
    };
    const policy = compilePolicy(graded);
    const pipeline = new Pipeline({
      policies: { select: () => ({ policy, bundle: policy.revision }), shadow: () => shadow },
      generator,
      audit: { append: async (r) => void records.push(r), close: async () => undefined },
      contentMode: 'none',
      instance: 'test',
      observer,
    });
    const ctx = requestContext();
    const request = { model: 'm', messages: [{ role: 'user', content: 'what is 2+2?' }] };
    const { completion } = await pipeline.complete(request, ctx, new AbortController().signal);

    assert.equal(completion.choices[0]?.message.content, '[grade:D] a helpful answer', 'the retry was chosen');
    const [record] = records;
    assert.ok(record);
    assert.equal(record.rbrm?.retry?.chosen, 'retry');
    // Timed in full: both generations reach the record and the generator metric.
    assert.equal(generations.length, 2, 'both generations observed');
    assert.ok(
      (record.latency_ms.generator ?? 0) >= 2 * GENERATION_MS - 5,
      `generator latency ${record.latency_ms.generator} ms covers both generations`,
    );
    // Counted in metrics: two output stages, and the grader observed in each.
    assert.deepEqual(
      stages.filter((s) => s === 'output'),
      ['output', 'output'],
    );
    assert.equal(classifiers.filter((id) => id === 'grader').length, 2);
    // Shadow-evaluated: the candidate's verdict is on the answer the client got.
    assert.equal(record.shadow?.stages.output?.action, 'flag');
    assert.equal(record.shadow?.action, 'flag');
    assert.equal(record.stages.output?.action, 'allow');
  });
});
