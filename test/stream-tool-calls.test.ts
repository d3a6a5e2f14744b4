import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionRecord } from '../audit/types.js';
import { Pipeline, fixedPolicy, requestContext } from '../gateway/pipeline/pipeline.js';
import { openStream } from '../gateway/pipeline/stream.js';
import type { ChatCompletionChunk, ChunkChoice, Generator } from '../generator/types.js';
import { compilePolicy } from '../policies/load.js';

/** Rules that read only the answer's text; tool calls pass them untouched. */
const policy = compilePolicy({
  apiVersion: 'gateway/v1',
  id: 'tools',
  classifiers: [{ id: 'words', type: 'rules', params: { keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }] } }],
  rules: [
    {
      id: 'no-forbidden',
      stage: 'output',
      when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
      action: 'refuse',
    },
  ],
});

const chunk = (delta: ChunkChoice['delta'], finish: string | null = null): ChatCompletionChunk => ({
  id: 'up-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

/** Two tool calls streamed the OpenAI way: id and name first, then the arguments in pieces. */
const toolCallStream: Generator = {
  id: 'tools',
  complete: () => Promise.reject(new Error('not used')),
  close: () => Promise.resolve(),
  async *stream() {
    yield chunk({ role: 'assistant', content: null });
    yield chunk({
      tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'look', arguments: '' } }],
    });
    yield chunk({ tool_calls: [{ index: 0, function: { arguments: '{"at":' } }] });
    yield chunk({ tool_calls: [{ index: 0, function: { arguments: '"it"}' } }] });
    yield chunk({
      tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'wait', arguments: '{}' } }],
    });
    yield chunk({}, 'tool_calls');
  },
};

async function streamedRecord(contentMode: 'full' | 'hash'): Promise<DecisionRecord | undefined> {
  const records: DecisionRecord[] = [];
  const pipeline = new Pipeline({
    policies: fixedPolicy(policy),
    generator: toolCallStream,
    audit: { append: async (r) => void records.push(r), close: async () => undefined },
    contentMode,
    instance: 'test',
  });
  const ctx = requestContext();
  const request = { model: 'm', stream: true, messages: [{ role: 'user', content: 'look at it' }] };
  const { chunks } = await openStream(pipeline, request, ctx, new AbortController().signal, { mode: 'buffer' });
  for await (const _ of chunks);
  return records[0];
}

describe('tool calls of a streamed answer', () => {
  it('are assembled from their deltas into the decision record', async () => {
    const record = await streamedRecord('full');
    assert.deepEqual(record?.content.tool_calls, {
      output: [
        { arguments: '{"at":"it"}', id: 'call_1', name: 'look' },
        { arguments: '{}', id: 'call_2', name: 'wait' },
      ],
    });
  });

  it('keep only digests of their arguments outside full content mode', async () => {
    const record = await streamedRecord('hash');
    const [first] = record?.content.tool_calls?.output ?? [];
    assert.equal(first?.name, 'look');
    assert.match(JSON.stringify(first?.arguments), /^\{"sha256":"[0-9a-f]{64}"\}$/);
  });
});
