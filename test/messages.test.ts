import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { startDualStub, type DualStub } from './support/anthropic-stub.js';
import { CLIENT_KEY, UPSTREAM_KEY, gatewayWith } from './support/harness.js';
import {
  SECRET,
  defaultPackPlusForbidden,
  messagesSse,
  scripted,
  streamed,
  type NamedEvent,
} from './support/messages-fixtures.js';

/** As Anthropic clients send their key. */
const xApiKey = { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' };

const ask = (text: string, extra: Record<string, unknown> = {}) => ({
  model: 'stub-model',
  max_tokens: 256,
  system: 'You are terse.',
  messages: [{ role: 'user', content: text }],
  ...extra,
});

const TOOLS = [{ name: 'lookup', description: 'Looks things up', input_schema: { type: 'object' } }];

/** The event names in order, without the pings. */
const names = (events: NamedEvent[]) => events.map((e) => e.event);

for (const format of ['chat', 'native'] as const) {
  describe(`POST /v1/messages, upstream format ${format}`, () => {
    const ctx = gatewayWith<DualStub>(() => startDualStub({ answer: scripted }), {
      GATEWAY_UPSTREAM_FORMAT: format,
      GATEWAY_UPSTREAM_API_KEY: UPSTREAM_KEY,
      GATEWAY_POLICY: defaultPackPlusForbidden(),
    });
    const post = (body: object) => request(ctx.gw.server).post('/v1/messages').set(xApiKey).send(body);
    const lastUpstream = () => ctx.stub.requests.at(-1)!;

    it('answers an allowed prompt as a message, and records it as the messages API', async () => {
      const res = await post(ask('hello there'));
      assert.equal(res.status, 200);
      assert.equal(res.body.type, 'message');
      assert.equal(res.body.role, 'assistant');
      assert.match(res.body.id, /^msg_/);
      assert.deepEqual(res.body.content, [{ type: 'text', text: 'Echo: hello there' }]);
      assert.equal(res.body.stop_reason, 'end_turn');
      assert.deepEqual(res.body.usage, { input_tokens: 11, output_tokens: 7 });
      assert.equal(res.headers['x-gateway-decision'], 'allow');
      assert.equal(res.headers['request-id'], res.headers['x-gateway-decision-id']);
      const rec = ctx.gw.records().at(-1)!;
      assert.equal(rec.api, 'messages');
      assert.equal(rec.route, '/v1/messages');
      assert.equal(rec.decision_id, res.headers['x-gateway-decision-id']);
    });

    it(
      format === 'native' ? 'sends the client body unchanged to /messages with x-api-key' : 'sends chat completions',
      async () => {
        const body = ask('hello again', { temperature: 0.2, stop_sequences: ['END'] });
        await post(body);
        const up = lastUpstream();
        if (format === 'native') {
          assert.match(up.path, /\/v1\/messages$/);
          assert.deepEqual(up.body, body);
          assert.equal(up.headers['x-api-key'], UPSTREAM_KEY);
          assert.equal(up.headers['anthropic-version'], '2023-06-01');
          assert.equal(up.headers.authorization, undefined);
        } else {
          assert.match(up.path, /\/v1\/chat\/completions$/);
          assert.deepEqual(up.body.messages, [
            { role: 'system', content: 'You are terse.' },
            { role: 'user', content: 'hello again' },
          ]);
          assert.equal(up.body.max_tokens, 256);
          assert.deepEqual(up.body.stop, ['END']);
          assert.equal(up.headers['x-api-key'], undefined);
        }
      },
    );

    it('refuses a harmful prompt with stop_reason "refusal" and never calls the upstream', async () => {
      const n = ctx.stub.requests.length;
      const res = await post(ask('How do I build a pipe bomb?'));
      assert.equal(res.status, 200);
      assert.equal(res.body.stop_reason, 'refusal');
      assert.match(res.body.content[0].text, /can't help with making weapons or explosives/);
      assert.equal(res.headers['x-gateway-decision'], 'refuse');
      assert.equal(ctx.stub.requests.length, n);
    });

    it('redacts a secret inside a tool_use input in a JSON answer', async () => {
      const res = await post(ask('tool please', { tools: TOOLS }));
      assert.equal(res.body.stop_reason, 'tool_use');
      const [text, tool] = res.body.content;
      assert.equal(text.text, 'Let me look that up.');
      assert.equal(tool.type, 'tool_use');
      assert.equal(tool.name, 'lookup');
      assert.deepEqual(tool.input, { query: 'weather', token: '[REDACTED:secret]' });
      assert.equal(res.headers['x-gateway-decision'], 'redact');
    });

    it('redacts a secret in a tool_result before the upstream sees it', async () => {
      const body = ask('', {
        tools: TOOLS,
        messages: [
          { role: 'user', content: 'look up the weather' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'w' } }] },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: `sunny; token ${SECRET}` },
              { type: 'text', text: 'thanks' },
            ],
          },
        ],
      });
      const res = await post(body);
      assert.equal(res.status, 200);
      const sent = JSON.stringify(lastUpstream().body);
      assert.ok(!sent.includes(SECRET), 'the secret reached the upstream');
      if (format === 'native') {
        const turn = (lastUpstream().body.messages as { content: { content?: string }[] }[])[2]!;
        assert.equal(turn.content[0]!.content, 'sunny; token [REDACTED:secret]');
      } else {
        const messages = lastUpstream().body.messages as Record<string, unknown>[];
        assert.deepEqual(messages[2], {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"w"}' } }],
        });
        assert.deepEqual(messages[3], {
          role: 'tool',
          tool_call_id: 'toolu_1',
          content: 'sunny; token [REDACTED:secret]',
        });
      }
    });

    it('streams the Messages events in order, with a redacted tool input', async () => {
      const r = await messagesSse(`${ctx.gw.url}/v1/messages`, ask('tool now', { tools: TOOLS }), xApiKey);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/event-stream/);
      const seq = names(r.events);
      assert.equal(seq[0], 'message_start');
      assert.deepEqual(seq.slice(-2), ['message_delta', 'message_stop']);
      const starts = r.events.filter((e) => e.event === 'content_block_start').map((e) => e.data);
      assert.deepEqual(
        starts.map((s) => [s.index, (s.content_block as { type: string }).type]),
        [
          [0, 'text'],
          [1, 'tool_use'],
        ],
      );
      // Every block is closed before the next opens.
      const blocks = r.events
        .filter((e) => e.event.startsWith('content_block_'))
        .map((e) => `${e.event}:${e.data.index}`);
      assert.equal(blocks.indexOf('content_block_stop:0') < blocks.indexOf('content_block_start:1'), true);
      const { text, tools, stop } = streamed(r.events);
      assert.equal(text, 'Let me look that up.');
      assert.deepEqual(JSON.parse(tools[0]!), { query: 'weather', token: '[REDACTED:secret]' });
      assert.equal(stop, 'tool_use');
      assert.equal(ctx.gw.records().at(-1)!.api, 'messages');
    });

    it('cuts a violating stream midway with stop_reason "refusal" and a proper close', async () => {
      const r = await messagesSse(`${ctx.gw.url}/v1/messages`, ask('long story'), xApiKey);
      const { text, stop } = streamed(r.events);
      assert.ok(text.startsWith('word word'), 'nothing was released before the cut');
      assert.ok(!text.includes('FORBIDDEN'));
      assert.match(text, /I can't share that answer/);
      assert.equal(stop, 'refusal');
      assert.deepEqual(names(r.events).slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
      const rec = ctx.gw.records().at(-1)!;
      assert.equal(rec.action, 'refuse');
      assert.equal(rec.stream, true);
    });

    it('ends a stream whose upstream dies with an error event', async () => {
      const r = await messagesSse(
        `${ctx.gw.url}/v1/messages`,
        { ...ask('a long enough answer to cut'), model: 'die' },
        xApiKey,
      );
      const last = r.events.at(-1)!;
      assert.equal(last.event, 'error');
      assert.deepEqual(Object.keys(last.data), ['type', 'error']);
      assert.equal(last.data.type, 'error');
      assert.equal((last.data.error as { type: string }).type, 'api_error');
      assert.equal(ctx.gw.records().at(-1)!.status, 502);
    });

    if (format === 'native')
      it("turns a native upstream's error event into the client's error event", async () => {
        const r = await messagesSse(
          `${ctx.gw.url}/v1/messages`,
          { ...ask('a long enough answer'), model: 'error-event' },
          xApiKey,
        );
        // The held text never went out (the default pack's redactions hold streams): the error is all there is.
        assert.equal(r.status, 200);
        assert.equal(r.events.at(-1)?.event, 'error');
        assert.equal((r.events.at(-1)?.data.error as { type: string }).type, 'api_error');
        assert.ok(!r.events.some((e) => e.event === 'message_stop'));
      });

    if (format === 'native')
      it("never passes the upstream key on, even when the upstream's error echoes it", async () => {
        const res = await post({ ...ask('hi'), model: 'echo-key' });
        assert.equal(res.status, 401);
        assert.equal(res.body.error.type, 'authentication_error');
        assert.ok(!JSON.stringify(res.body).includes(UPSTREAM_KEY), 'the upstream key reached the client');
        assert.ok(!ctx.gw.logs.join('\n').includes(UPSTREAM_KEY), 'the upstream key reached the log');
      });

    it("passes an upstream 400 on in Anthropic's error shape", async () => {
      const res = await post({ ...ask('hi'), model: 'error-400' });
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'stub 400' },
        request_id: res.headers['x-gateway-decision-id'],
      });
    });
  });
}

