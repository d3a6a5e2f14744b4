import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { LocalGenerator } from '../../generator/local/local-generator.js';
import { auth, eventually, startTestGateway, type TestGateway } from '../support/harness.js';
import { chunk, sseChat } from '../support/sse-client.js';
import { ask, tinyModel, tinySettings } from './tiny.js';

/** A policy whose output rule refuses any three-letter run: the tiny model's gibberish trips it within a window. */
function cuttingPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-local-policy-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'cut-letters',
      stream: { mode: 'progressive', windowChars: 40, overlapChars: 8 },
      classifiers: [{ id: 'w', type: 'rules', params: { patterns: [{ label: 'letters', regex: '[a-z]{3}' }] } }],
      rules: [
        { id: 'no', stage: 'output', when: { classifier: 'w', label: 'letters', threshold: 0.5 }, action: 'refuse' },
      ],
    }),
  );
  return dir;
}

describe('the gateway with a local generator', () => {
  let gen: LocalGenerator;
  let gw: TestGateway;
  before(async () => {
    gen = await LocalGenerator.open(
      tinySettings(tinyModel(), { sequences: 1, maxQueued: 0, name: 'tiny-local', contextSize: 2048 }),
    );
    gw = await startTestGateway({ GATEWAY_POLICY_WATCH: 'off' }, { generator: gen });
  });
  after(() => gw.close());

  it('is ready once the model has loaded, and lists the model by its configured name', async () => {
    assert.equal((await request(gw.server).get('/readyz')).status, 200);
    const models = await request(gw.server).get('/v1/models').set(auth);
    assert.equal(models.status, 200);
    assert.deepEqual(
      models.body.data.map((m: { id: string }) => m.id),
      ['tiny-local'],
    );
  });

  it('answers a chat completion with usage, recorded as allowed', async () => {
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(ask({ max_tokens: 8 }));
    assert.equal(res.status, 200);
    assert.equal(res.body.model, 'tiny-local');
    assert.equal(res.body.choices[0].finish_reason, 'length');
    assert.equal(res.body.usage.completion_tokens, 8);
    await eventually(() => gw.records().length >= 1);
    assert.equal(gw.records().at(-1)?.action, 'allow');
  });

  it('streams over SSE with several text chunks, one finish and usage', async () => {
    const r = await sseChat(
      `${gw.url}/v1/chat/completions`,
      ask({ stream: true, max_tokens: 16, stream_options: { include_usage: true } }),
      auth,
    );
    assert.equal(r.status, 200);
    const chunks = r.events.filter((e) => e.data !== '[DONE]').map((e) => chunk(e.data));
    assert.equal(r.events.at(-1)?.data, '[DONE]');
    assert.ok(chunks.filter((c) => c.choices?.[0]?.delta?.content).length >= 2);
    assert.deepEqual(chunks.flatMap((c) => c.choices?.map((ch) => ch.finish_reason) ?? []).filter(Boolean), ['length']);
    assert.equal(chunks.find((c) => c.usage)?.usage?.completion_tokens, 16);
  });

  it('serves /v1/responses and /v1/messages through the same generator', async () => {
    const responses = await request(gw.server)
      .post('/v1/responses')
      .set(auth)
      .send({ model: 'tiny-local', input: 'Tell me about the sea.', max_output_tokens: 6 });
    assert.equal(responses.status, 200, JSON.stringify(responses.body));
    assert.equal(responses.body.object, 'response');
    assert.equal(responses.body.usage.output_tokens, 6);
    const messages = await request(gw.server)
      .post('/v1/messages')
      .set(auth)
      .send({ model: 'tiny-local', max_tokens: 6, messages: [{ role: 'user', content: 'Tell me about the sea.' }] });
    assert.equal(messages.status, 200, JSON.stringify(messages.body));
    assert.equal(messages.body.type, 'message');
    assert.equal(messages.body.stop_reason, 'max_tokens');
    assert.equal(messages.body.usage.output_tokens, 6);
  });

  it('answers 429 in OpenAI shape when the sequence is busy and nothing may queue', async () => {
    // A stream that holds the one sequence until the client leaves, after the checks below.
    const leave = new AbortController();
    const busy = fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(ask({ stream: true, max_tokens: 1800 })),
      signal: leave.signal,
    }).then((res) => res.text());
    await eventually(() => gen.load.busy === 1);
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(ask({ max_tokens: 2 }));
    assert.equal(res.status, 429);
    assert.equal(res.body.error.code, 'overloaded');
    assert.equal(res.body.error.type, 'rate_limit_error');
    leave.abort();
    await busy.catch(() => undefined);
    await eventually(() => gen.load.busy === 0);
  });

  it('stops generating and frees the sequence when the client leaves mid-stream', async () => {
    const before = gen.generatedTokens;
    await sseChat(`${gw.url}/v1/chat/completions`, ask({ stream: true, max_tokens: 400 }), auth, { abortAfter: 3 });
    await eventually(() => gen.load.busy === 0);
    assert.ok(gen.generatedTokens - before < 200, `generation went on (${gen.generatedTokens - before} tokens)`);
  });

  it('answers 400 context_length_exceeded for a prompt past the context', async () => {
    const res = await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(ask({ messages: [{ role: 'user', content: 'the sea and the sky '.repeat(800) }] }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'context_length_exceeded');
  });
});

describe('the output stage cutting a local stream', () => {
  let gen: LocalGenerator;
  let gw: TestGateway;
  before(async () => {
    gen = await LocalGenerator.open(tinySettings(tinyModel(), { sequences: 1 }));
    gw = await startTestGateway({ GATEWAY_POLICY_WATCH: 'off', GATEWAY_POLICY: cuttingPolicy() }, { generator: gen });
  });
  after(() => gw.close());

  it('refuses mid-stream, stops the generation and frees the sequence', async () => {
    const before = gen.generatedTokens;
    const r = await sseChat(`${gw.url}/v1/chat/completions`, ask({ stream: true, max_tokens: 400 }), auth);
    assert.equal(r.status, 200);
    await eventually(() => gw.records().length >= 1);
    assert.equal(gw.records().at(-1)?.action, 'refuse');
    await eventually(() => gen.load.busy === 0);
    const generated = gen.generatedTokens - before;
    assert.ok(generated < 400, `the model generated all ${generated} tokens after the cut`);
  });
});
