import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionRecord } from '../audit/types.js';
import { Pipeline, fixedPolicy, requestContext } from '../gateway/pipeline/pipeline.js';
import { openStream } from '../gateway/pipeline/stream.js';
import type { ChatCompletionChunk, ChunkChoice, Generator } from '../generator/types.js';
import { compilePolicy } from '../policies/load.js';

/** Streamed tool calls are held until checked whole (gateway/pipeline/tool-call-hold.ts), choice by choice. */

const policy = compilePolicy({
  apiVersion: 'gateway/v1',
  id: 'hold',
  classifiers: [{ id: 'none', type: 'rules', params: { keywords: [{ label: 'x', words: ['never-said'] }] } }],
  rules: [
    {
      id: 'no-drop',
      stage: 'output',
      tool: { name: 'sql', args: '$.query' },
      when: { text: { regex: '\\bdrop\\s+table\\b' } },
      action: 'refuse',
      message: 'not running {tool}',
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

/** Two choices, each calling `sql` with its arguments in pieces; choice 1's query drops a table. */
const twoChoices = (query1: string): ChatCompletionChunk[] => [
  piece(0, { role: 'assistant', content: 'Looking.' }),
  piece(1, { role: 'assistant', content: null }),
  piece(0, {
    tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'sql', arguments: '{"query":' } }],
  }),
  piece(1, {
    tool_calls: [{ index: 0, id: 'b', type: 'function', function: { name: 'sql', arguments: '{"query":' } }],
  }),
  piece(0, { tool_calls: [{ index: 0, function: { arguments: '"select 1"}' } }] }),
  piece(1, { tool_calls: [{ index: 0, function: { arguments: JSON.stringify(query1) + '}' } }] }),
  piece(0, {}, 'tool_calls'),
  piece(1, {}, 'tool_calls'),
];

async function run(chunks: ChatCompletionChunk[], mode: 'buffer' | 'stream-first') {
  const records: DecisionRecord[] = [];
  const upstream: Generator = {
    id: 'scripted',
    complete: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
    async *stream() {
      yield* chunks;
    },
  };
  const pipeline = new Pipeline({
    policies: fixedPolicy(policy),
    generator: upstream,
    audit: { append: async (r) => void records.push(r), close: async () => undefined },
    contentMode: 'full',
    instance: 'test',
  });
  const request = { model: 'm', stream: true, messages: [{ role: 'user', content: 'query it' }] };
  const { chunks: out } = await openStream(pipeline, request, requestContext(), new AbortController().signal, { mode });
  const sent: ChatCompletionChunk[] = [];
  for await (const c of out) sent.push(c);
  return { sent, record: records[0] };
}

const toolDeltas = (sent: ChatCompletionChunk[]) =>
  sent.flatMap((c) => c.choices.flatMap((ch) => ch.delta?.tool_calls ?? []));

for (const mode of ['buffer', 'stream-first'] as const) {
  describe(`streamed tool calls of two choices (${mode})`, () => {
    it('are refused together when one choice calls a tool it may not: no call reaches the client', async () => {
      const { sent, record } = await run(twoChoices('drop table users'), mode);
      assert.deepEqual(toolDeltas(sent), []);
      const last = sent.at(-1)?.choices[0];
      assert.equal(last?.finish_reason, 'content_filter');
      assert.match(String(last?.delta.content), /not running sql$/);
      assert.equal(record?.action, 'refuse');
      assert.match(record?.stages.output?.rules[0]?.reason ?? '', /^tool sql: /);
    });

    it('pass on as they came when they are clean, each choice with its own call', async () => {
      const { sent, record } = await run(twoChoices('select 2'), mode);
      assert.equal(toolDeltas(sent).length, 4);
      assert.equal(record?.action, 'allow');
      assert.deepEqual(
        record?.content.tool_calls?.output?.map((c) => (c as { arguments: string }).arguments),
        ['{"query":"select 1"}', '{"query":"select 2"}'],
      );
    });
  });
}
