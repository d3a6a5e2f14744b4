import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../gateway/config.js';
import { type GatewayError } from '../gateway/pipeline/errors.js';
import { chunk } from '../gateway/pipeline/refusal.js';
import { ResponseStreamEvents } from '../gateway/wire/responses/events.js';
import { responseObject } from '../gateway/wire/responses/from-chat.js';
import { responseToCompletion } from '../gateway/wire/responses/from-responses.js';
import type { ResponsesBody } from '../gateway/wire/responses/schema.js';
import { MemoryConversationStore } from '../gateway/wire/responses/store.js';
import { responsesToChat } from '../gateway/wire/responses/to-chat.js';
import { chatMessagesToInput } from '../gateway/wire/responses/to-responses.js';
import { type GeneratorError } from '../generator/types.js';

const body = (over: Partial<ResponsesBody> & Record<string, unknown>): ResponsesBody => ({
  model: 'm',
  input: 'hi',
  ...over,
});

describe('Responses request → chat request (to-chat.ts)', () => {
  it('puts instructions first, then the earlier turns, then the new input; drops reasoning items', () => {
    const history = [
      { role: 'user', content: 'before' },
      { role: 'assistant', content: 'reply' },
    ];
    const r = responsesToChat(
      body({
        instructions: 'Be brief',
        input: [
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { role: 'assistant', content: [{ type: 'output_text', text: 'Earlier answer' }] },
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'Look:' },
              { type: 'input_image', image_url: 'https://example.org/a.png', detail: 'low' },
            ],
          },
        ],
      }),
      history,
      true,
    );
    assert.deepEqual(r.messages, [
      { role: 'system', content: 'Be brief' },
      ...history,
      { role: 'assistant', content: 'Earlier answer' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Look:' },
          { type: 'image_url', image_url: { url: 'https://example.org/a.png', detail: 'low' } },
        ],
      },
    ]);
  });

  it('maps text.format, reasoning.effort, sampling fields and streaming with usage', () => {
    const schema = { type: 'json_schema', name: 'answer', schema: { type: 'object' }, strict: true };
    const r = responsesToChat(
      body({ text: { format: schema }, reasoning: { effort: 'low' }, temperature: 0.2, top_p: 0.9, stream: true }),
      [],
      true,
    );
    assert.deepEqual(r.response_format, {
      type: 'json_schema',
      json_schema: { name: 'answer', schema: { type: 'object' }, strict: true },
    });
    assert.equal(r.reasoning_effort, 'low');
    assert.equal(r.temperature, 0.2);
    assert.equal(r.top_p, 0.9);
    assert.equal(r.stream, true);
    assert.deepEqual(r.stream_options, { include_usage: true });
  });

  it('lets a hosted tool pass only when not translating, and refuses provider-side content', () => {
    const hosted = body({ tools: [{ type: 'web_search' }], tool_choice: { type: 'web_search' } });
    assert.equal(responsesToChat(hosted, [], false).tools, undefined);
    assert.throws(
      () => responsesToChat(hosted, [], true),
      (e: GatewayError) => e.param === 'tools[0].type',
    );
    assert.throws(
      () => responsesToChat(body({ prompt: { id: 'p' } }), [], false),
      (e: GatewayError) => e.param === 'prompt',
    );
    assert.throws(
      () => responsesToChat(body({ background: true }), [], false),
      (e: GatewayError) => e.param === 'background',
    );
  });

  it('goes back to input items for a native upstream, tool calls and outputs included', () => {
    const r = responsesToChat(
      body({
        input: [
          { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: [{ type: 'input_text', text: 'done' }] },
        ],
      }),
      [],
      false,
    );
    assert.deepEqual(chatMessagesToInput(r.messages), [
      { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
      { type: 'function_call_output', call_id: 'c1', output: 'done' },
    ]);
  });
});

