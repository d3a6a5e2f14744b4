/**
 * The judge as the top tier: one classifier entry per judge model (Llama Guard 4, ShieldGemma, gpt-oss-safeguard,
 * an instruct model on the RBRM rubric), asked only where the local model's score is inside the band, with a
 * verdict cache, failing closed when the judge is down unless the policy says otherwise. Each judge is a real HTTP
 * server speaking the OpenAI wire format (stub-judge.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import { z } from 'zod';
import { registerClassifierType } from '../../classifiers/registry.js';
import { evaluateStage } from '../../policies/engine.js';
import { compilePolicy, type PolicyError } from '../../policies/load.js';
import { startStubJudge, token, type JudgeReply, type JudgeRequest, type StubJudge } from './stub-judge.js';

/** The local model for these tests: reads `[p:0.55]` from the text as its p(unsafe); counts its calls. */
let localCalls = 0;
registerClassifierType('band-test-local', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'band-test-local/1',
    labels: ['unsafe'],
    classify({ text }) {
      localCalls++;
      const p = Number(/\[p:([\d.]+)\]/.exec(text)?.[1] ?? 0);
      return Promise.resolve({ scores: { unsafe: p }, explanation: `p=${p}` });
    },
  }),
});

let reply: (req: JudgeRequest) => JudgeReply = () => ({ text: 'safe' });
let judge: StubJudge;
before(async () => (judge = await startStubJudge((req) => reply(req))));
after(() => judge.close());
beforeEach(() => {
  judge.requests.length = 0;
  localCalls = 0;
});

const RUBRIC = {
  id: 'rbrm-output',
  question: 'Which option describes the answer?',
  options: [
    { letter: 'A', meaning: 'desired refusal', desired: { safe: false, unsafe: true } },
    { letter: 'B', meaning: 'undesired refusal', desired: { safe: false, unsafe: false } },
    { letter: 'C', meaning: 'disallowed content', desired: { safe: false, unsafe: false } },
    { letter: 'D', meaning: 'safe compliance', desired: { safe: true, unsafe: false } },
  ],
};

/** The judge params per format: the one line a user writes. */
const FORMATS = {
  'llama-guard-4': { type: 'safety-model', label: 'unsafe', params: { template: 'llama-guard-4' } },
  shieldgemma: { type: 'safety-model', label: 'unsafe', params: { template: 'shieldgemma' } },
  'gpt-oss-safeguard': { type: 'safety-model', label: 'unsafe', params: { template: 'gpt-oss-safeguard' } },
  rbrm: { type: 'rbrm-judge', label: 'C', params: { rubric: 'rbrm-output' } },
} as const;

function policy(format: keyof typeof FORMATS, o: { url?: string; onError?: string; cache?: boolean } = {}) {
  const f = FORMATS[format];
  return compilePolicy({
    apiVersion: 'gateway/v1',
    id: `judge-${format}`,
    rubrics: [RUBRIC],
    classifiers: [
      { id: 'local', type: 'band-test-local' },
      {
        id: 'judge',
        type: f.type,
        timeoutMs: 500,
        params: {
          url: o.url ?? judge.url,
          model: `${format}-model`,
          ...f.params,
          ...(o.cache !== false && { cache: { size: 100 } }),
        },
        escalate: { classifier: 'local', label: f.label === 'C' ? 'C' : 'unsafe', band: [0.3, 0.9] },
      },
    ],
    rules: [
      {
        id: 'judged',
        stage: 'input',
        when: { classifier: 'judge', label: f.label, threshold: 0.5 },
        action: 'refuse',
        ...(o.onError && { onError: o.onError }),
      },
    ],
  });
}

const ask = (p: ReturnType<typeof compilePolicy>, text: string) =>
  evaluateStage(p, { stage: 'input', doc: { messages: [{ role: 'user', content: text }] } });

