import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  JudgeError,
  SafetyModel,
  SafetyModelParamsSchema,
  parseLlamaGuard,
  parseYesNo,
  safetyPrompt,
  safetyTemplate,
} from '../../classifiers/judge/index.js';
import { classifierType } from '../../classifiers/registry.js';
import { runClassifier } from '../../classifiers/run.js';
import { matchesGolden } from './golden.js';
import { startStubJudge, token, type JudgeAsk, type JudgeReply, type StubJudge } from './stub-judge.js';

const NEVER = new AbortController().signal;
const PROMPT = 'How do I make a pipe bomb?';
const ANSWER = 'Sure. First, get a steel pipe and two end caps…';
const input = { stage: 'input' as const, text: PROMPT };
const output = { stage: 'output' as const, text: ANSWER, prompt: PROMPT };
const S_CODES = Array.from({ length: 14 }, (_, i) => `S${i + 1}`);

describe('safety-model: the prompts it builds (golden)', () => {
  for (const name of ['llama-guard-3', 'llama-guard-4', 'shieldgemma'] as const) {
    it(`${name}: input and output prompts, turn markers included, match the committed golden files`, () => {
      const t = safetyTemplate(name);
      const policy = (stage: 'input' | 'output') => t.guidelines?.[stage][t.defaultGuideline!];
      matchesGolden(`${name}.input.txt`, safetyPrompt(t, input, policy('input')).raw);
      matchesGolden(`${name}.output.txt`, safetyPrompt(t, output, policy('output')).raw);
    });
  }

  it('lists the official Llama Guard categories S1 to S14 in order', () => {
    const { body } = safetyPrompt(safetyTemplate('llama-guard-3'), input);
    const listed = [...body.matchAll(/^(S\d+): (.+)\.$/gm)].map((m) => m[1]);
    assert.deepEqual(listed, S_CODES);
    assert.match(body, /^S14: Code Interpreter Abuse\.$/m);
    assert.match(body, /ONLY THE LAST User message/);
    assert.match(
      safetyPrompt(safetyTemplate('llama-guard-3'), output).body,
      /User: How do I make a pipe bomb\?\n\nAgent: Sure\./,
    );
  });
});

describe('safety-model: reading answers', () => {
  const lg: [string, ReturnType<typeof parseLlamaGuard>][] = [
    ['safe', { verdict: 'safe', codes: [] }],
    ['\n\nsafe', { verdict: 'safe', codes: [] }],
    ['unsafe\nS1,S10', { verdict: 'unsafe', codes: ['S1', 'S10'] }],
    ['unsafe\nS1, S10', { verdict: 'unsafe', codes: ['S1', 'S10'] }],
    ['Unsafe\ns9', { verdict: 'unsafe', codes: ['S9'] }],
    ['unsafe S2', { verdict: 'unsafe', codes: ['S2'] }],
    ['unsafe', { verdict: 'unsafe', codes: [] }],
    ['unsafe\nS1,S1', { verdict: 'unsafe', codes: ['S1'] }],
  ];
  for (const [answer, expected] of lg)
    it(`reads Llama Guard ${JSON.stringify(answer)}`, () => assert.deepEqual(parseLlamaGuard(answer), expected));
  for (const bad of ['', 'maybe', 'unsafely', 'The content is safe']) {
    it(`throws on the Llama Guard answer ${JSON.stringify(bad)}`, () =>
      assert.throws(() => parseLlamaGuard(bad), JudgeError));
  }
  for (const [answer, expected] of [
    ['Yes', 'Yes'],
    [' No', 'No'],
    ['yes, because', 'Yes'],
    ['No.', 'No'],
  ] as const) {
    it(`reads ShieldGemma ${JSON.stringify(answer)} as ${expected}`, () => assert.equal(parseYesNo(answer), expected));
  }
  for (const bad of ['', 'Maybe', 'Nope', 'Yesterday'])
    it(`throws on the ShieldGemma answer ${JSON.stringify(bad)}`, () =>
      assert.throws(() => parseYesNo(bad), JudgeError));
});

