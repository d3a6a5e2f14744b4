import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { startStubUpstream } from './support/stub-upstream.js';
import { startResponsesStub } from './support/stub-responses-upstream.js';
import { CLIENT_KEY, startTestGateway, type TestGateway } from './support/harness.js';

const API_KEY = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const LONG = `${'word '.repeat(150)}FORBIDDEN${' tail'.repeat(20)}`;

/** Refuses FORBIDDEN on input and output; redacts API keys in answers (tool arguments included). */
function policyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
  const policy = {
    apiVersion: 'gateway/v1',
    id: 'sdk-responses',
    classifiers: [
      { id: 'words', type: 'rules', params: { keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }] } },
      { id: 'secrets', type: 'rules', params: { detectors: [{ detector: 'api_key', label: 'secrets' }] } },
    ],
    rules: [
      {
        id: 'no-forbidden',
        stage: 'both',
        when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
        action: 'refuse',
        message: 'That answer was withheld.',
      },
      {
        id: 'redact-secrets',
        stage: 'output',
        when: { classifier: 'secrets', label: 'secrets', threshold: 0.5 },
        action: 'redact',
        replacement: '[REDACTED:secret]',
      },
    ],
  };
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
  return dir;
}

const reply = (u: string) => (u.startsWith('long') ? LONG : u.startsWith('key') ? 'Calling the tool.' : `Echo: ${u}`);
const toolCall = (u: string) =>
  u.startsWith('key') ? { name: 'store_token', arguments: `{"token":"${API_KEY}","note":"kept"}` } : undefined;
const tools: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'store_token', parameters: { type: 'object', properties: {} }, strict: false },
];

async function collect(stream: AsyncIterable<ResponseStreamEvent>): Promise<ResponseStreamEvent[]> {
  const events: ResponseStreamEvent[] = [];
  for await (const e of stream) events.push(e);
  return events;
}
const joined = (events: ResponseStreamEvent[], type: string) =>
  events.map((e) => (e.type === type && 'delta' in e ? String(e.delta) : '')).join('');

const UPSTREAMS = {
  'translated to Chat Completions (chat)': { format: 'chat', start: () => startStubUpstream({ reply, toolCall }) },
  'passed through to /v1/responses (native)': {
    format: 'native',
    start: () => startResponsesStub({ reply, toolCall }),
  },
} as const;