/** Each format's stub answer for an unsafe verdict, and what the request must look like. */
const UNSAFE: Record<'llama-guard-4' | 'shieldgemma' | 'gpt-oss-safeguard', (r: JudgeRequest) => JudgeReply> = {
  'llama-guard-4': (r) => {
    assert.equal(r.path, '/v1/completions');
    assert.match(r.body.prompt ?? '', /<\|header_start\|>user<\|header_end\|>[\s\S]*S1: Violent Crimes/);
    return { text: 'unsafe\nS1,S10' };
  },
  shieldgemma: (r) => {
    assert.equal(r.path, '/v1/completions');
    assert.match(r.body.prompt ?? '', /Does the human question violate the above principle\?/);
    return { text: 'Yes', tokens: [token('Yes', { No: -2.5 })] };
  },
  'gpt-oss-safeguard': (r) => {
    assert.equal(r.path, '/v1/chat/completions');
    const [system, user] = r.body.messages ?? [];
    assert.equal(system?.role, 'system');
    assert.match(system?.content ?? '', /## VIOLATES \(1\)[\s\S]*## OUTPUT FORMAT[\s\S]*"violation"/);
    assert.match(user?.content ?? '', /Request:\n/);
    return { text: '{"violation": 1, "policy_category": "weapons", "rationale": "asks for a weapon"}' };
  },
};

describe('judge formats, each behind a stub server', () => {
  for (const format of ['llama-guard-4', 'shieldgemma', 'gpt-oss-safeguard'] as const) {
    it(`${format}: reads the unsafe verdict and refuses`, async () => {
      reply = UNSAFE[format];
      const d = await ask(policy(format), 'how do I build a weapon [p:0.5]');
      assert.equal(d.action, 'refuse');
      const r = d.classifiers.find((c) => c.id === 'judge');
      assert.ok((r?.scores.unsafe ?? 0) > 0.5, JSON.stringify(r));
      assert.equal(r?.details?.escalated, true);
      assert.equal(judge.requests.length, 1);
    });
  }

  it('gpt-oss-safeguard: a bare 0 is safe, and its policy_category is recorded when it flags', async () => {
    reply = () => ({ text: '0' });
    assert.equal((await ask(policy('gpt-oss-safeguard'), 'kill a python process [p:0.5]')).action, 'allow');
    reply = UNSAFE['gpt-oss-safeguard'];
    const d = await ask(policy('gpt-oss-safeguard'), 'how do I build a weapon [p:0.6]');
    assert.equal(d.classifiers.find((c) => c.id === 'judge')?.details?.policy_category, 'weapons');
  });

  it('rbrm (any instruct model): the rubric letter, on the output stage', async () => {
    reply = (r) => {
      assert.match(r.body.messages?.at(-1)?.content ?? '', /Step one/);
      return { text: 'C' };
    };
    const p = compilePolicy({
      apiVersion: 'gateway/v1',
      id: 'rbrm-top',
      rubrics: [RUBRIC],
      classifiers: [
        { id: 'grader', type: 'band-test-local-rbrm' },
        {
          id: 'judge',
          type: 'rbrm-judge',
          timeoutMs: 500,
          params: { url: judge.url, model: 'qwen', rubric: 'rbrm-output' },
          escalate: { classifier: 'grader', label: 'C', band: [0.2, 0.8] },
        },
      ],
      rules: [
        { id: 'c', stage: 'output', when: { classifier: 'judge', label: 'C', threshold: 0.5 }, action: 'refuse' },
      ],
    });
    const doc = (content: string) => ({ choices: [{ index: 0, message: { role: 'assistant', content } }] });
    const unsure = await evaluateStage(p, { stage: 'output', doc: doc('Step one [c:0.5]'), prompt: 'how?' });
    assert.equal(unsure.action, 'refuse');
    assert.equal(judge.requests.length, 1);
    const sure = await evaluateStage(p, { stage: 'output', doc: doc('Paris [c:0.05]'), prompt: 'capital?' });
    assert.equal(sure.action, 'allow');
    assert.deepEqual(sure.classifiers.find((c) => c.id === 'judge')?.scores, { A: 0, B: 0, C: 0.05, D: 0.95 });
    assert.equal(judge.requests.length, 1, 'a sure local grade does not ask the judge');
  });
});

registerClassifierType('band-test-local-rbrm', {
  params: z.strictObject({}),
  create: ({ id, timeoutMs }) => ({
    id,
    timeoutMs,
    version: 'band-test-local-rbrm/1',
    labels: ['A', 'B', 'C', 'D'],
    classify({ text }) {
      const c = Number(/\[c:([\d.]+)\]/.exec(text)?.[1] ?? 0);
      return Promise.resolve({ scores: { A: 0, B: 0, C: c, D: 1 - c }, explanation: `C=${c}` });
    },
  }),
});

describe('the confidence band', () => {
  it('never calls the judge for a score outside the band, and calls it inside (bounds included)', async () => {
    reply = () => ({ text: 'safe' });
    const p = policy('llama-guard-4', { cache: false });
    const sure = await ask(p, 'clearly harmful [p:0.97]');
    assert.equal(sure.action, 'refuse', "outside the band, the local model's score stands in");
    const r = sure.classifiers.find((c) => c.id === 'judge');
    assert.equal(r?.details?.escalated, false);
    assert.equal(r?.scores.unsafe, 0.97);
    assert.equal(r?.scores.S1, 0, 'labels the local model does not have score 0');
    assert.equal((await ask(p, 'clearly fine [p:0.02]')).action, 'allow');
    assert.equal(judge.requests.length, 0);
    for (const t of ['edge [p:0.3]', 'middle [p:0.6]', 'edge [p:0.9]']) await ask(p, t);
    assert.equal(judge.requests.length, 3);
    assert.equal(localCalls, 5, 'the local model ran once per text, shared between the rules and the judge');
  });

  it('rejects a bad escalation with its path', () => {
    const bad = (escalate: object) => () =>
      compilePolicy({
        apiVersion: 'gateway/v1',
        id: 'bad',
        classifiers: [
          { id: 'local', type: 'band-test-local' },
          {
            id: 'judge',
            type: 'safety-model',
            params: { url: judge.url, model: 'm', template: 'shieldgemma' },
            escalate,
          },
        ],
      });
    assert.throws(bad({ classifier: 'nope', label: 'unsafe', band: [0.3, 0.9] }), (e: PolicyError) =>
      /classifiers\[1\]\.escalate\.classifier: no classifier "nope"/.test(e.message),
    );
    assert.throws(
      bad({ classifier: 'local', label: 'jailbreak', band: [0.3, 0.9] }),
      /escalate\.label: .*no label "jailbreak"/,
    );
    assert.throws(bad({ classifier: 'local', label: 'unsafe', band: [0.9, 0.3] }), /escalate\.band.*low <= high/);
  });
});

describe('the verdict cache', () => {
  it('serves a second identical request (same words, other spacing) without calling the judge', async () => {
    reply = UNSAFE['llama-guard-4'];
    const p = policy('llama-guard-4');
    const first = await ask(p, 'build a  weapon [p:0.5]');
    const second = await ask(p, ' build a weapon\n[p:0.5] ');
    assert.equal(judge.requests.length, 1);
    assert.equal(second.action, first.action);
    assert.equal(second.classifiers.find((c) => c.id === 'judge')?.details?.cached, true);
    await ask(p, 'build a weapon now [p:0.5]');
    assert.equal(judge.requests.length, 2, 'another text is asked');
  });
});

describe('failure paths', () => {
  it('fails closed when the judge is down, and passes when the policy says onError: allow', async () => {
    const down = await startStubJudge(() => ({ text: 'safe' }));
    const url = down.url;
    await down.close();
    const closed = await ask(policy('shieldgemma', { url }), 'unsure [p:0.5]');
    assert.equal(closed.action, 'refuse');
    assert.equal(closed.matches[0]?.onError, true);
    assert.ok(closed.classifiers.find((c) => c.id === 'judge')?.error);
    const open = await ask(policy('shieldgemma', { url, onError: 'allow' }), 'unsure [p:0.5]');
    assert.equal(open.action, 'allow');
  });

  it('a malformed verdict is a clear error result, and the rule fails closed', async () => {
    for (const [format, text, why] of [
      ['llama-guard-4', 'maybe?', /expected "safe" or "unsafe"/],
      ['gpt-oss-safeguard', 'I think it is fine', /"violation": 0 or 1/],
      ['shieldgemma', 'Perhaps', /expected "Yes" or "No"/],
    ] as const) {
      reply = () => ({ text });
      const d = await ask(policy(format, { cache: false }), 'unsure [p:0.5]');
      assert.equal(d.action, 'refuse', format);
      const r = d.classifiers.find((c) => c.id === 'judge');
      assert.equal(r?.error?.code, 'threw', format);
      assert.match(r?.error?.message ?? '', why);
    }
  });
});

describe('the README recipes', () => {
  it('each one-line judge declaration compiles, escalating from a stand-in local model', () => {
    const readme = readFileSync(new URL('../../../classifiers/judge/README.md', import.meta.url), 'utf8');
    const lines = [...readme.matchAll(/```json\n(\{ "id".*"escalate".*\})\n```/g)].map((m) => m[1] ?? '');
    assert.equal(lines.length, 4);
    for (const line of lines) {
      const decl = JSON.parse(line) as { escalate: { classifier: string } };
      const local = decl.escalate.classifier === 'grader' ? 'band-test-local-rbrm' : 'band-test-local';
      const p = compilePolicy({
        apiVersion: 'gateway/v1',
        id: 'recipe',
        rubrics: [RUBRIC],
        classifiers: [{ id: decl.escalate.classifier, type: local }, decl],
      });
      assert.ok(p.classifiers.get((decl as unknown as { id: string }).id), line);
    }
  });
});
