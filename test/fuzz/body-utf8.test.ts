import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, gatewayWithStub } from '../support/harness.js';

describe('request bodies that are not valid UTF-8 (found by npm run fuzz)', () => {
  const ctx = gatewayWithStub();

  const post = (body: Buffer) =>
    fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body,
    });
  const withBytes = (bytes: number[]) =>
    Buffer.concat([
      Buffer.from('{"model":"stub-model","messages":[{"role":"user","content":"ab'),
      Buffer.from(bytes),
      Buffer.from('cd"}]}'),
    ]);

  it('answers 400 in OpenAI shape for stray, truncated, surrogate or out-of-range bytes (they were replaced by U+FFFD and forwarded)', async () => {
    for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const res = await post(withBytes(bytes));
      assert.equal(res.status, 400, String(bytes));
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'invalid_json');
      assert.match(error.message, /not valid UTF-8/);
    }
    assert.equal(ctx.stub.requests.length, 0);
  });

  it('accepts valid multi-byte text, and lone surrogates written as JSON escapes', async () => {
    assert.equal((await post(withBytes([...Buffer.from('é中😀')]))).status, 200);
    assert.equal(
      (await post(Buffer.from('{"model":"stub-model","messages":[{"role":"user","content":"a\\ud800b"}]}'))).status,
      200,
    );
  });
});
