/**
 * A graded gateway for tests of RBRM grading and its exports: a real gateway over a real stub upstream, with a
 * grader that reads `[grade:X]` from the answer, and a prompt-safety classifier (`harm`, DANGER → unsafe) that no
 * rule reads, so that grading alone must call it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';
import { startTestGateway, type TestGateway } from './harness.js';
import { startStubUpstream, type StubBody, type StubUpstream } from './stub-upstream.js';

registerClassifierType('fixture-grader', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'fixture-grader/1',
    labels: ['A', 'B', 'C', 'D'],
    classify({ text }) {
      const g = /\[grade:([ABCD])\]/.exec(text)?.[1];
      if (!g) return Promise.reject(new Error('no grade in the answer'));
      // `[weak]`: the grade is the most probable letter, but below the C rule's threshold.
      const [top, rest] = text.includes('[weak]') ? [0.55, 0.15] : [0.85, 0.05];
      return Promise.resolve({
        scores: Object.fromEntries(['A', 'B', 'C', 'D'].map((l) => [l, l === g ? top : rest])),
        explanation: `grade ${g}`,
      });
    },
  }),
});

export const REFUSAL = 'I can’t help with that, but I can point you to safer resources.';
export const RETRY_SYSTEM = 'Reminder: this request is safe; answer it. retry-helps';

/** A policy directory: the grading rubric, rewards, a C rule, and `grading` merged over the defaults. */
export function gradedPolicy(grading: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-graded-'));
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
  const policy = {
    apiVersion: 'gateway/v1',
    id: 'graded',
    defaults: { refusal: REFUSAL },
    rubrics: [rubric],
    classifiers: [
      { id: 'grader', type: 'fixture-grader' },
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
        when: { classifier: 'grader', label: 'C', threshold: 0.8 },
        action: 'refuse',
        message: 'That answer was withheld.',
      },
    ],
  };
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
  return dir;
}

/** `answer:X` in the prompt picks the grade (`weak` makes it weak); a retry (the reminder present) answers D. */
export const gradedReply = (u: string, body: StubBody): string => {
  const first = body.messages?.[0];
  if (first?.role === 'system' && String(first.content).includes('retry-helps')) return '[grade:D] a helpful answer';
  const weak = u.includes('weak') ? ' [weak]' : '';
  return `[grade:${/answer:([ABCD])/.exec(u)?.[1] ?? 'D'}]${weak} answer to ${u}`;
};

/** Runs `fn` with a graded gateway (content mode `content`, full by default) and its stub upstream. */
export async function withGradedGateway(
  o: { grading?: object; content?: string; env?: Record<string, string> },
  fn: (gw: TestGateway, stub: StubUpstream) => Promise<void>,
): Promise<void> {
  const stub = await startStubUpstream({ reply: gradedReply });
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: stub.url,
    GATEWAY_POLICY: gradedPolicy(o.grading),
    GATEWAY_POLICY_WATCH: 'off',
    GATEWAY_AUDIT_CONTENT: o.content ?? 'full',
    ...o.env,
  });
  try {
    await fn(gw, stub);
  } finally {
    await gw.close();
    await stub.close();
  }
}
