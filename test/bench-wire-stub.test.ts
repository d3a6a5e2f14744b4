import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startWireStub, type WireStub } from '../bench/servers/wire-answers.js';
import { CLIENT_KEY, auth, gatewayWith } from './support/harness.js';

const responses = { model: 'gpt-4o-mini', input: 'What is the capital of France?' };
const messages = {
  model: 'claude-test',
  max_tokens: 64,
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
};
const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] };
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const anthropic = { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' };
const PARIS = /capital of France is Paris/;

// bench:proxy compares every API through one upstream (bench/servers/wire-answers.ts): each gateway row must get a
// real answer from it, passed through and translated, or the bench would time error paths.
for (const format of ['native', 'chat'] as const) {
  describe(`bench:proxy's wire stub behind a gateway (upstream.format ${format})`, () => {
    const ctx = gatewayWith<WireStub>(() => startWireStub(), { GATEWAY_UPSTREAM_FORMAT: format });

    it('answers chat completions', async () => {
      const r = await post(`${ctx.gw.url}/v1/chat/completions`, chat, auth);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { choices: { message: { content: string } }[] };
      assert.match(body.choices[0].message.content, PARIS);
    });

    it('answers /v1/responses with a Response object', async () => {
      const r = await post(`${ctx.gw.url}/v1/responses`, responses, auth);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { id: string; output: { content: { text: string }[] }[] };
      assert.match(body.output[0].content[0].text, PARIS);
      // Passed through, the client gets the upstream's own id; translated, the gateway's.
      assert.equal(body.id.startsWith('resp_bench'), format === 'native');
    });

    it('answers /v1/messages with a message', async () => {
      const r = await post(`${ctx.gw.url}/v1/messages`, messages, anthropic);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { content: { text: string }[]; stop_reason: string };
      assert.match(body.content[0].text, PARIS);
      assert.equal(body.stop_reason, 'end_turn');
    });
  });
}

describe("bench:proxy's wire stub on its own", () => {
  it('answers each format at its path, 404 elsewhere, 400 for a stream or a body without a model', async () => {
    const stub = await startWireStub();
    try {
      const ok = await post(`${stub.url}/responses`, responses);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-length'), String((await ok.text()).length));
      assert.equal((await post(`${stub.url}/embeddings`, chat)).status, 404);
      assert.equal((await post(`${stub.url}/messages`, { ...messages, stream: true })).status, 400);
      assert.equal((await post(`${stub.url}/chat/completions`, null)).status, 400);
      const bad = await fetch(`${stub.url}/chat/completions`, { method: 'POST', body: '{not json' });
      assert.equal(bad.status, 400);
      assert.equal((await fetch(`${stub.url}/chat/completions`)).status, 404);
    } finally {
      await stub.close();
    }
  });
});
