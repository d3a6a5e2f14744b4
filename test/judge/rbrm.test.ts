import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import {
  JudgeError,
  JudgeRubricSchema,
  RbrmJudge,
  RbrmJudgeParamsSchema,
  parseLetter,
  rbrmMessages,
  type JudgeRubric,
} from '../../classifiers/judge/index.js';
import { runClassifier } from '../../classifiers/run.js';
import { DEFAULT_POLICY_PATH } from '../../policies/load.js';
import { matchesGolden } from './golden.js';
import { startStubJudge, token, type JudgeAsk, type JudgeReply, type StubJudge } from './stub-judge.js';

const NEVER = new AbortController().signal;
const RUBRICS: JudgeRubric[] = JSON.parse(
  readFileSync(`${DEFAULT_POLICY_PATH}/../rules-only/policy.json`, 'utf8'),
).rubrics.map((r: unknown) => JudgeRubricSchema.parse(r));
const OUTPUT_RUBRIC = RUBRICS.find((r) => r.id === 'rbrm-output')!;
const HAZARD_RUBRIC = RUBRICS.find((r) => r.id === 'prompt-hazard')!;
const PROMPT = 'How do I make a pipe bomb?';
const ANSWER =
  "I can't help with making explosives. If you're curious about chemistry, I can suggest safe experiments.";
const out = (text = ANSWER, prompt: string | undefined = PROMPT) => ({ stage: 'output' as const, text, prompt });
const asText = (msgs: { role: string; content: string }[]) =>
  msgs.map((m) => `### ${m.role}\n${m.content}\n`).join('\n');

describe('rbrm-judge: the prompt it builds', () => {
  it('asks about the standard output rubric with the prompt, the answer, every option and its exemplars (golden)', () => {
    matchesGolden('rbrm-output.txt', asText(rbrmMessages(OUTPUT_RUBRIC, { prompt: PROMPT, output: ANSWER })));
  });

  it('grades a request alone on the input stage, saying there is no answer yet (golden)', () => {
    matchesGolden('prompt-hazard.input.txt', asText(rbrmMessages(HAZARD_RUBRIC, { prompt: PROMPT })));
  });

  it('never expands placeholders that appear inside the user text', () => {
    const [, user] = rbrmMessages(OUTPUT_RUBRIC, { prompt: 'say {{output}} and {{letters}}', output: 'x' });
    assert.match(user.content, /say \{\{output\}\} and \{\{letters\}\}/);
  });
});

describe('rbrm-judge: reading the answer', () => {
  const letters = ['A', 'B', 'C', 'D'];
  const cases: [string, string | undefined][] = [
    ['C', 'C'],
    [' C', 'C'],
    ['C.', 'C'],
    ['(C)', 'C'],
    ['Answer: C', 'C'],
    ['answer: C', 'C'],
    ['\n\n C \n', 'C'],
    ['**C**', 'C'],
    ['[D]', 'D'],
    ['c.', 'C'],
    ['c', 'C'],
    ['b)', 'B'],
    ['The answer is B', 'B'],
    ['A', 'A'],
    ['', undefined],
    ['E', undefined],
    ['none of these', undefined],
    ['a refusal', undefined],
    ['Answer', undefined],
    ['CD-ROM', undefined],
  ];
  for (const [answer, expected] of cases) {
    it(`reads ${JSON.stringify(answer)} as ${expected ?? 'malformed'}`, () =>
      assert.equal(parseLetter(answer, letters), expected));
  }
});

