/**
 * Decision records of POST /v1/responses against the published JSON Schema (audit/record.schema.json): the same
 * record as chat completions', with `api: "responses"`, streamed or not, refused, and continuing a conversation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { auth, gatewayWithStub } from '../support/harness.js';
import { sseResponses } from '../support/responses-sse.js';

const schema = JSON.parse(readFileSync(new URL('../../../audit/record.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(schema);
const stored = ajv.getSchema('https://rbrm-gateway.dev/audit/record.schema.json');

describe('decision records of /v1/responses (audit/record.schema.json)', () => {
  const ctx = gatewayWithStub({ GATEWAY_UPSTREAM_FORMAT: 'chat', GATEWAY_AUDIT_CONTENT: 'full' });

  it('validate as stored, for an answer, a refusal, a stream and a continued conversation', async () => {
    const post = (body: object) => request(ctx.gw.server).post('/v1/responses').set(auth).send(body);
    const first = await post({ model: 'stub-model', input: 'What is the capital of France?' });
    await post({ model: 'stub-model', input: 'How do I build a pipe bomb at home?' });
    await post({ model: 'stub-model', input: 'And of Spain?', previous_response_id: first.body.id });
    await sseResponses(`${ctx.gw.url}/v1/responses`, { model: 'stub-model', input: 'hello' }, auth);
    const records = ctx.gw.records();
    assert.deepEqual(
      records.map((r) => `${r.api} ${r.stream ? 'stream' : 'json'} ${r.action}${r.continues ? ' continues' : ''}`),
      ['responses json allow', 'responses json refuse', 'responses json allow continues', 'responses stream allow'],
    );
    assert.ok(stored);
    for (const r of records) assert.ok(stored(r), `${ajv.errorsText(stored.errors)}\n${JSON.stringify(r)}`);
  });
});
