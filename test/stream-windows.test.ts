import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DecisionRecord } from '../audit/types.js';
import { Pipeline, RequestRun, fixedPolicy, requestContext } from '../gateway/pipeline/pipeline.js';
import { openStream, streamOptions, type StreamOptions } from '../gateway/pipeline/stream.js';
import type { ChatCompletionChunk, ChatRequest, Generator } from '../generator/types.js';
import { compilePolicy } from '../policies/load.js';

const policy = compilePolicy({
  apiVersion: 'gateway/v1',
  id: 'windows',
  classifiers: [{ id: 'words', type: 'rules', params: { keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }] } }],
  rules: [
    {
      id: 'no-forbidden',
      stage: 'output',
      when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
      action: 'refuse',
      message: 'No.',
    },
  ],
});

const piece = (c: string, finish: string | null = null): ChatCompletionChunk => ({
  id: 'up-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content: c }, finish_reason: finish }],
});

/** A generator that streams `text` in pieces of `size` characters, as fast as it is read. */
const generator = (text: string, size: number): Generator => ({
  id: 'fake',
  close: () => Promise.resolve(),
  complete: () => Promise.reject(new Error('not used')),
  async *stream() {
    for (let i = 0; i < text.length; i += size) yield piece(text.slice(i, i + size));
    yield piece('', 'stop');
  },
});

/** Streams `text` through the pipeline and returns what the client got and every text the output stage checked. */
async function run(text: string, options: Partial<StreamOptions>, size = 7, upstream = generator(text, size)) {
  const records: DecisionRecord[] = [];
  const pipeline = new Pipeline({
    policies: fixedPolicy(policy),
    generator: upstream,
    audit: { append: async (r) => void records.push(r), close: async () => undefined },
    contentMode: 'full',
    instance: 'test',
  });
  const request: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true };
  const ctx = requestContext();
  const { chunks } = await openStream(pipeline, request, ctx, new AbortController().signal, options);
  let got = '';
  const sent: ChatCompletionChunk[] = [];
  for await (const c of chunks) {
    sent.push(c);
    got += c.choices[0]?.delta?.content ?? '';
  }
  return { got, sent, checked: [...checked], record: records[0] };
}

let checked: string[] = [];
const original = RequestRun.prototype.runOutput;
beforeEach(() => {
  checked = [];
  RequestRun.prototype.runOutput = function (this: RequestRun, text: string | object, signal: AbortSignal) {
    if (typeof text === 'string') checked.push(text);
    return original.call(this, text, signal);
  };
});
afterEach(() => {
  RequestRun.prototype.runOutput = original;
});

const answer = 'lorem ipsum dolor sit amet '.repeat(800); // 21,600 characters

for (const mode of ['progressive', 'buffer', 'stream-first'] as const) {
  describe(`output windows in ${mode} mode`, () => {
    it('checks a long answer in linear work: windows of new text with bounded context, then one whole-text check', async () => {
      const { got, checked } = await run(answer, { mode, windowChars: 400, overlapChars: 100 });
      assert.equal(got, answer);
      assert.equal(checked.at(-1), answer, 'the last check covers the whole answer');
      const windows = checked.slice(0, -1);
      // Buffer mode holds back whole chunks, so a window may carry one chunk more than the overlap.
      assert.ok(
        windows.every((w) => w.length <= 400 + 100 + 2 * 7),
        'a window grew past window + overlap + two chunks',
      );
      const work = windows.reduce((a, w) => a + w.length, 0);
      assert.ok(work <= answer.length * 1.4, `window work ${work} is not linear in ${answer.length}`);
      assert.ok(windows.length >= Math.floor(answer.length / 400) - 1);
    });

    it('checks every character even without the final check', async () => {
      const { got, checked } = await run(answer.slice(0, 1000) + ' FORBIDDEN', {
        mode,
        windowChars: 300,
        overlapChars: 50,
        finalCheck: false,
      });
      assert.ok(got.endsWith('No.'));
      assert.ok(checked.every((w) => w.length <= 300 + 50 + 2 * 7));
    });

    it('catches a violation longer than the overlap across a window edge with the final check', async () => {
      const long = 'FORBIDDEN';
      const text = 'x'.repeat(396) + ' ' + long + ' ' + 'y'.repeat(20);
      const { got, record } = await run(text, { mode, windowChars: 400, overlapChars: 4 }, 1);
      assert.ok(got.endsWith('No.'));
      assert.equal(record.action, 'refuse');
      assert.equal(record.content.output, got);
    });
  });
}

describe('stream identity', () => {
  for (const mode of ['progressive', 'buffer', 'stream-first'] as const) {
    it(`gives every chunk the first chunk's id, model and created, and a role first (${mode})`, async () => {
      const drifting: Generator = {
        id: 'drifting',
        close: () => Promise.resolve(),
        complete: () => Promise.reject(new Error('not used')),
        async *stream() {
          for (let i = 0; i < 5; i++)
            yield { ...piece(`p${i} `), id: `up-${i}`, created: 100 + i, model: i ? 'm-2024' : 'm' };
          yield { ...piece('', 'stop'), id: 'up-last' };
        },
      };
      const { got, sent } = await run('', { mode }, 7, drifting);
      assert.equal(got, 'p0 p1 p2 p3 p4 ');
      assert.equal(sent[0].choices[0].delta.role, 'assistant');
      assert.ok(sent.every((c) => c.id === 'up-0' && c.created === 100 && c.model === 'm'));
    });
  }
});

describe('stream options', () => {
  it('rejects an overlap that is not smaller than the window', () => {
    assert.throws(() => streamOptions({ windowChars: 100, overlapChars: 100 }), /overlapChars/);
    assert.throws(() => streamOptions({ mode: 'later' as never }), /mode/);
  });
});
