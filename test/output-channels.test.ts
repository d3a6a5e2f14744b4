import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionRecord } from '../audit/types.js';
import { Pipeline, fixedPolicy, requestContext } from '../gateway/pipeline/pipeline.js';
import { openStream } from '../gateway/pipeline/stream.js';
import type { StreamMode } from '../gateway/pipeline/stream-options.js';
import type { ChatCompletion, ChatCompletionChunk, ChunkChoice, Generator } from '../generator/types.js';
import { OpenAIHttpGenerator } from '../generator/openai-http.js';
import { compilePolicy } from '../policies/load.js';
import { serveLocal } from './support/local-server.js';

/** Refuses FORBIDDEN and redacts email addresses, on the output stage, with the default output selection. */
const policy = compilePolicy({
  apiVersion: 'gateway/v1',
  id: 'channels',
  classifiers: [
    {
      id: 'words',
      type: 'rules',
      params: {
        keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }],
        detectors: [{ detector: 'email', label: 'pii' }],
      },
    },
  ],
  rules: [
    {
      id: 'no-forbidden',
      stage: 'output',
      when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
      action: 'refuse',
      message: 'withheld',
    },
    {
      id: 'hide-pii',
      stage: 'output',
      when: { classifier: 'words', label: 'pii', threshold: 0.5 },
      action: 'redact',
      replacement: '[REDACTED:{label}]',
    },
  ],
});

const piece = (index: number, delta: ChunkChoice['delta'], finish: string | null = null): ChatCompletionChunk => ({
  id: 'up-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index, delta, finish_reason: finish }],
});

/** An upstream that answers with `message` (JSON) or streams `chunks`. */
const upstream = (chunks: ChatCompletionChunk[], message: ChatCompletion['choices'][number]['message']): Generator => ({
  id: 'scripted',
  complete: async () => ({
    id: 'up-1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message, finish_reason: 'stop' }],
  }),
  close: () => Promise.resolve(),
  async *stream() {
    yield* chunks;
  },
});

function pipelineOver(generator: Generator, records: DecisionRecord[]) {
  return new Pipeline({
    policies: fixedPolicy(policy),
    generator,
    audit: { append: async (r) => void records.push(r), close: async () => undefined },
    contentMode: 'full',
    instance: 'test',
  });
}

const request = { model: 'm', messages: [{ role: 'user', content: 'hello' }] };

async function streamed(chunks: ChatCompletionChunk[], mode: StreamMode) {
  const records: DecisionRecord[] = [];
  const pipeline = pipelineOver(upstream(chunks, { role: 'assistant', content: '' }), records);
  const opened = await openStream(
    pipeline,
    { ...request, stream: true },
    requestContext(),
    new AbortController().signal,
    {
      mode,
      windowChars: 40,
      overlapChars: 16,
    },
  );
  const sent: ChatCompletionChunk[] = [];
  for await (const c of opened.chunks) sent.push(c);
  return { sent, record: records[0], wire: JSON.stringify(sent) };
}

const finishOf = (sent: ChatCompletionChunk[]) =>
  sent
    .flatMap((c) => c.choices.map((ch) => ch.finish_reason))
    .filter(Boolean)
    .at(-1);

describe('output checks read every text the client receives (non-streamed)', () => {
  const complete = async (message: ChatCompletion['choices'][number]['message']) => {
    const records: DecisionRecord[] = [];
    const pipeline = pipelineOver(upstream([], message), records);
    return (await pipeline.complete(request, requestContext(), new AbortController().signal)).completion;
  };

  it("redacts an email in a tool call's arguments", async () => {
    const c = await complete({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'mail', arguments: '{"to":"bob@example.org"}' } }],
    });
    const calls = c.choices[0].message.tool_calls as { function: { arguments: string } }[];
    assert.equal(calls[0].function.arguments, '{"to":"[REDACTED:pii]"}');
  });

  it('refuses an answer whose reasoning_content is refused, and redacts an email in it', async () => {
    const refused = await complete({ role: 'assistant', content: 'ok', reasoning_content: 'think FORBIDDEN' });
    assert.equal(refused.choices[0].message.content, 'withheld');
    const redacted = await complete({ role: 'assistant', content: 'ok', reasoning_content: 'ask bob@example.org' });
    assert.equal(redacted.choices[0].message.reasoning_content, 'ask [REDACTED:pii]');
  });
});

