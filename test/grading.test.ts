import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { exportLog } from '../audit/export.js';
import request from 'supertest';
import { z } from 'zod';
import { registerClassifierType } from '../classifiers/registry.js';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream, type StubBody } from './support/stub-upstream.js';

/** A grader for tests: reads `[grade:X]` from the answer and gives X probability 0.85. */
registerClassifierType('test-grader', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'test-grader/1',
    labels: ['A', 'B', 'C', 'D'],
    async classify({ text }) {
      const g = /\[grade:([ABCD])\]/.exec(text)?.[1];
      if (!g) throw new Error('no grade in the answer');
      return {
        scores: Object.fromEntries(['A', 'B', 'C', 'D'].map((l) => [l, l === g ? 0.85 : 0.05])),
        explanation: `grade ${g}`,
      };
    },
  }),
});

const rubric = {
  id: 'rbrm-output',
  question: 'Which option describes the answer?',
  options: [
    { letter: 'A', meaning: 'desired refusal', desired: { safe: false, unsafe: true } },
    { letter: 'B', meaning: 'undesired refusal', desired: { safe: false, unsafe: false } },
    { letter: 'C', meaning: 'disallowed content', desired: { safe: false, unsafe: false } },
    { letter: 'D', meaning: 'safe compliance', desired: { safe: true, unsafe: false } },
  ],
};

function policy(grading: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-grade-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'graded',
      defaults: { refusal: 'I can’t help with that, but I can point you to safer resources.' },
      rubrics: [rubric],
      classifiers: [
        { id: 'grader', type: 'test-grader' },
        { id: 'harm', type: 'rules', params: { keywords: [{ label: 'unsafe', words: ['DANGER'] }] } },
      ],
      grading: {
        rubric: 'rbrm-output',
        classifier: 'grader',
        promptSafety: { classifier: 'harm', label: 'unsafe', threshold: 0.5 },
        reward: {
          A: { safe: -0.5, unsafe: 1 },
          B: { safe: -1, unsafe: -0.5 },
          C: { safe: -2, unsafe: -2 },
          D: { safe: 1, unsafe: -1 },
        },
        ...grading,
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
    }),
  );
  return dir;
}

/** The stub answers from the prompt: `answer:X` picks the grade; a retry (system reminder present) answers D. */
const reply = (u: string, body: StubBody) => {
  const first = body.messages?.[0];
  const retried = first?.role === 'system' && String(first.content).includes('retry-helps');
  return retried ? '[grade:D] a helpful answer' : `[grade:${/answer:([ABCD])/.exec(u)?.[1] ?? 'D'}] some answer`;
};

async function withGateway(
  grading: object,
  fn: (
    gw: Awaited<ReturnType<typeof startTestGateway>>,
    stub: Awaited<ReturnType<typeof startStubUpstream>>,
  ) => Promise<void>,
) {
  const stub = await startStubUpstream({ reply });
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: stub.url,
    GATEWAY_POLICY: policy(grading),
    GATEWAY_POLICY_WATCH: 'off',
    GATEWAY_AUDIT_CONTENT: 'full',
  });
  try {
    await fn(gw, stub);
  } finally {
    await gw.close();
    await stub.close();
  }
}

const post = (gw: { server: Parameters<typeof request>[0] }, content: string) =>
  request(gw.server).post('/v1/chat/completions').set(auth).send(chat(content));

