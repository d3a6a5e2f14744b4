import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { scrubCredentials } from '../audit/mask.js';
import { auth, chat, gatewayWith } from './support/harness.js';
import { serveLocal } from './support/local-server.js';
import { sseChat } from './support/sse-client.js';

/** A configured upstream key that looks like no known credential format. */
const ODD_KEY = 'team-upstream-7f3a9c2e51';
const OTHER = 'sk-live-someone-elses-key-0123456789';

/**
 * An upstream that echoes the key it was sent: a 401 body naming it (model `reject`), an error event carrying it
 * mid-stream (model `event`), and a model list holding it; every answer also sends it back in a header.
 */
const echoingUpstream = () =>
  serveLocal(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += String(c);
    const sent = String(req.headers.authorization);
    res.setHeader('x-echo-authorization', sent);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', owned_by: sent }] }));
    }
    const body = JSON.parse(raw);
    const error = {
      message: `Incorrect API key provided: ${sent}. Another key seen: ${OTHER}`,
      type: 'invalid_request_error',
      code: 'invalid_api_key',
      param: null,
      api_key: ODD_KEY,
    };
    if (body.model === 'reject') {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'event' };
    res.write(
      `data: ${JSON.stringify({ ...chunk, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] })}\n\n`,
    );
    res.end(`data: ${JSON.stringify({ error })}\n\n`);
  });

const leaks = (text: string) => [ODD_KEY, OTHER, 'Bearer team'].filter((s) => text.includes(s));

describe('credentials in upstream answers', () => {
  const ctx = gatewayWith(echoingUpstream, { GATEWAY_UPSTREAM_API_KEY: ODD_KEY, GATEWAY_AUDIT_CONTENT: 'full' });

  it('passes an upstream 401 through without the configured key or anything shaped like a credential', async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ ...chat('hi'), model: 'reject' });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'invalid_api_key');
    assert.match(res.body.error.message, /^Incorrect API key provided: /);
    assert.deepEqual(leaks(JSON.stringify(res.body) + JSON.stringify(res.headers)), []);
    assert.deepEqual(leaks(JSON.stringify(ctx.gw.records().at(-1))), []);
  });

  it('answers a streamed request refused with 401 without the key', async () => {
    const res = await request(ctx.gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send({ ...chat('hi', { stream: true }), model: 'reject' });
    assert.equal(res.status, 401);
    assert.match(res.text, /Incorrect API key provided/);
    assert.deepEqual(leaks(res.text + JSON.stringify(res.headers)), []);
  });

  it('ends a stream whose upstream sent an error event holding the key without passing the key on', async () => {
    const r = await sseChat(`${ctx.gw.url}/v1/chat/completions`, { ...chat('hi'), model: 'event' }, auth);
    assert.ok(
      r.events.some((e) => e.data !== '[DONE]' && e.data.error),
      'no error event',
    );
    assert.deepEqual(leaks(JSON.stringify(r.events) + JSON.stringify(r.headers)), []);
    assert.deepEqual(leaks(JSON.stringify(ctx.gw.records().at(-1)) + ctx.gw.logs.join('\n')), []);
  });

  it('passes the model list on without the key', async () => {
    const res = await request(ctx.gw.server).get('/v1/models').set(auth);
    assert.equal(res.status, 200);
    assert.equal(res.body.data[0].owned_by, 'Bearer [masked]');
    assert.deepEqual(leaks(JSON.stringify(res.body) + JSON.stringify(res.headers)), []);
  });
});

describe('scrubCredentials', () => {
  it('masks the given keys, bearer tokens, sk- keys and credential-named members, and leaves the rest alone', () => {
    const body = { error: { message: `key ${ODD_KEY}, Bearer abcdefgh12345, ${OTHER}`, password: 'x', n: 1 } };
    assert.deepEqual(scrubCredentials(body, [ODD_KEY]), {
      error: { message: 'key [masked], [masked], [masked]', password: '[masked]', n: 1 },
    });
  });
});