describe('an upstream Response → chat completion (from-responses.ts)', () => {
  it('reads message text and function calls; an incomplete response finishes with length', () => {
    const c = responseToCompletion({
      id: 'resp_1',
      model: 'm',
      created_at: 1,
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      output: [
        { type: 'reasoning', summary: [] },
        { type: 'message', content: [{ type: 'output_text', text: 'Hi' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
      ],
      usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 },
    });
    assert.equal(c.choices[0]?.message.content, 'Hi');
    assert.deepEqual(c.choices[0]?.message.tool_calls, [
      { id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
    ]);
    assert.equal(c.choices[0]?.finish_reason, 'length');
    assert.equal(c.usage?.total_tokens, 7);
  });

  it('fails a text that is not a string as a bad response, never passing it on unchecked', () => {
    const bad = { output: [{ type: 'message', content: [{ type: 'output_text', text: { x: 1 } }] }] };
    assert.throws(
      () => responseToCompletion(bad),
      (e: GeneratorError) => e.kind === 'bad_response',
    );
  });
});

describe('chat chunks → typed Responses events (events.ts)', () => {
  const make = (refused: boolean) =>
    new ResponseStreamEvents(
      (output, ending, usage) =>
        responseObject({ id: 'resp_x', createdAt: 1, model: 'm', body: body({}), output, ending, usage }),
      refused,
    );
  const c = (delta: Record<string, unknown>, finish: string | null = null) => chunk('id', 'm', 1, delta, finish);

  it('gives a message and a function call their own output indexes, closed in order at the end', () => {
    const ev = make(false);
    const all = [
      ...ev.start(),
      ...ev.chunk(c({ role: 'assistant', content: 'Hi' })),
      ...ev.chunk(c({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{"a"' } }] })),
      ...ev.chunk(c({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] })),
      ...ev.chunk(c({}, 'tool_calls')),
      ...ev.end(),
    ];
    assert.deepEqual(
      all.map((e) => e.sequence_number),
      all.map((_, i) => i),
    );
    const added = all.filter((e) => e.type === 'response.output_item.added');
    assert.deepEqual(
      added.map((e) => [e.output_index, (e.item as { type: string }).type]),
      [
        [0, 'message'],
        [1, 'function_call'],
      ],
    );
    const done = all.find((e) => e.type === 'response.function_call_arguments.done');
    assert.equal(done?.arguments, '{"a":1}');
    const last = all.at(-1)!;
    assert.equal(last.type, 'response.completed');
    assert.equal((last.response as { output: unknown[] }).output.length, 2);
  });

  it('ends a cut stream with the refusal as its own part and response.incomplete (content_filter)', () => {
    const ev = make(false);
    ev.start();
    ev.chunk(c({ content: 'Some text' }));
    const cut = ev.chunk(c({ content: '\n\nWithheld.' }, 'content_filter'));
    assert.deepEqual(
      cut.map((e) => e.type),
      [
        'response.output_text.done',
        'response.content_part.done',
        'response.content_part.added',
        'response.refusal.delta',
      ],
    );
    assert.equal(cut.at(-1)?.delta, 'Withheld.');
    const last = ev.end().at(-1)!;
    assert.equal(last.type, 'response.incomplete');
    assert.deepEqual((last.response as { incomplete_details: unknown }).incomplete_details, {
      reason: 'content_filter',
    });
  });

  it('streams a refused request as a refusal part of a completed response', () => {
    const ev = make(true);
    ev.start();
    const events = [...ev.chunk(c({ role: 'assistant', content: 'No.' })), ...ev.chunk(c({}, 'content_filter'))];
    assert.ok(events.some((e) => e.type === 'response.refusal.delta'));
    assert.equal(ev.end().at(-1)?.type, 'response.completed');
  });
});

describe('the embedded conversation store (store.ts)', () => {
  it('keeps at most max conversations and about maxSize characters, dropping the least recently used', async () => {
    const store = new MemoryConversationStore(2);
    const conv = (content: string) => ({ keyId: null, messages: [{ role: 'user', content }], size: content.length });
    await store.set('a', conv('a'));
    await store.set('b', conv('b'));
    await store.get('a');
    await store.set('c', conv('c'));
    assert.equal(store.size, 2);
    assert.equal(await store.get('b'), undefined);
    assert.ok(await store.get('a'));
    const bySize = new MemoryConversationStore(100, 10);
    await bySize.set('a', conv('aaaaaa'));
    await bySize.set('b', conv('bbbbbb'));
    assert.equal(await bySize.get('a'), undefined, 'past maxSize, the oldest goes');
    assert.ok(await bySize.get('b'));
    const none = new MemoryConversationStore(0);
    await none.set('a', conv('a'));
    assert.equal(await none.get('a'), undefined);
  });
});

describe('configuration of the Responses API', () => {
  it('reads GATEWAY_UPSTREAM_FORMAT (default auto) and rejects a value it does not know, naming the variable', () => {
    assert.equal(loadConfig({ env: {} }).upstream.format, 'auto');
    assert.equal(loadConfig({ env: { GATEWAY_UPSTREAM_FORMAT: 'chat' } }).upstream.format, 'chat');
    assert.throws(
      () => loadConfig({ env: { GATEWAY_UPSTREAM_FORMAT: 'grpc' } }),
      /upstream\.format \(from GATEWAY_UPSTREAM_FORMAT\)/,
    );
    const c = loadConfig({ env: { GATEWAY_RESPONSES_MAX_CONVERSATIONS: '5' } });
    assert.deepEqual(c.responses, { maxConversations: 5, maxChars: 64 << 20, unknownPreviousId: 'reject' });
  });
});