for (const mode of ['progressive', 'buffer', 'stream-first'] as const) {
  describe(`output checks read every channel of a stream (${mode})`, () => {
    it('checks each choice of an n=2 stream on its own text, so interleaving does not hide a violation', async () => {
      const chunks = [
        piece(0, { role: 'assistant', content: '' }),
        piece(1, { role: 'assistant', content: '' }),
        piece(0, { content: 'FORB' }),
        piece(1, { content: 'xx' }),
        piece(0, { content: 'IDDEN' }),
        piece(1, { content: 'yy' }),
        piece(0, {}, 'stop'),
        piece(1, {}, 'stop'),
      ];
      const { sent, record } = await streamed(chunks, mode);
      assert.equal(finishOf(sent), 'content_filter');
      assert.equal(record?.action, 'refuse');
    });

    it('records an n=2 stream choice by choice, as a JSON answer is recorded, not interleaved', async () => {
      const { record } = await streamed(
        [
          piece(0, { role: 'assistant', content: 'first ' }),
          piece(1, { role: 'assistant', content: 'second ' }),
          piece(0, { content: 'answer' }),
          piece(1, { content: 'answer' }),
          piece(0, {}, 'stop'),
          piece(1, {}, 'stop'),
        ],
        mode,
      );
      assert.equal(record?.content.output, 'first answer\n\nsecond answer');
    });

    it("refuses a stream whose reasoning_content is refused, and checks a tool call's arguments", async () => {
      const reasoning = await streamed(
        [
          piece(0, { role: 'assistant', reasoning_content: 'I will say FORB' }),
          piece(0, { reasoning_content: 'IDDEN now' }),
          piece(0, { content: 'Fine.' }),
          piece(0, {}, 'stop'),
        ],
        mode,
      );
      assert.equal(finishOf(reasoning.sent), 'content_filter');
      const tool = await streamed(
        [
          piece(0, { role: 'assistant', content: null }),
          piece(0, {
            tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'mail', arguments: '' } }],
          }),
          piece(0, { tool_calls: [{ index: 0, function: { arguments: '{"to":"bob@exa' } }] }),
          piece(0, { tool_calls: [{ index: 0, function: { arguments: 'mple.org"}' } }] }),
          piece(0, {}, 'tool_calls'),
        ],
        mode,
      );
      // A tool call is held until it is checked whole, in both modes (tool-call-hold.ts), so it is redacted, not cut.
      assert.ok(!tool.wire.includes('bob@exa'), tool.wire);
      assert.ok(tool.wire.includes('[REDACTED:pii]'), tool.wire);
      assert.equal(finishOf(tool.sent), 'tool_calls');
    });

    it('redacts or cuts per choice: an email in one choice of two', async () => {
      const { sent, wire } = await streamed(
        [
          piece(0, { role: 'assistant', content: 'mail bob@exa' }),
          piece(1, { role: 'assistant', content: 'nothing here' }),
          piece(0, { content: 'mple.org now' }),
          piece(1, { content: ' at all' }),
          piece(0, {}, 'stop'),
          piece(1, {}, 'stop'),
        ],
        mode,
      );
      if (mode !== 'stream-first') {
        const text = (i: number) =>
          sent.flatMap((c) => c.choices.filter((ch) => ch.index === i).map((ch) => ch.delta.content ?? '')).join('');
        assert.equal(text(0), 'mail [REDACTED:pii] now');
        assert.equal(text(1), 'nothing here at all');
      } else assert.equal(finishOf(sent), 'content_filter', wire);
    });
  });
}

describe('texts the output stage cannot read', () => {
  it('are refused by the generator: reasoning_content or tool-call arguments that are not strings', async () => {
    const bodies: Record<string, object> = {
      reasoning: { role: 'assistant', content: 'ok', reasoning_content: { secret: 'sk-proj-0123456789abcdefghij' } },
      tool: {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c', function: { name: 'f', arguments: { a: 1 } } }],
      },
    };
    const up = await serveLocal(async (req, res) => {
      let raw = '';
      for await (const c of req) raw += String(c);
      const message = bodies[JSON.parse(raw).model];
      const choices = [{ index: 0, message, finish_reason: 'stop' }];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices }));
    });
    const gen = new OpenAIHttpGenerator({ baseUrl: up.url });
    try {
      for (const model of Object.keys(bodies))
        await assert.rejects(gen.complete({ ...request, model }, new AbortController().signal), {
          kind: 'bad_response',
        });
    } finally {
      await gen.close();
      await up.close();
    }
  });
});
