import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, eventually, gatewayWithStub } from './support/harness.js';

/** Harmless text, so that only the caps can stop it. */
const words = (n: number) => 'the quiet river runs past the old mill '.repeat(Math.ceil(n / 39)).slice(0, n);

describe('caps on what the upstream sends (issue #16, item 6)', () => {
  const ctx = gatewayWithStub(
    { GATEWAY_UPSTREAM_MAX_ANSWER_BYTES: '65536', GATEWAY_UPSTREAM_MAX_STREAM_BYTES: '65536' },
    { reply: (last) => (last === 'long' ? words(200_000) : `Echo: ${last}`), chunkChars: 200, chunkDelayMs: 1 },
  );

  it('answers 502 answer_too_large for a JSON answer past upstream.maxAnswerBytes, and records the reason', async () => {
    const r = await request(ctx.gw.server).post('/v1/chat/completions').set(auth).send(chat('long'));
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, 'answer_too_large');
    assert.match(r.body.error.message, /limit of 65536 bytes/);
    const rec = ctx.gw.records().at(-1);
    assert.equal(rec?.status, 502);
    assert.equal(rec?.error?.type, 'answer_too_large', 'the record blamed the upstream');
    const ok = await request(ctx.gw.server).post('/v1/chat/completions').set(auth).send(chat('short'));
    assert.equal(ok.status, 200, 'an answer under the cap');
  });

  it('cuts a stream past upstream.maxStreamBytes with an error event, aborts the upstream and records the reason', async () => {
    const aborted = ctx.stub.aborted;
    const res = await fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(chat('long', { stream: true })),
    });
    const text = await res.text();
    const last = text.trim().split('\n\n').at(-1) ?? '';
    assert.ok(!text.includes('[DONE]'), 'a cut stream ended as if complete');
    assert.equal(JSON.parse(last.slice('data: '.length)).error.code, 'answer_too_large');
    assert.ok(text.length < 200_000, 'the whole stream went through');
    await eventually(() => ctx.stub.aborted > aborted);
    const rec = ctx.gw.records().at(-1);
    assert.equal(rec?.stream, true);
    assert.equal(rec?.error?.type, 'answer_too_large');
  });
});
