import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, gatewayWith, gatewayWithStub } from './support/harness.js';
import { deltas, sseResponses } from './support/responses-sse.js';
import { startResponsesStub } from './support/stub-responses-upstream.js';

const ask = (input: unknown, extra: Record<string, unknown> = {}) => ({ model: 'stub-model', input, ...extra });

describe('POST /v1/responses translated to Chat Completions (upstream.format chat)', () => {
  const ctx = gatewayWithStub({ GATEWAY_UPSTREAM_FORMAT: 'chat' });

  it('answers a string input with a message item, recorded as the responses API', async () => {
    const res = await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('Say hi'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-gateway-decision'], 'allow');
    assert.equal(res.body.object, 'response');
    assert.equal(res.body.status, 'completed');
    assert.match(res.body.id, /^resp_/);
    const [item] = res.body.output;
    assert.equal(item.type, 'message');
    assert.deepEqual(item.content[0], { type: 'output_text', text: 'Echo: Say hi', annotations: [], logprobs: [] });
    assert.equal(res.body.usage.input_tokens, 5);
    const sent = ctx.stub.requests.at(-1)!;
    assert.equal(sent.path, '/v1/chat/completions');
    assert.deepEqual(sent.body.messages, [{ role: 'user', content: 'Say hi' }]);
    const rec = ctx.gw.records().at(-1)!;
    assert.equal(rec.api, 'responses');
    assert.equal(rec.route, '/v1/responses');
    assert.equal(rec.decision_id, res.headers['x-gateway-decision-id']);
  });

  it('translates instructions, input items, function tools and outputs field by field', async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send(
        ask(
          [
            { role: 'user', content: [{ type: 'input_text', text: 'Weather in Paris?' }] },
            { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { type: 'function_call_output', call_id: 'call_1', output: '18C and sunny' },
            { role: 'user', content: 'Thanks, and in one word?' },
          ],
          {
            instructions: 'Be brief',
            max_output_tokens: 50,
            tools: [{ type: 'function', name: 'weather', parameters: { type: 'object' }, strict: false }],
            tool_choice: { type: 'function', name: 'weather' },
            text: { format: { type: 'json_object' } },
          },
        ),
      );
    assert.equal(res.status, 200);
    const sent = ctx.stub.requests.at(-1)!.body;
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'Be brief' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18C and sunny' },
      { role: 'user', content: 'Thanks, and in one word?' },
    ]);
    assert.equal(sent.max_tokens, 50);
    assert.deepEqual(sent.tools, [
      { type: 'function', function: { name: 'weather', parameters: { type: 'object' }, strict: false } },
    ]);
    assert.deepEqual(sent.tool_choice, { type: 'function', function: { name: 'weather' } });
    assert.deepEqual(sent.response_format, { type: 'json_object' });
    assert.equal(res.body.instructions, 'Be brief');
    assert.equal(res.body.max_output_tokens, 50);
  });

  it('answers a refused prompt with a refusal content part and never calls the upstream', async () => {
    const n = ctx.stub.requests.length;
    const res = await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('how do I make a pipe bomb'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-gateway-decision'], 'refuse');
    const [part] = res.body.output[0].content;
    assert.equal(part.type, 'refusal');
    assert.match(part.refusal, /can't help with making weapons/);
    assert.equal(ctx.stub.requests.length, n);
    assert.equal(ctx.gw.records().at(-1)!.action, 'refuse');
  });

  it('streams the typed events in order, with sequence numbers, ending in response.completed', async () => {
    const { res, events } = await sseResponses(`${ctx.gw.url}/v1/responses`, ask('Stream a reply'), auth);
    assert.equal(res.headers.get('x-gateway-decision'), 'allow');
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    assert.deepEqual(
      [...new Set(events.map((e) => e.type))],
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    assert.equal(deltas(events, 'response.output_text.delta'), 'Echo: Stream a reply');
    const completed = events.at(-1)!.response as { id: string; output: { content: { text: string }[] }[] };
    assert.equal(completed.output[0]?.content[0]?.text, 'Echo: Stream a reply');
    assert.equal(completed.id, (events[0]!.response as { id: string }).id);
    assert.equal(ctx.gw.records().at(-1)!.stream, true);
  });

  it('answers bad input with a 400 naming the field', async () => {
    const cases: [object, string][] = [
      [{ input: 'hi' }, 'model'],
      [ask([{ role: 'robot', content: 'hi' }]), 'input[0].role'],
      [ask([{ type: 'function_call_output', output: 'x' }]), 'input[0].call_id'],
      [ask([{ type: 'item_reference', id: 'msg_1' }]), 'input[0].type'],
      [ask('hi', { tools: [{ type: 'web_search' }] }), 'tools[0].type'],
      [ask('hi', { conversation: 'conv_1' }), 'conversation'],
      [ask('hi', { previous_response_id: 'resp_unknown' }), 'previous_response_id'],
    ];
    for (const [body, param] of cases) {
      const res = await request(ctx.gw.server).post('/v1/responses').set(auth).send(body);
      assert.equal(res.status, 400, param);
      assert.equal(res.body.error.param, param);
      assert.equal(res.body.error.type, 'invalid_request_error');
    }
  });

  it('continues a conversation from previous_response_id with the turns it judged and answered', async () => {
    const first = await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('My name is Ada'));
    const second = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send(ask('What is my name?', { previous_response_id: first.body.id }));
    assert.equal(second.status, 200);
    assert.deepEqual(ctx.stub.requests.at(-1)!.body.messages, [
      { role: 'user', content: 'My name is Ada' },
      { role: 'assistant', content: 'Echo: My name is Ada' },
      { role: 'user', content: 'What is my name?' },
    ]);
    assert.equal(second.body.previous_response_id, first.body.id);
    assert.deepEqual(ctx.gw.records().at(-1)!.continues, { id: first.body.id, judged: 'history' });
  });

  it('counts requests by api in the metrics', async () => {
    const res = await request(ctx.gw.server).get('/metrics');
    assert.match(res.text, /gateway_requests_total\{route="\/v1\/responses",decision="allow",api="responses"\} \d/);
  });
});

describe('POST /v1/responses with an unknown previous_response_id judged as a new turn', () => {
  const ctx = gatewayWithStub({ GATEWAY_UPSTREAM_FORMAT: 'chat', GATEWAY_RESPONSES_UNKNOWN_PREVIOUS_ID: 'new-turn' });

  it('judges and sends only the new turn, and says so in a header', async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send(ask('hello again', { previous_response_id: 'resp_never_seen' }));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-gateway-context'], 'new-turn-only');
    assert.deepEqual(ctx.stub.requests.at(-1)!.body.messages, [{ role: 'user', content: 'hello again' }]);
    assert.deepEqual(ctx.gw.records().at(-1)!.continues, { id: 'resp_never_seen', judged: 'new-turn-only' });
  });
});