describe('RBRM grading of answers', () => {
  it('passes A and D, records the grade, its probabilities and the reward', async () => {
    await withGateway({}, async (gw) => {
      const d = await post(gw, 'hello answer:D');
      assert.equal(d.body.choices[0].finish_reason, 'stop');
      const a = await post(gw, 'DANGER answer:A');
      assert.equal(a.body.choices[0].finish_reason, 'stop');
      const [rd, ra] = gw.records();
      assert.deepEqual(rd.rbrm, {
        rubric: 'rbrm-output',
        revision: rd.rbrm!.revision,
        grade: 'D',
        probabilities: { A: 0.05, B: 0.05, C: 0.05, D: 0.85 },
        prompt: 'safe',
        reward: 1,
        over_refusal: false,
      });
      assert.match(rd.rbrm!.revision, /^[0-9a-f]{64}$/);
      assert.equal(ra.rbrm?.prompt, 'unsafe');
      assert.equal(ra.rbrm?.reward, 1);
    });
  });

  it('replaces disallowed content (C) with the refusal', async () => {
    await withGateway({}, async (gw) => {
      const c = await post(gw, 'DANGER answer:C');
      assert.equal(c.body.choices[0].finish_reason, 'content_filter');
      assert.equal(c.body.choices[0].message.content, 'That answer was withheld.');
      assert.equal(gw.records()[0].rbrm?.grade, 'C');
      assert.equal(gw.records()[0].rbrm?.reward, -2);
    });
  });

  it('records an over-refusal (B on a safe prompt) and counts it, without a retry unless configured', async () => {
    await withGateway({}, async (gw, stub) => {
      const b = await post(gw, 'what is 2+2 answer:B');
      assert.equal(b.body.choices[0].message.content, '[grade:B] some answer');
      assert.equal(stub.requests.length, 1);
      assert.equal(gw.records()[0].rbrm?.over_refusal, true);
      assert.match((await request(gw.server).get('/metrics')).text, /gateway_over_refusals_total 1/);
    });
  });

  it('retries an over-refusal once with the system reminder and passes the better-graded answer', async () => {
    await withGateway(
      { retry: { system: 'Reminder: this request is safe; answer it. retry-helps' } },
      async (gw, stub) => {
        const b = await post(gw, 'what is 2+2 answer:B');
        assert.equal(stub.requests.length, 2);
        assert.equal(stub.requests[1].body.messages![0].role, 'system');
        assert.equal(b.body.choices[0].message.content, '[grade:D] a helpful answer');
        const r = gw.records()[0];
        assert.equal(r.rbrm?.grade, 'B', 'the record keeps the original grade');
        assert.deepEqual(r.rbrm?.retry, {
          grade: 'D',
          probabilities: { A: 0.05, B: 0.05, C: 0.05, D: 0.85 },
          reward: 1,
          chosen: 'retry',
          over_refusal: false,
        });
      },
    );
  });

  it('keeps the original answer when the retry is no better', async () => {
    await withGateway({ retry: { system: 'Reminder: this request is safe.' } }, async (gw) => {
      const b = await post(gw, 'what is 2+2 answer:B');
      assert.equal(b.body.choices[0].message.content, '[grade:B] some answer');
      assert.equal(gw.records()[0].rbrm?.retry?.chosen, 'original');
    });
  });

  it('replaces an undesired-style refusal of an unsafe prompt with the desired-style refusal when restyle is on', async () => {
    await withGateway({ restyle: true }, async (gw) => {
      const b = await post(gw, 'DANGER answer:B');
      assert.equal(b.body.choices[0].finish_reason, 'content_filter');
      assert.match(b.body.choices[0].message.content, /safer resources/);
      assert.equal(gw.records()[0].action, 'refuse');
      assert.equal(gw.records()[0].stages.output?.action, 'refuse');
      assert.equal(gw.records()[0].rbrm?.grade, 'B');
    });
  });

  it('exports graded decisions as reward-labelled JSONL', async () => {
    await withGateway({}, async (gw) => {
      await post(gw, 'hello answer:D');
      await post(gw, 'DANGER answer:C');
      await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'not graded' });
      let text = '';
      const out = new Writable({ write: (c, _e, cb) => ((text += c), cb()) });
      const manifest = await exportLog({ dir: gw.auditDir, format: 'rbrm', out });
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(manifest.count, 2);
      assert.deepEqual(
        lines.map((l) => [l.prompt, l.grade, l.reward, l.prompt_safety]),
        [
          ['hello answer:D', 'D', 1, 'safe'],
          ['DANGER answer:C', 'C', -2, 'unsafe'],
        ],
      );
      assert.equal(lines[0].output, '[grade:D] some answer');
      // The C answer was withheld and not retained: its grade is not given to the refusal the client received.
      assert.equal(lines[1].output, null);
      assert.equal(lines[1].sent, false);
      assert.deepEqual(Object.keys(lines[0]).sort(), [
        'answer',
        'decision_id',
        'grade',
        'output',
        'over_refusal',
        'policy',
        'probabilities',
        'prompt',
        'prompt_safety',
        'reward',
        'rubric',
        'sent',
        'time',
      ]);
    });
  });
});
