import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../gateway/config.js';
import { refusalChunks, refusalCompletion, chunk } from '../gateway/pipeline/refusal.js';
import { MessagesEventEncoder } from '../gateway/wire/messages/events.js';
import { NativeEventReader, completionOfMessage } from '../gateway/wire/messages/from-native.js';
import { withNative, writeBack } from '../gateway/wire/messages/native-body.js';
import { MessagesBodySchema, type MessagesBody } from '../gateway/wire/messages/schema.js';
import { toChat } from '../gateway/wire/messages/to-chat.js';
import { toMessage } from '../gateway/wire/messages/to-message.js';
import { messagesUpstreamFormat } from '../gateway/wire/upstream-format.js';
import { replaceAt } from '../policies/select.js';

const body = (b: Record<string, unknown>): MessagesBody =>
  MessagesBodySchema.parse({ model: 'm', max_tokens: 64, ...b });

describe('Messages request → chat request', () => {
  it('maps system blocks, images, sampling options, tools and tool_choice', () => {
    const { request } = toChat(
      body({
        system: [{ type: 'text', text: 'Be kind.' }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
        stream: true,
        top_k: 5,
        temperature: 0.5,
        metadata: { user_id: 'u-1' },
        tools: [{ name: 'look', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }],
        tool_choice: { type: 'any', disable_parallel_tool_use: true },
      }),
    );
    assert.deepEqual(request, {
      model: 'm',
      max_tokens: 64,
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.5,
      user: 'u-1',
      tools: [
        {
          type: 'function',
          function: {
            name: 'look',
            description: undefined,
            parameters: { type: 'object', properties: { q: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be kind.' }] },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } },
            { type: 'text', text: 'What is this?' },
          ],
        },
      ],
    });
  });

  it('names a forced tool as a function tool choice', () => {
    const { request } = toChat(
      body({ messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'tool', name: 'look' } }),
    );
    assert.deepEqual(request.tool_choice, { type: 'function', function: { name: 'look' } });
  });

  it('refuses misplaced and unknown blocks with the path of the block', () => {
    const misplaced = body({
      messages: [{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'n', input: {} }] }],
    });
    assert.throws(() => toChat(misplaced), { param: 'messages[0].content[0]' });
    const unknown = body({ messages: [{ role: 'user', content: [{ type: 'container_upload', file_id: 'f' }] }] });
    assert.throws(() => toChat(unknown), { param: 'messages[0].content[0].type' });
  });
});

describe('writing the judged request back into the native body', () => {
  const original = body({
    system: [{ type: 'text', text: 'Be kind.' }],
    messages: [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'look', input: { q: 'a' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'r' }] }] },
    ],
    thinking: { type: 'enabled', budget_tokens: 1024 },
  });
  const translated = toChat(original);
  const native = {
    body: original,
    slots: translated.slots,
    translated: translated.request,
    headers: { 'anthropic-version': '2023-06-01' },
  };

  it('sends the very body the client sent when the input stage changed nothing', () => {
    assert.equal(writeBack(native, withNative(translated.request, native)), original);
  });

  it('writes every changed text back where it came from, tool inputs as objects, and the routed model', () => {
    const changed = replaceAt(
      { ...translated.request, model: 'routed' },
      new Map([
        ['/messages/0/content/0/text', 'Be [X].'],
        ['/messages/2/tool_calls/0/function/arguments', '{"q":"[X]"}'],
        ['/messages/3/content/0/text', '[X]'],
      ]),
    );
    const sent = writeBack(native, changed);
    assert.equal(sent.model, 'routed');
    assert.deepEqual(sent.system, [{ type: 'text', text: 'Be [X].' }]);
    assert.deepEqual(sent.messages[1]!.content, [{ type: 'tool_use', id: 't1', name: 'look', input: { q: '[X]' } }]);
    assert.deepEqual(sent.messages[2]!.content, [
      { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: '[X]' }] },
    ]);
    assert.deepEqual(sent.thinking, original.thinking);
    assert.equal((original.system as { text: string }[])[0]!.text, 'Be kind.', 'the original was changed');
  });
});

describe('a grading retry on a native upstream', () => {
  it('puts the reminder the pipeline prepends before the system prompt, leaving the turns where they were', () => {
    const original = body({ system: 'Be kind.', messages: [{ role: 'user', content: 'hi' }] });
    const t = toChat(original);
    const native = {
      body: original,
      slots: t.slots,
      translated: t.request,
      headers: { 'anthropic-version': '2023-06-01' },
    };
    const retry = {
      ...t.request,
      messages: [{ role: 'system', content: 'Answer safe questions.' }, ...t.request.messages],
    };
    const sent = writeBack(native, retry);
    assert.equal(sent.system, 'Answer safe questions.\n\nBe kind.');
    assert.deepEqual(sent.messages, original.messages);
  });
});

