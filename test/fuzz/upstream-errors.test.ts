import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, chat, gatewayWith } from '../support/harness.js';
import { serveLocal, type LocalServer } from '../support/local-server.js';

/** An upstream that answers every call with the status and body named in the model (`<status> <body>`). */
async function scriptedUpstream(): Promise<LocalServer> {
  return serveLocal(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const model: string = JSON.parse(raw).model;
    const [status, ...body] = model.split(' ');
    res.writeHead(Number(status), { 'content-type': 'application/json' });
    res.end(body.join(' '));
  });
}

describe('upstream 4xx bodies passed through (found by npm run fuzz)', () => {
  const ctx = gatewayWith(scriptedUpstream);

  const post = async (model: string, stream = false) => {
    const res = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(chat('hi', { model, stream })),
    });
    return { status: res.status, body: (await res.json()) as { error: Record<string, unknown> } };
  };

  it('fills in message, type, code and param when the upstream error body lacks them (it went out as {"error":{}})', async () => {
    for (const stream of [false, true]) {
      const { status, body } = await post('429 {"error":{}}', stream);
      assert.equal(status, 429);
      assert.deepEqual(body, {
        error: { message: 'upstream answered 429', type: 'invalid_request_error', code: null, param: null },
      });
    }
  });

  it('keeps what the upstream said, and its extra fields', async () => {
    const { status, body } = await post(
      '400 {"error":{"message":"context too long","type":"invalid_request_error","max":8192}}',
    );
    assert.equal(status, 400);
    assert.deepEqual(body.error, {
      message: 'context too long',
      type: 'invalid_request_error',
      code: null,
      param: null,
      max: 8192,
    });
  });
});
