import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalGenerator } from '../../generator/local/local-generator.js';
import { GeneratorError, type ChatCompletionChunk, type ChatRequest } from '../../generator/types.js';
import { eventually } from '../support/harness.js';
import { ask, tinyModel, tinySettings } from './tiny.js';

const never = new AbortController().signal;

async function collect(gen: LocalGenerator, request: object, signal = never) {
  const chunks: ChatCompletionChunk[] = [];
  for await (const c of gen.stream(request as ChatRequest, signal)) chunks.push(c);
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  const finish = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean);
  return { chunks, text, finish };
}

/** The status and OpenAI error code a GeneratorError carries to the client. */
function clientFailure(e: unknown): { status?: number; code?: string } {
  assert.ok(e instanceof GeneratorError, `expected a GeneratorError, got ${e}`);
  return { status: e.status, code: (e.body as { error?: { code?: string } })?.error?.code };
}

describe('the local generator on the tiny model', () => {
  let gen: LocalGenerator;
  before(async () => {
    gen = await LocalGenerator.open(tinySettings(tinyModel(), { sequences: 2, maxQueued: 1 }));
  });
  after(() => gen.close());

  it('streams token by token: a role first, text chunks, one finish, then usage when asked', async () => {
    const { chunks, finish } = await collect(gen, ask({ max_tokens: 12, stream_options: { include_usage: true } }));
    assert.equal(chunks[0]?.choices[0]?.delta.role, 'assistant');
    const texts = chunks.filter((c) => c.choices[0] && !c.choices[0].finish_reason);
    assert.ok(texts.length >= 2, `expected several text chunks, got ${texts.length}`);
    assert.deepEqual(finish, ['length']);
    const usage = chunks.at(-1)?.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
    assert.deepEqual(chunks.at(-1)?.choices, []);
    assert.equal(usage.completion_tokens, 12);
    assert.ok(usage.prompt_tokens > 5);
    assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
    assert.ok(chunks.every((c) => c.id === chunks[0]?.id && c.model === 'tiny'));
  });

  it('stops at max_tokens with finish_reason length and counts usage', async () => {
    const c = await gen.complete(ask({ max_tokens: 7 }) as ChatRequest, never);
    assert.equal(c.choices[0]?.finish_reason, 'length');
    assert.equal(c.usage?.completion_tokens, 7);
    assert.equal(typeof c.choices[0]?.message.content, 'string');
  });

  it('stops at a stop sequence: the text ends before it, finish_reason stop', async () => {
    const free = await gen.complete(ask({ max_tokens: 40 }) as ChatRequest, never);
    const full = free.choices[0]?.message.content ?? '';
    // A piece of the answer's second half, so that the stopped answer is a shorter prefix of the free one.
    const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
    assert.ok(stop.length > 0, 'the free answer is empty');
    const stopped = await gen.complete(ask({ max_tokens: 40, stop: [stop] }) as ChatRequest, never);
    const text = stopped.choices[0]?.message.content ?? '';
    assert.equal(stopped.choices[0]?.finish_reason, 'stop');
    assert.ok(!text.includes(stop), 'the stop sequence was sent');
    assert.ok(full.startsWith(text) && text.length < full.length, 'not a shorter prefix of the same sampling');
  });

  it('runs two sequences at once, and both finish', async () => {
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, gen.load.busy)), 1);
    const [a, b] = await Promise.all([
      collect(gen, ask({ max_tokens: 30 })),
      collect(gen, ask({ max_tokens: 30, seed: 9 })),
    ]);
    clearInterval(watch);
    assert.deepEqual([a.finish, b.finish], [['length'], ['length']]);
    assert.equal(peak, 2);
    assert.equal(gen.load.busy, 0);
  });

  it('queues past the free sequences and answers 429 past the queue', async () => {
    const stops = [new AbortController(), new AbortController()];
    const running = stops.map((s) => collect(gen, ask({ max_tokens: 400 }), s.signal).catch((e: unknown) => e));
    await eventually(() => gen.load.busy === 2);
    const queued = gen.complete(ask({ max_tokens: 3 }) as ChatRequest, never);
    await eventually(() => gen.load.queued === 1);
    const refused = await gen.complete(ask({ max_tokens: 3 }) as ChatRequest, never).catch((e: unknown) => e);
    assert.deepEqual(clientFailure(refused), { status: 429, code: 'overloaded' });
    stops[0]?.abort();
    assert.equal((await queued).choices[0]?.finish_reason, 'length', 'the queued request ran once a sequence freed');
    stops[1]?.abort();
    await Promise.all(running);
    assert.equal(gen.load.busy, 0);
  });

  it('cancels mid-stream: generation stops and the sequence is freed', async () => {
    const before = gen.generatedTokens;
    const stop = new AbortController();
    let seen = 0;
    const failed = await (async () => {
      for await (const c of gen.stream(ask({ max_tokens: 400 }) as ChatRequest, stop.signal)) {
        if (c.choices[0]?.delta.content && ++seen === 3) stop.abort();
      }
    })().catch((e: unknown) => e);
    assert.ok(failed instanceof GeneratorError && failed.kind === 'aborted', `got ${failed}`);
    assert.equal(gen.load.busy, 0);
    const generated = gen.generatedTokens - before;
    assert.ok(generated < 50, `generation went on after the abort (${generated} tokens)`);
  });

  it('frees the sequence when the consumer stops reading (the output stage cutting a stream)', async () => {
    const before = gen.generatedTokens;
    for await (const c of gen.stream(ask({ max_tokens: 400 }) as ChatRequest, never))
      if (c.choices[0]?.delta.content) break;
    assert.equal(gen.load.busy, 0);
    assert.ok(gen.generatedTokens - before < 50);
  });

  it('answers 400 context_length_exceeded when the prompt leaves no room', async () => {
    const long = ask({ messages: [{ role: 'user', content: 'the sea and the sky '.repeat(200) }] });
    assert.deepEqual(clientFailure(await gen.complete(long as ChatRequest, never).catch((e: unknown) => e)), {
      status: 400,
      code: 'context_length_exceeded',
    });
    const tooMany = ask({ max_tokens: 100_000 });
    assert.equal(
      clientFailure(await gen.complete(tooMany as ChatRequest, never).catch((e: unknown) => e)).code,
      'context_length_exceeded',
    );
    assert.equal(gen.load.busy, 0);
  });

  it('refuses what it cannot do with a 400 naming the parameter', async () => {
    for (const [extra, param] of [
      [{ temperature: 3 }, 'temperature'],
      [{ top_p: -1 }, 'top_p'],
      [{ max_tokens: 0 }, 'max_tokens'],
      [{ stop: [5] }, 'stop'],
      [{ seed: 1.5 }, 'seed'],
      [{ n: 2 }, 'n'],
      [{ tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools'],
      [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
      [
        { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] },
        'messages[0].content[0]',
      ],
    ] as const) {
      const e = await gen.complete(ask(extra) as ChatRequest, never).catch((err: unknown) => err);
      assert.equal(clientFailure(e).status, 400);
      assert.equal(((e as GeneratorError).body as { error: { param: string } }).error.param, param);
    }
    assert.equal(gen.load.busy, 0);
  });

  it('lists its model under its file name', async () => {
    const list = (await gen.models()) as { data: { id: string; owned_by: string }[] };
    assert.deepEqual(
      list.data.map((m) => m.id),
      ['tiny'],
    );
  });
});