describe('chat answer → Messages answer', () => {
  it('makes a gateway refusal stop_reason "refusal" with the message as its text', () => {
    const m = toMessage(refusalCompletion('dec_1', 'm', 'No, but here is what I can do.'), 'm');
    assert.equal(m.stop_reason, 'refusal');
    assert.deepEqual(m.content, [{ type: 'text', text: 'No, but here is what I can do.' }]);
    assert.equal(m.id, 'msg_dec_1');
  });

  it('keeps a native stop sequence and usage, and turns tool arguments back into input', () => {
    const c = completionOfMessage({
      id: 'msg_1',
      model: 'm',
      content: [
        { type: 'text', text: 'a' },
        { type: 'tool_use', id: 't', name: 'n', input: { k: 1 } },
      ],
      stop_reason: 'stop_sequence',
      stop_sequence: 'END',
      usage: { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: 2 },
    });
    assert.ok(c);
    const m = toMessage(c, 'm');
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, 'END');
    assert.deepEqual(m.usage, { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: 2 });
    assert.deepEqual(m.content, [
      { type: 'text', text: 'a' },
      { type: 'tool_use', id: 't', name: 'n', input: { k: 1 } },
    ]);
  });

  it('keeps arguments that are not a JSON object as text rather than dropping them', () => {
    const c = refusalCompletion('x', 'm', '');
    c.choices[0]!.message = {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 't', function: { name: 'n', arguments: '[REDACTED' } }],
    };
    c.choices[0]!.finish_reason = 'tool_calls';
    assert.deepEqual((toMessage(c, 'm').content as unknown[])[0], {
      type: 'tool_use',
      id: 't',
      name: 'n',
      input: { arguments: '[REDACTED' },
    });
  });
});

describe('Messages events', () => {
  it('close a tool block before a cut stream’s refusal text opens its own block', () => {
    const enc = new MessagesEventEncoder('m');
    const events = [
      ...enc.push(chunk('c1', 'm', 1, { role: 'assistant', content: '' })),
      ...enc.push(
        chunk('c1', 'm', 1, { tool_calls: [{ index: 0, id: 't', function: { name: 'n', arguments: '{"a"' } }] }),
      ),
      ...enc.push(chunk('c1', 'm', 1, { content: 'Refused.' }, 'content_filter')),
      ...enc.end(),
    ];
    assert.deepEqual(
      events.map((e) => `${e.event}${'index' in e.data ? `:${String(e.data.index)}` : ''}`),
      [
        'message_start',
        'content_block_start:0',
        'content_block_delta:0',
        'content_block_stop:0',
        'content_block_start:1',
        'content_block_delta:1',
        'content_block_stop:1',
        'message_delta',
        'message_stop',
      ],
    );
    assert.deepEqual(events.at(-2)!.data.delta, { stop_reason: 'refusal', stop_sequence: null });
  });

  it('read a refusal replayed as chunks as one text block', () => {
    const enc = new MessagesEventEncoder('m');
    const events = [...refusalChunks('dec_1', 'm', 'No.').flatMap((c) => enc.push(c)), ...enc.end()];
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data.delta as { text: string }).text);
    assert.deepEqual(text, ['No.']);
  });

  it('from a native upstream become chat chunks with tool calls and a finish', () => {
    const reader = new NativeEventReader();
    const chunks = [
      { type: 'message_start', message: { id: 'msg_1', model: 'm', usage: { input_tokens: 5 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'n', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } },
      { type: 'message_stop' },
    ].flatMap((e) => reader.next(e));
    assert.equal(reader.done, true);
    assert.deepEqual(
      chunks.map((c) => c.choices[0]?.delta ?? c.usage),
      [
        { role: 'assistant', content: '' },
        { tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'n', arguments: '' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] },
        {},
        { input_tokens: 5, output_tokens: 2, prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      ],
    );
    assert.equal(chunks[3]!.choices[0]!.finish_reason, 'tool_calls');
  });
});

describe('upstream.format', () => {
  it('is auto by default: native for Anthropic, chat for anything else', () => {
    assert.equal(loadConfig({ env: {} }).upstream.format, 'auto');
    assert.equal(messagesUpstreamFormat('auto', 'https://api.anthropic.com/v1'), 'native');
    assert.equal(messagesUpstreamFormat('auto', 'http://127.0.0.1:8000/v1'), 'chat');
    assert.equal(messagesUpstreamFormat('native', 'http://127.0.0.1:8000/v1'), 'native');
  });

  it('names the variable when its value is wrong', () => {
    assert.throws(
      () => loadConfig({ env: { GATEWAY_UPSTREAM_FORMAT: 'anthropic' } }),
      /upstream\.format \(from GATEWAY_UPSTREAM_FORMAT\)/,
    );
  });
});