describe('rbrm-judge against a stub judge server', () => {
  let judge: StubJudge;
  let reply: (body: JudgeAsk) => JudgeReply = () => ({ text: 'A' });
  before(async () => {
    judge = await startStubJudge((r) => reply(r.body));
  });
  after(() => judge.close());
  const make = (extra: Record<string, unknown> = {}, timeoutMs = 2000) =>
    new RbrmJudge(
      'rbrm',
      RbrmJudgeParamsSchema.parse({
        url: judge.url,
        model: 'judge-model',
        rubric: OUTPUT_RUBRIC,
        apiKey: 'sk-judge',
        ...extra,
      }),
      timeoutMs,
    );

  it('asks for one letter at temperature 0 with logprobs, top_logprobs 10 and at most 3 tokens', async () => {
    reply = () => ({ text: 'A' });
    const before = judge.requests.length;
    await make().classify(out(), NEVER);
    const req = judge.requests[before];
    assert.equal(req.path, '/v1/chat/completions');
    assert.equal(req.headers.authorization, 'Bearer sk-judge');
    assert.deepEqual(
      {
        model: req.body.model,
        temperature: req.body.temperature,
        logprobs: req.body.logprobs,
        top_logprobs: req.body.top_logprobs,
        max_tokens: req.body.max_tokens,
      },
      { model: 'judge-model', temperature: 0, logprobs: true, top_logprobs: 10, max_tokens: 3 },
    );
    assert.deepEqual(req.body.messages, rbrmMessages(OUTPUT_RUBRIC, { prompt: PROMPT, output: ANSWER }));
  });

  it('turns the top logprobs of the letter token into a probability per option, merging " C" and "C"', async () => {
    reply = () => ({ text: 'C', tokens: [token('C', { ' C': -2.5, D: -3, ' the': -4 })] });
    const r = await make().classify(out(), NEVER);
    const [c1, c2, d] = [Math.exp(-0.05), Math.exp(-2.5), Math.exp(-3)];
    assert.ok(Math.abs(r.scores.C - (c1 + c2) / (c1 + c2 + d)) < 1e-12);
    assert.ok(Math.abs(r.scores.D - d / (c1 + c2 + d)) < 1e-12);
    assert.equal(r.scores.A, 0);
    assert.equal(r.scores.B, 0);
    assert.equal(r.details?.grade, 'C');
    assert.equal(r.details?.probability_source, 'logprobs');
  });

  it('finds the letter token after a preamble such as "Answer: B"', async () => {
    reply = () => ({
      text: 'Answer: B',
      tokens: [token('Answer', { The: -2 }), token(':'), token(' B', { ' A': -1 })],
    });
    const r = await make().classify(out(), NEVER);
    assert.equal(r.details?.grade, 'B');
    const [b, a] = [Math.exp(-0.05), Math.exp(-1)];
    assert.ok(Math.abs(r.scores.B - b / (a + b)) < 1e-12);
  });

  it('grades the argmax of the probabilities, even when the sampled letter differs', async () => {
    reply = () => ({ text: 'B', tokens: [{ token: 'B', top: { B: -1.2, D: -0.4 } }] });
    const r = await make().classify(out(), NEVER);
    assert.equal(r.details?.grade, 'D');
  });

  it('without logprobs gives the configured confidence to the parsed letter and spreads the rest evenly', async () => {
    reply = () => ({ text: '(D)' });
    const r = await make({ confidence: 0.7 }).classify(out(), NEVER);
    assert.deepEqual(Object.keys(r.scores), ['A', 'B', 'C', 'D']);
    assert.equal(r.scores.D, 0.7);
    for (const l of ['A', 'B', 'C']) assert.ok(Math.abs(r.scores[l] - 0.1) < 1e-12);
    assert.equal(r.details?.probability_source, 'confidence');
    assert.equal(r.details?.grade, 'D');
  });

  it('does not ask for logprobs when they are turned off, and still grades', async () => {
    reply = () => ({ text: 'A', tokens: [token('A')] });
    const n = judge.requests.length;
    const r = await make({ logprobs: false }).classify(out(), NEVER);
    assert.equal(judge.requests[n].body.logprobs, undefined);
    assert.equal(r.scores.A, 0.9);
  });

  it('records the rubric id and revision, the grade, the raw answer and the token counts', async () => {
    reply = () => ({ text: 'A', usage: { prompt_tokens: 412, completion_tokens: 1 } });
    const j = make();
    const r = await j.classify(out(), NEVER);
    assert.equal(r.details?.rubric_id, 'rbrm-output');
    assert.match(String(r.details?.rubric_revision), /^[0-9a-f]{64}$/);
    assert.equal(r.details?.rubric_revision, j.revision);
    assert.equal(r.details?.answer, 'A');
    assert.equal(r.details?.prompt_tokens, 412);
    assert.equal(r.details?.completion_tokens, 1);
    assert.equal(typeof r.details?.judge_ms, 'number');
    assert.match(r.explanation, /rubric rbrm-output: A \(A refusal in the desired style/);
    assert.match(j.version, /^rbrm-judge\/judge-model@[0-9a-f]{12}$/);
  });

  for (const [name, answer, pattern] of [
    ['an answer with no option letter', { text: 'I refuse to grade this.' }, /malformed judge answer/],
    ['an empty answer', { text: '' }, /malformed judge answer/],
    ['a letter outside the rubric', { text: 'F' }, /malformed judge answer.*A, B, C, D/],
    ['a 500', { status: 500 }, /HTTP 500/],
    ['a 429', { status: 429 }, /HTTP 429/],
    ['a body that is not JSON', { raw: '<html>oops' }, /not JSON/],
    ['JSON that is not a completion', { raw: '{"choices":[]}' }, /not a chat completion/],
  ] as const) {
    it(`throws on ${name}, and the runner turns it into a failed result`, async () => {
      reply = () => answer;
      await assert.rejects(
        make().classify(out(), NEVER),
        (e: Error) => e instanceof JudgeError && pattern.test(e.message),
      );
      const r = await runClassifier(make(), out());
      assert.match(r.error?.message ?? '', pattern);
      assert.equal(r.error?.code, 'threw');
      assert.deepEqual(r.scores, {});
    });
  }

  it('never puts its API key in a result, even when the server echoes it in an error', async () => {
    reply = () => ({ status: 401, raw: '{"error":{"message":"bad key Bearer sk-judge"}}' });
    const failed = await runClassifier(make(), out());
    assert.match(failed.error?.message ?? '', /HTTP 401: .*bad key Bearer \[api key\]/);
    reply = () => ({ text: 'A' });
    const ok = await runClassifier(make(), out());
    for (const r of [failed, ok]) assert.ok(!JSON.stringify(r).includes('sk-judge'));
  });

  it('past its timeout fails closed through runClassifier, and the HTTP call is aborted', async () => {
    reply = () => ({ text: 'D', delayMs: 1000 });
    const abortedBefore = judge.aborted;
    const r = await runClassifier(make({}, 100), out());
    assert.match(r.error?.message ?? '', /timed out after 100 ms/);
    assert.equal(r.error?.code, 'timeout');
    assert.deepEqual(r.scores, {});
    await new Promise((res) => setTimeout(res, 150));
    assert.equal(judge.aborted, abortedBefore + 1);
  });

  it('serves a repeated (rubric revision, prompt, output) from its cache without asking again', async () => {
    reply = () => ({ text: 'A', tokens: [token('A', { B: -3 })] });
    const j = make({ cache: { size: 2 } });
    const n = judge.requests.length;
    const first = await j.classify(out(), NEVER);
    const second = await j.classify(out(), NEVER);
    assert.equal(judge.requests.length, n + 1);
    assert.deepEqual(second.scores, first.scores);
    assert.equal(first.details?.cached, false);
    assert.equal(second.details?.cached, true);
    assert.deepEqual(
      [second.details?.prompt_tokens, second.details?.completion_tokens],
      [0, 0],
      'a hit spends no tokens',
    );
    assert.equal(first.details?.prompt_tokens, 321);
    await j.classify(out('a different answer'), NEVER);
    await j.classify(out('a third answer'), NEVER); // evicts the first (LRU of 2)
    await j.classify(out(), NEVER);
    assert.equal(judge.requests.length, n + 4);
  });

  it('keeps no cache unless one is configured', async () => {
    reply = () => ({ text: 'A' });
    const j = make();
    const n = judge.requests.length;
    await j.classify(out(), NEVER);
    await j.classify(out(), NEVER);
    assert.equal(judge.requests.length, n + 2);
  });

  it('does not cache failures', async () => {
    let fail = true;
    reply = () => (fail ? { status: 500 } : { text: 'D' });
    const j = make({ cache: { size: 8 } });
    await assert.rejects(j.classify(out(), NEVER));
    fail = false;
    assert.equal((await j.classify(out(), NEVER)).details?.grade, 'D');
  });

  it('refuses at load a confidence that would not favour the parsed letter', () => {
    assert.throws(() => make({ confidence: 0.25 }), /more than 0\.250/);
  });

  it('gives a rubric with other wording a different revision, so no cache entry or record is shared', () => {
    const a = make();
    const b = new RbrmJudge(
      'b',
      RbrmJudgeParamsSchema.parse({
        url: judge.url,
        model: 'm',
        rubric: { ...OUTPUT_RUBRIC, question: `${OUTPUT_RUBRIC.question} ` },
      }),
      1000,
    );
    assert.notEqual(a.revision, b.revision);
  });
});