describe('POST /v1/responses passed through to an upstream that serves /v1/responses (native)', () => {
  const ctx = gatewayWith(() => startResponsesStub(), { GATEWAY_UPSTREAM_FORMAT: 'native' });

  it("sends the judged input to the upstream's /responses and keeps its id and fields", async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send(ask('Say hi', { instructions: 'Be brief', reasoning: { effort: 'low' } }));
    assert.equal(res.status, 200);
    const sent = ctx.stub.requests.at(-1)!;
    assert.equal(sent.path, '/v1/responses');
    assert.deepEqual(sent.body.input, [
      { type: 'message', role: 'system', content: 'Be brief' },
      { type: 'message', role: 'user', content: 'Say hi' },
    ]);
    assert.deepEqual(sent.body.reasoning, { effort: 'low' });
    assert.equal(sent.body.stream, false);
    assert.match(res.body.id, /^resp_stub/);
    assert.equal(res.body.upstream_extra, 'kept');
    assert.equal(res.body.output[0].content[0].text, 'Echo: Say hi');
    assert.equal(ctx.gw.records().at(-1)!.api, 'responses');
  });

  it("redacts the prompt before the upstream's /responses sees it", async () => {
    await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('Mail me at ada@example.org please'));
    assert.deepEqual(ctx.stub.requests.at(-1)!.body.input, [
      { type: 'message', role: 'user', content: 'Mail me at [REDACTED:pii.contact] please' },
    ]);
  });

  it('streams the upstream events back as moderated typed events', async () => {
    const { events } = await sseResponses(`${ctx.gw.url}/v1/responses`, ask('Stream it'), auth);
    assert.equal(deltas(events, 'response.output_text.delta'), 'Echo: Stream it');
    assert.equal(events.at(-1)!.type, 'response.completed');
    assert.match((events[0]!.response as { id: string }).id, /^resp_stub/);
    assert.equal(ctx.stub.requests.at(-1)!.body.stream, true);
  });

  it("ends a stream with an error event when the upstream's stream fails", async () => {
    const { events } = await sseResponses(`${ctx.gw.url}/v1/responses`, { ...ask('x'), model: 'error-event' }, auth);
    const last = events.at(-1)!;
    assert.equal(last.type, 'error');
    assert.equal(typeof last.message, 'string');
    assert.equal(ctx.gw.records().at(-1)!.status, 502);
  });

  it("passes an upstream 500 on as the gateway's 502", async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send({ ...ask('x'), model: 'error-500' });
    assert.equal(res.status, 502);
  });
});

describe('POST /v1/responses with upstream.format auto in front of an upstream that serves /v1/responses', () => {
  const ctx = gatewayWith(() => startResponsesStub(), { GATEWAY_UPSTREAM_FORMAT: 'auto' });

  it('passes a 404 about the model on to the client, and keeps passing through (it is not a missing route)', async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/responses')
      .set(auth)
      .send({ ...ask('x'), model: 'missing-model' });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'model_not_found');
    const ok = await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('Say hi'));
    assert.equal(ok.status, 200);
    assert.equal(ctx.stub.requests.at(-1)!.path, '/v1/responses');
    assert.match(ok.body.id, /^resp_stub/);
  });
});

describe('POST /v1/responses with upstream.format auto in front of a Chat-Completions-only upstream', () => {
  const ctx = gatewayWithStub({ GATEWAY_UPSTREAM_FORMAT: 'auto' });

  it('falls back to translation when /responses answers 404, and does not ask again', async () => {
    const n = ctx.stub.requests.length;
    const res = await request(ctx.gw.server).post('/v1/responses').set(auth).send(ask('Say hi'));
    assert.equal(res.status, 200);
    assert.equal(res.body.output[0].content[0].text, 'Echo: Say hi');
    assert.deepEqual(
      ctx.stub.requests.slice(n).map((r) => r.path),
      ['/v1/responses', '/v1/chat/completions'],
    );
    const { events } = await sseResponses(`${ctx.gw.url}/v1/responses`, ask('Again'), auth);
    assert.equal(deltas(events, 'response.output_text.delta'), 'Echo: Again');
    assert.equal(ctx.stub.requests.at(-1)!.path, '/v1/chat/completions');
    assert.equal(ctx.stub.requests.length, n + 3);
  });
});
