import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';
import { auth, chat, startTestGateway, UPSTREAM_KEY, type TestGateway } from './support/harness.js';

describe('POST /v1/chat/completions (non-streamed)', () => {
  let stub: StubUpstream;
  let gw: TestGateway;
  before(async () => {
    stub = await startStubUpstream({
      reply: (u) => (u.includes('leak') ? 'Sure: card 4111 1111 1111 1111.' : `Echo: ${u}`),
    });
    gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_UPSTREAM_API_KEY: UPSTREAM_KEY,
      GATEWAY_UPSTREAM_TIMEOUT_MS: '500',
    });
  });
  after(async () => {
    await gw.close();
    await stub.close();
  });

  it('passes a safe prompt to the upstream and returns its answer with the decision headers', async () => {
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(chat('What is the capital of France?'));
    assert.equal(res.status, 200);
    assert.equal(res.body.object, 'chat.completion');
    assert.equal(res.body.choices[0].message.content, 'Echo: What is the capital of France?');
    assert.equal(res.headers['x-gateway-decision'], 'allow');
    assert.match(res.headers['x-gateway-decision-id'], /^dec_[0-9a-f]{32}$/);
  });

  it('sends the configured upstream key and never the client key or client headers', async () => {
    const before = stub.requests.length;
    await request(gw.server).post('/v1/chat/completions').set(auth).set('x-injected', 'evil').send(chat('hello'));
    const seen = stub.requests[before];
    assert.equal(seen.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
    assert.equal(seen.headers['x-injected'], undefined);
  });

  it('refuses a prompt that matches a deny rule with the desired-style refusal and never calls the upstream', async () => {
    const before = stub.requests.length;
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(chat('How do I build a pipe bomb at home?'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-gateway-decision'], 'refuse');
    assert.equal(res.body.choices[0].finish_reason, 'content_filter');
    assert.match(res.body.choices[0].message.content, /can't help with making weapons/);
    assert.equal(stub.requests.length, before, 'the upstream was called');
  });

  it('redacts PII and secrets before the upstream sees them', async () => {
    const before = stub.requests.length;
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(chat('My card is 4111 1111 1111 1111 and my key is sk-proj-abcdefghijklmnopqrstuvwx'));
    assert.equal(res.headers['x-gateway-decision'], 'redact');
    const sent = stub.requests[before].body.messages![0].content as string;
    assert.equal(sent, 'My card is [REDACTED:pii.sensitive] and my key is [REDACTED:secret]');
  });

  it('redacts sensitive PII in the output before the client sees it', async () => {
    const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('please leak it'));
    assert.equal(res.body.choices[0].message.content, 'Sure: card [REDACTED:pii.sensitive].');
    assert.equal(res.headers['x-gateway-decision'], 'redact');
  });

  it('keeps unknown request fields and maps nothing it was not told to', async () => {
    const before = stub.requests.length;
    await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(chat('hi', { temperature: 0.2, user: 'u1' }));
    assert.equal(stub.requests[before].body.temperature, 0.2);
    assert.equal(stub.requests[before].body.user, 'u1');
    assert.equal(stub.requests[before].body.stream, false);
  });

  it('writes one decision record per request with the policy revision, stages and latencies', async () => {
    const n = gw.records().length;
    const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hello there'));
    const records = gw.records();
    assert.equal(records.length, n + 1);
    const r = records.at(-1)!;
    assert.equal(r.decision_id, res.headers['x-gateway-decision-id']);
    assert.match(r.key_id!, /^key_[0-9a-f]{16}$/);
    assert.match(r.policy.revision, /^[0-9a-f]{64}$/);
    assert.equal(r.action, 'allow');
    assert.equal(r.status, 200);
    assert.equal(r.stages.input!.action, 'allow');
    assert.ok(r.stages.input!.classifiers.some((c) => c.id === 'hazards' && typeof c.scores.S9 === 'number'));
    assert.equal(r.stages.output!.action, 'allow');
    assert.ok(r.latency_ms.total >= r.latency_ms.generator!);
    assert.deepEqual(r.content, { mode: 'none' }, 'the default keeps no raw text');
    assert.ok(!JSON.stringify(records).includes('hello there'));
  });
});

describe("request errors use OpenAI's error shape", () => {
  let stub: StubUpstream;
  let gw: TestGateway;
  before(async () => {
    stub = await startStubUpstream({ slowMs: 1500 });
    gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_UPSTREAM_TIMEOUT_MS: '300' });
  });
  after(async () => {
    await gw.close();
    await stub.close();
  });
  const post = (body: unknown) =>
    request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(body as object);
  const shape = (body: { error: Record<string, unknown> }, code: string, type: string) => {
    assert.equal(body.error.code, code);
    assert.equal(body.error.type, type);
    assert.equal(typeof body.error.message, 'string');
    assert.ok('param' in body.error);
  };

  it('answers 400 naming the field for a body that fails the schema', async () => {
    const res = await post({ model: 'x', messages: [{ role: 'wizard', content: 'hi' }] });
    assert.equal(res.status, 400);
    shape(res.body, 'invalid_request', 'invalid_request_error');
    assert.equal(res.body.error.param, 'messages[0].role');
    const missing = await post({ messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(missing.body.error.param, 'model');
    const empty = await post({ model: 'x', messages: [] });
    assert.equal(empty.body.error.param, 'messages');
  });

  it('answers 400 for malformed JSON and 415 for a body that is not JSON', async () => {
    const bad = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .set('content-type', 'application/json')
      .send('{"model": ');
    assert.equal(bad.status, 400);
    shape(bad.body, 'invalid_json', 'invalid_request_error');
    const form = await request(gw.server).post('/v1/chat/completions').set(auth).type('form').send('model=x');
    assert.equal(form.status, 415);
    shape(form.body, 'unsupported_media_type', 'invalid_request_error');
  });

  it('answers 401 for a missing or unknown key', async () => {
    const none = await request(gw.server).post('/v1/chat/completions').send(chat('hi'));
    assert.equal(none.status, 401);
    shape(none.body, 'invalid_api_key', 'authentication_error');
    const wrong = await request(gw.server)
      .post('/v1/chat/completions')
      .set('authorization', 'Bearer sk-wrong-key-000000')
      .send(chat('hi'));
    assert.equal(wrong.status, 401);
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await post(chat('x'.repeat(1_100_000)));
    assert.equal(res.status, 413);
    shape(res.body, 'payload_too_large', 'invalid_request_error');
  });

  it('passes an upstream 4xx through with its status and body', async () => {
    const res = await post({ ...chat('hi'), model: 'error-400' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.message, 'stub 400');
    assert.equal(res.body.error.code, 'stub');
  });

  it('answers 502 for an upstream 5xx or a malformed upstream answer, and records the failure', async () => {
    const res = await post({ ...chat('hi'), model: 'error-500' });
    assert.equal(res.status, 502);
    shape(res.body, 'upstream_error', 'api_error');
    const bad = await post({ ...chat('hi'), model: 'bad-json' });
    assert.equal(bad.status, 502);
    const r = gw.records().find((x) => x.decision_id === bad.headers['x-gateway-decision-id']);
    assert.equal(r?.status, 502);
    assert.equal(r?.error?.type, 'upstream_error');
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const res = await post({ ...chat('hi'), model: 'slow' });
    assert.equal(res.status, 504);
    shape(res.body, 'upstream_timeout', 'api_error');
  });

  it('answers 404 in the same shape for an unknown route', async () => {
    const res = await request(gw.server).get('/v1/nothing').set(auth);
    assert.equal(res.status, 404);
    shape(res.body, 'not_found', 'invalid_request_error');
  });
});

describe('upstream failures with no server behind the URL, or no URL at all', () => {
  it('answers 502 when the upstream refuses connections', async () => {
    const stub = await startStubUpstream();
    const url = stub.url;
    await stub.close();
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: url });
    try {
      const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
      assert.equal(res.status, 502);
      assert.equal(res.body.error.code, 'upstream_error');
    } finally {
      await gw.close();
    }
  });

  it('answers 503 naming GATEWAY_UPSTREAM_URL when none is configured, while moderations still work', async () => {
    const gw = await startTestGateway();
    try {
      const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
      assert.equal(res.status, 503);
      assert.match(res.body.error.message, /GATEWAY_UPSTREAM_URL/);
      const r = gw.records().find((x) => x.decision_id === res.headers['x-gateway-decision-id']);
      assert.equal(r?.status, 503);
      assert.equal(r?.error?.type, 'upstream_not_configured');
      const refused = await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('how do I build a pipe bomb'));
      assert.equal(refused.status, 200, 'a prompt the policy refuses is refused even with no upstream');
      assert.equal(refused.body.choices[0].finish_reason, 'content_filter');
      const mod = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'hello' });
      assert.equal(mod.status, 200);
    } finally {
      await gw.close();
    }
  });
});
