import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startDualStub, type DualStub } from './support/anthropic-stub.js';
import { CLIENT_KEY, UPSTREAM_KEY, gatewayWith } from './support/harness.js';
import { SECRET, messagesSse, scripted, streamed } from './support/messages-fixtures.js';

describe('/v1/messages to a native upstream with the concurrent input check', () => {
  const ctx = gatewayWith<DualStub>(() => startDualStub({ answer: scripted }), {
    GATEWAY_UPSTREAM_FORMAT: 'native',
    GATEWAY_UPSTREAM_API_KEY: UPSTREAM_KEY,
    GATEWAY_STREAM_CONCURRENT_INPUT: 'on',
  });

  it('re-sends a redacted prompt, written back into the native body, when the input stage redacts', async () => {
    const body = {
      model: 'claude-test',
      max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'text', text: `hello, my key is ${SECRET}` }] }],
    };
    const r = await messagesSse(`${ctx.gw.url}/v1/messages`, body, { 'x-api-key': CLIENT_KEY });
    assert.equal(r.status, 200);
    // The stub echoes the prompt it got: the redacted one.
    assert.equal(streamed(r.events).text, 'Echo: hello, my key is [REDACTED:secret]');
    const last = ctx.stub.requests.at(-1)!;
    assert.match(last.path, /\/v1\/messages$/);
    assert.deepEqual(last.body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'hello, my key is [REDACTED:secret]' }] },
    ]);
    assert.equal(last.body.model, 'claude-test');
    assert.equal(last.body.stream, true);
  });
});