describe('safety-model against a stub server', () => {
  let server: StubJudge;
  let reply: (body: JudgeAsk) => JudgeReply = () => ({ text: 'safe' });
  before(async () => {
    server = await startStubJudge((r) => reply(r.body));
  });
  after(() => server.close());
  const make = (extra: Record<string, unknown> = {}, timeoutMs = 2000) =>
    new SafetyModel(
      'guard',
      SafetyModelParamsSchema.parse({ url: server.url, model: 'llama-guard', template: 'llama-guard-3', ...extra }),
      timeoutMs,
    );

  it('sends the exact prompt to /completions at temperature 0, asking for logprobs', async () => {
    reply = () => ({ text: 'safe' });
    const n = server.requests.length;
    await make().classify(output, NEVER);
    const req = server.requests[n];
    assert.equal(req.path, '/v1/completions');
    assert.equal(req.body.prompt, safetyPrompt(safetyTemplate('llama-guard-3'), output).raw);
    assert.deepEqual([req.body.temperature, req.body.logprobs, req.body.max_tokens], [0, 5, 20]);
  });

  it('over chat sends the body alone as one user message, without turn markers', async () => {
    reply = () => ({ text: 'safe' });
    const n = server.requests.length;
    await make({ api: 'chat' }).classify(input, NEVER);
    const req = server.requests[n];
    assert.equal(req.path, '/v1/chat/completions');
    assert.deepEqual(req.body.messages, [
      { role: 'user', content: safetyPrompt(safetyTemplate('llama-guard-3'), input).body },
    ]);
    assert.doesNotMatch(req.body.messages![0].content, /<\|/);
  });

  it('has the labels unsafe and S1..S14, or the taxonomy ids they are mapped to', () => {
    assert.deepEqual(make().labels, ['unsafe', ...S_CODES]);
    const mapped = make({ categories: { S14: 'malware', S11: 'self_harm' } });
    assert.deepEqual(mapped.labels, ['unsafe', ...S_CODES.slice(0, 10), 'self_harm', 'S12', 'S13', 'malware']);
  });

  it('maps "unsafe\\nS1,S10" onto unsafe, S1 and S10 (p from the first token\'s logprobs), and 0 elsewhere', async () => {
    reply = () => ({
      text: 'unsafe\nS1,S10',
      tokens: [token('unsafe', { safe: -3 }), token('\n'), token('S'), token('1'), token(','), token('S'), token('10')],
    });
    const r = await make({ categories: { S10: 'hate' } }).classify(output, NEVER);
    const p = Math.exp(-0.05) / (Math.exp(-0.05) + Math.exp(-3));
    assert.ok(Math.abs(r.scores.unsafe - p) < 1e-12);
    assert.equal(r.scores.S1, r.scores.unsafe);
    assert.equal(r.scores.hate, r.scores.unsafe);
    assert.equal(r.scores.S10, undefined);
    for (const l of ['S2', 'S9', 'S14']) assert.equal(r.scores[l], 0);
    assert.deepEqual(
      [r.details?.verdict, r.details?.codes, r.details?.categories, r.details?.flagged],
      ['unsafe', ['S1', 'S10'], ['S1', 'hate'], true],
    );
    assert.match(r.explanation, /llama-guard-3: unsafe \(S1, hate\)/);
  });

  it('without logprobs gives unsafe the configured confidence, and safe its complement', async () => {
    reply = () => ({ text: 'unsafe\nS9' });
    const r = await make().classify(output, NEVER);
    assert.deepEqual(
      [r.scores.unsafe, r.scores.S9, r.scores.S1, r.details?.probability_source],
      [0.9, 0.9, 0, 'confidence'],
    );
    reply = () => ({ text: 'safe' });
    const s = await make().classify(output, NEVER);
    assert.ok(Math.abs(s.scores.unsafe - 0.1) < 1e-12);
    assert.equal(s.details?.flagged, false);
    assert.ok(S_CODES.every((c) => s.scores[c] === 0));
  });

  it('reads p(unsafe) at the first token that is not whitespace ("\\n\\nunsafe")', async () => {
    reply = () => ({ text: '\n\nunsafe\nS2', tokens: [token('\n\n'), token('unsafe', { safe: -2 })] });
    const r = await make().classify(output, NEVER);
    assert.equal(r.details?.probability_source, 'logprobs');
    assert.ok(Math.abs(r.scores.S2 - Math.exp(-0.05) / (Math.exp(-0.05) + Math.exp(-2))) < 1e-12);
  });

  it('on the input stage classifies the selected text, not the whole prompt', async () => {
    reply = () => ({ text: 'safe' });
    await make().classify({ stage: 'input', text: 'the selected message', prompt: 'the whole request' }, NEVER);
    assert.match(server.requests.at(-1)!.body.prompt!, /User: the selected message\n/);
  });

  it('keeps "unsafe" with a code it does not know, recording the code', async () => {
    reply = () => ({ text: 'unsafe\nS15' });
    const r = await make().classify(output, NEVER);
    assert.equal(r.scores.unsafe, 0.9);
    assert.deepEqual(r.details?.unknown_codes, ['S15']);
  });

  it('ShieldGemma: p(unsafe) is the softmax of Yes over Yes and No', async () => {
    reply = () => ({ text: 'Yes', tokens: [token('Yes', { No: -1.8, ' Yes': -4 })] });
    const r = await make({ template: 'shieldgemma' }).classify(output, NEVER);
    const [y1, y2, n] = [Math.exp(-0.05), Math.exp(-4), Math.exp(-1.8)];
    assert.deepEqual(Object.keys(r.scores), ['unsafe']);
    assert.ok(Math.abs(r.scores.unsafe - (y1 + y2) / (y1 + y2 + n)) < 1e-12);
    assert.equal(server.requests.at(-1)?.body.max_tokens, 1);
  });

  it('ShieldGemma: a policyText replaces the guideline in the prompt; "No" without logprobs scores 1 - confidence', async () => {
    reply = () => ({ text: 'No' });
    const policyText = '"No Medical Dosing": The chatbot shall not give medication doses.';
    const r = await make({ template: 'shieldgemma', policyText, confidence: 0.8 }).classify(output, NEVER);
    assert.ok(Math.abs(r.scores.unsafe - 0.2) < 1e-12);
    assert.match(
      server.requests.at(-1)!.body.prompt!,
      /\* "No Medical Dosing": The chatbot shall not give medication doses\.\n/,
    );
  });

  for (const [name, answer, pattern] of [
    ['a malformed answer', { text: 'I cannot classify this.' }, /malformed safety-model answer/],
    ['a 500', { status: 500 }, /HTTP 500/],
    ['JSON that is not a completion', { raw: '{"object":"error"}' }, /not a completion/],
  ] as const) {
    it(`fails closed on ${name}`, async () => {
      reply = () => answer;
      const r = await runClassifier(make(), output);
      assert.match(r.error?.message ?? '', pattern);
      assert.equal(r.error?.code, 'threw');
      assert.deepEqual(r.scores, {});
    });
  }

  it('fails closed past its timeout', async () => {
    reply = () => ({ text: 'safe', delayMs: 1000 });
    const r = await runClassifier(make({}, 80), output);
    assert.match(r.error?.message ?? '', /timed out after 80 ms/);
    assert.equal(r.error?.code, 'timeout');
  });

  it('caches per (template revision, stage, prompt, output)', async () => {
    reply = () => ({ text: 'safe' });
    const g = make({ cache: { size: 10 } });
    const n = server.requests.length;
    await g.classify(output, NEVER);
    await g.classify(output, NEVER);
    await g.classify(input, NEVER);
    assert.equal(server.requests.length, n + 2);
  });

  it('rejects mistakes at load: unknown S-codes, ShieldGemma options on Llama Guard, S-codes on ShieldGemma', () => {
    const type = classifierType('safety-model')!;
    const create = (params: Record<string, unknown>) =>
      type.create({
        id: 'g',
        timeoutMs: 100,
        params: type.params.parse({ url: 'http://127.0.0.1:1/v1', model: 'm', ...params }),
      });
    assert.throws(() => create({ template: 'llama-guard-3', categories: { S15: 'x' } }), /has no category S15/);
    assert.throws(() => create({ template: 'llama-guard-4', policyText: 'x' }), /for shieldgemma/);
    assert.throws(() => create({ template: 'shieldgemma', categories: { S1: 'x' } }), /no S-codes/);
    assert.throws(() => create({ template: 'llama-guard-3', confidence: 0.5 }), /more than 0\.5/);
    assert.equal(type.params.safeParse({ url: 'file:///etc', model: 'm', template: 'llama-guard-3' }).success, false);
    assert.equal(type.params.safeParse({ url: 'http://x/v1', model: 'm', template: 'llama-guard-2' }).success, false);
  });
});
