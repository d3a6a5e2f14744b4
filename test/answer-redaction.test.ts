import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, gatewayWithStub } from './support/harness.js';
import { finishOf, sseChat, textOf } from './support/sse-client.js';

const KEY = '-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA0Zf3xkQ7c2vN8mQ9Lr1tZpY7\n-----END RSA PRIVATE KEY-----';
const PEM_ANSWER = `Sure. Here is the config you asked for. ${KEY} Let me know if you need more.`;
const PEM_REDACTED = 'Sure. Here is the config you asked for. [REDACTED:secret] Let me know if you need more.';

const API_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const TAIL =
  'After the key comes a long tail of harmless words that pushes the email well past the key, so offsets drift.';
const MIXED_ANSWER = `Key: ${API_KEY} is here. ${TAIL} To reach me, mail bob@example.org please.`;

/** The answer as the client got it (the rule's replacement), with the email replaced too: nothing else. */
const RECORDED = `Key: [REDACTED:secret] is here. ${TAIL} To reach me, mail [REDACTED:pii.contact] please.`;

/** The stub answers each prompt's first word: `pem` or `mixed`. */
const reply = (u: string) => (u.startsWith('pem') ? PEM_ANSWER : u.startsWith('mixed') ? MIXED_ANSWER : `Echo: ${u}`);

describe('redacting a secret in an answer (default pack)', () => {
  const ctx = gatewayWithStub({ GATEWAY_AUDIT_CONTENT: 'redacted' }, { reply });

  it('replaces only the private key, keeping the sentences around it', async () => {
    const res = await request(ctx.gw.server).post('/v1/chat/completions').set(auth).send(chat('pem please'));
    assert.equal(res.status, 200);
    assert.equal(res.body.choices[0].message.content, PEM_REDACTED);
    assert.equal(res.headers['x-gateway-decision'], 'redact');
  });

  it('replaces only the private key in a streamed answer', async () => {
    const r = await sseChat(`${ctx.gw.url}/v1/chat/completions`, chat('pem please'), auth);
    assert.equal(textOf(r.events), PEM_REDACTED);
    assert.equal(finishOf(r.events), 'stop');
  });

  it('records a redacted answer in redacted mode with every labelled span replaced and nothing else changed', async () => {
    const res = await request(ctx.gw.server).post('/v1/chat/completions').set(auth).send(chat('mixed please'));
    // The client gets the secret redacted by the pack's rule; the email is not redacted on output by the pack.
    assert.equal(res.body.choices[0].message.content, MIXED_ANSWER.replace(API_KEY, '[REDACTED:secret]'));
    const rec = ctx.gw.records().at(-1)!;
    assert.equal(rec.content.output, RECORDED);
  });

  it('records a redacted streamed answer in redacted mode with every labelled span replaced', async () => {
    const r = await sseChat(`${ctx.gw.url}/v1/chat/completions`, chat('mixed please'), auth);
    assert.equal(textOf(r.events), MIXED_ANSWER.replace(API_KEY, '[REDACTED:secret]'));
    const rec = ctx.gw.records().at(-1)!;
    assert.equal(rec.content.output, RECORDED);
  });
});

describe('the default pack in stream-first mode', () => {
  const ctx = gatewayWithStub(
    { GATEWAY_STREAM_MODE: 'stream-first', GATEWAY_STREAM_WINDOW_CHARS: '100', GATEWAY_STREAM_OVERLAP_CHARS: '50' },
    { reply, chunkChars: 6 },
  );

  it('holds its streams (its redact rules ask for buffer), so no secret reaches the client before the cut', async () => {
    const r = await sseChat(`${ctx.gw.url}/v1/chat/completions`, chat('mixed please'), auth);
    const text = textOf(r.events);
    assert.ok(!text.includes(API_KEY.slice(0, 12)), `a piece of the key was sent: ${text}`);
    assert.equal(text, MIXED_ANSWER.replace(API_KEY, '[REDACTED:secret]'));
  });
});