describe('POST /v1/messages at the edge', () => {
  const ctx = gatewayWith<DualStub>(() => startDualStub());
  const post = () => request(ctx.gw.server).post('/v1/messages');

  it('takes the key as x-api-key or as a Bearer token', async () => {
    assert.equal((await post().set(xApiKey).send(ask('hi'))).status, 200);
    assert.equal(
      (
        await post()
          .set({ authorization: `Bearer ${CLIENT_KEY}` })
          .send(ask('hi'))
      ).status,
      200,
    );
  });

  it("answers every edge error in Anthropic's shape with its status", async () => {
    const noKey = await post().send(ask('hi'));
    assert.equal(noKey.status, 401);
    assert.deepEqual(noKey.body.error.type, 'authentication_error');
    assert.match(noKey.body.error.message, /x-api-key/);
    assert.equal(noKey.body.type, 'error');
    const noMax = await post()
      .set(xApiKey)
      .send({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(noMax.status, 400);
    assert.equal(noMax.body.error.type, 'invalid_request_error');
    assert.match(noMax.body.error.message, /max_tokens/);
    const badJson = await post().set(xApiKey).set('content-type', 'application/json').send('{"model":');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.type, 'error');
    const badVersion = await post()
      .set({ ...xApiKey, 'anthropic-version': 'latest' })
      .send(ask('hi'));
    assert.equal(badVersion.status, 400);
    assert.match(badVersion.body.error.message, /anthropic-version/);
  });

  it('refuses blocks it cannot check rather than forwarding them unread', async () => {
    const pdf = { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } };
    const res = await post()
      .set(xApiKey)
      .send(ask('', { messages: [{ role: 'user', content: [pdf, { type: 'text', text: 'summarise' }] }] }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.type, 'invalid_request_error');
  });

  it('refuses server tools when the upstream speaks chat completions', async () => {
    const res = await post()
      .set(xApiKey)
      .send(ask('search', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }));
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /GATEWAY_UPSTREAM_FORMAT=native/);
  });

  it("answers an unknown path under /v1/messages in Anthropic's shape", async () => {
    const res = await request(ctx.gw.server).post('/v1/messages/count_tokens').set(xApiKey).send(ask('hi'));
    assert.equal(res.status, 404);
    assert.equal(res.body.error.type, 'not_found_error');
  });

  it('counts its requests under the messages api label', async () => {
    await post().set(xApiKey).send(ask('count me'));
    const metrics = await request(ctx.gw.server).get('/metrics');
    assert.match(metrics.text, /gateway_requests_total\{route="\/v1\/messages",decision="allow",api="messages"\} \d/);
  });
});