for (const [name, upstream] of Object.entries(UPSTREAMS)) {
  describe(`the official openai client's responses API pointed at the gateway, ${name}`, () => {
    let stub: { close(): Promise<void>; url: string; requests: { body: object }[] };
    let gw: TestGateway;
    let client: OpenAI;
    before(async () => {
      stub = await upstream.start();
      gw = await startTestGateway({
        GATEWAY_UPSTREAM_URL: stub.url,
        GATEWAY_UPSTREAM_FORMAT: upstream.format,
        GATEWAY_POLICY: policyDir(),
        GATEWAY_POLICY_WATCH: 'off',
        GATEWAY_AUDIT_CONTENT: 'redacted',
      });
      client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    });
    after(async () => {
      await gw.close();
      await stub.close();
    });

    it('gets an allowed answer with a function tool offered, JSON and streamed', async () => {
      const { data, response } = await client.responses
        .create({ model: 'stub-model', input: 'Say hi', tools })
        .withResponse();
      assert.equal(response.headers.get('x-gateway-decision'), 'allow');
      assert.equal(data.status, 'completed');
      assert.equal(data.output_text, 'Echo: Say hi');
      const events = await collect(
        await client.responses.create({ model: 'stub-model', input: 'Stream', tools, stream: true }),
      );
      assert.equal(joined(events, 'response.output_text.delta'), 'Echo: Stream');
      assert.equal(events.at(-1)?.type, 'response.completed');
    });

    it('gets a refusal as a refusal content part, with the decision headers, JSON and streamed', async () => {
      const { data, response } = await client.responses
        .create({ model: 'stub-model', input: 'say FORBIDDEN' })
        .withResponse();
      assert.equal(response.headers.get('x-gateway-decision'), 'refuse');
      assert.match(response.headers.get('x-gateway-decision-id') ?? '', /^dec_/);
      const item = data.output[0];
      assert.equal(item?.type, 'message');
      assert.deepEqual(item?.type === 'message' && item.content, [
        { type: 'refusal', refusal: 'That answer was withheld.' },
      ]);
      const events = await collect(
        await client.responses.create({ model: 'stub-model', input: 'say FORBIDDEN', stream: true }),
      );
      assert.equal(joined(events, 'response.refusal.delta'), 'That answer was withheld.');
      assert.equal(joined(events, 'response.output_text.delta'), '');
      assert.equal(events.at(-1)?.type, 'response.completed');
    });

    it('gets a mid-stream cut-off: the checked text, then the refusal, then response.incomplete (content_filter)', async () => {
      const events = await collect(
        await client.responses.create({ model: 'stub-model', input: 'long answer', stream: true }),
      );
      const text = joined(events, 'response.output_text.delta');
      assert.ok(text.startsWith('word word'), 'no text before the cut');
      assert.ok(!text.includes('FORBIDDEN'), 'the violating text reached the client');
      assert.equal(joined(events, 'response.refusal.delta'), 'That answer was withheld.');
      const last = events.at(-1);
      assert.equal(last?.type, 'response.incomplete');
      assert.equal(last?.type === 'response.incomplete' && last.response.incomplete_details?.reason, 'content_filter');
      const rec = gw.records().at(-1)!;
      assert.equal(rec.action, 'refuse');
      assert.equal(rec.api, 'responses');
    });

    it('gets a function call whose secret argument is redacted, JSON and streamed', async () => {
      const data = await client.responses.create({ model: 'stub-model', input: 'key please', tools });
      const call = data.output.find((o) => o.type === 'function_call');
      assert.equal(call?.type === 'function_call' && call.name, 'store_token');
      assert.equal(call?.type === 'function_call' && call.arguments, '{"token":"[REDACTED:secret]","note":"kept"}');
      const events = await collect(
        await client.responses.create({ model: 'stub-model', input: 'key please', tools, stream: true }),
      );
      const args = joined(events, 'response.function_call_arguments.delta');
      assert.equal(args, '{"token":"[REDACTED:secret]","note":"kept"}');
      assert.ok(!JSON.stringify(events).includes(API_KEY), 'the key reached the client');
      const rec = gw.records().at(-1)!;
      assert.equal(rec.action, 'redact');
      // The record names the call; its arguments are kept as a digest outside `full` mode.
      assert.equal(rec.content.tool_calls?.output?.[0]?.name, 'store_token');
    });

    it("assembles a streamed cut-off and a streamed tool call with the SDK's responses.stream helper", async () => {
      // The helper adopts the terminal Response only from response.completed (not .incomplete) and accumulates
      // output_text deltas only: what it assembles is the text sent, then the refusal part.
      const cut = await client.responses.stream({ model: 'stub-model', input: 'long answer' }).finalResponse();
      const message = cut.output[0];
      assert.ok(message?.type === 'message');
      assert.deepEqual(
        message.content.map((p) => p.type),
        ['output_text', 'refusal'],
      );
      const [sent] = message.content;
      assert.ok(sent?.type === 'output_text' && sent.text.startsWith('word word') && !sent.text.includes('FORBIDDEN'));
      const called = await client.responses.stream({ model: 'stub-model', input: 'key please', tools }).finalResponse();
      const call = called.output.find((o) => o.type === 'function_call');
      assert.equal(call?.type === 'function_call' && call.arguments, '{"token":"[REDACTED:secret]","note":"kept"}');
    });

    it('continues with the function call output from previous_response_id', async () => {
      const first = await client.responses.create({ model: 'stub-model', input: 'key please', tools });
      const call = first.output.find((o) => o.type === 'function_call');
      assert.ok(call?.type === 'function_call');
      const second = await client.responses.create({
        model: 'stub-model',
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: 'stored' }],
        tools,
      });
      assert.equal(second.status, 'completed');
      assert.equal(second.previous_response_id, first.id);
      // The upstream got the earlier turn as the client saw it (the key redacted), then the tool's output.
      const sent = JSON.stringify(stub.requests.at(-1)?.body);
      assert.ok(sent.includes('key please') && sent.includes('[REDACTED:secret]') && sent.includes('"stored"'));
      assert.ok(!sent.includes(API_KEY), 'the redacted key went back upstream');
    });
  });
}
