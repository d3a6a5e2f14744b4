import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';
import { auth, chat, eventually, startTestGateway, type TestGateway } from './support/harness.js';
import { chunk, type SseChunk } from './support/sse-client.js';

/** Posts a streamed chat request and returns the status, headers and parsed SSE events. */
async function sse(gw: TestGateway, body: object) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6))
    .map((d) => (d === '[DONE]' ? d : (JSON.parse(d) as SseChunk)));
  return { res, events, text };
}

const contentOf = (events: (SseChunk | '[DONE]')[]) =>
  events
    .flatMap((e) => (e !== '[DONE]' && e.choices ? [e.choices] : []))
    .map((choices) => choices[0]?.delta?.content ?? '')
    .join('');

/** A policy whose output rule refuses any answer containing FORBIDDEN. */
function outputPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'stream-test',
      classifiers: [
        { id: 'words', type: 'rules', params: { keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }] } },
      ],
      rules: [
        {
          id: 'no-forbidden',
          stage: 'both',
          when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
          action: 'refuse',
          message: 'That answer was withheld.',
        },
      ],
    }),
  );
  return dir;
}

describe('POST /v1/chat/completions with stream: true', () => {
  let stub: StubUpstream;
  let gw: TestGateway;
  before(async () => {
    stub = await startStubUpstream({
      reply: (u) =>
        u.startsWith('long')
          ? `${'word '.repeat(150)}FORBIDDEN${' tail'.repeat(20)}`
          : u.startsWith('split')
            ? 'abc FORBI' + 'DDEN xyz'
            : `Echo: ${u}`,
      chunkChars: 6,
    });
    gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_POLICY: outputPolicy() });
  });
  after(async () => {
    await gw.close();
    await stub.close();
  });

  it('streams true SSE with the decision headers, the upstream chunks in order and [DONE]', async () => {
    const { res, events } = await sse(gw, chat('hello world'));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    assert.equal(res.headers.get('x-gateway-decision'), 'allow');
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(contentOf(events), 'Echo: hello world');
    assert.equal(chunk(events[0]).choices![0].delta!.role, 'assistant');
    assert.equal(chunk(events.at(-2)!).choices![0].finish_reason, 'stop');
    assert.ok(events.slice(0, -1).every((e) => chunk(e).id === chunk(events[0]).id));
  });

  it('answers a refused prompt with a refusal stream and never calls the upstream', async () => {
    const n = stub.requests.length;
    const { res, events } = await sse(gw, chat('say FORBIDDEN'));
    assert.equal(res.headers.get('x-gateway-decision'), 'refuse');
    assert.equal(contentOf(events), 'That answer was withheld.');
    assert.equal(chunk(events.at(-2)!).choices![0].finish_reason, 'content_filter');
    assert.equal(events.at(-1), '[DONE]');
    assert.equal(stub.requests.length, n);
  });

  it('cuts a stream whose output violates the policy, ending with content_filter, and records what the client got', async () => {
    const { events } = await sse(gw, chat('long answer please'));
    const text = contentOf(events);
    assert.ok(!text.includes('FORBIDDEN'), 'the violating text reached the client');
    assert.ok(text.endsWith('That answer was withheld.'));
    assert.equal(chunk(events.at(-2)!).choices![0].finish_reason, 'content_filter');
    const rec = gw.records().at(-1)!;
    assert.equal(rec.action, 'refuse');
    assert.equal(rec.stream, true);
    assert.equal(rec.stages.output?.rules[0].id, 'no-forbidden');
  });

  it('catches a violation split across two chunks', async () => {
    const { events } = await sse(gw, chat('split please'));
    assert.ok(!contentOf(events).includes('FORBI'), 'part of the violation leaked');
    assert.equal(chunk(events.at(-2)!).choices![0].finish_reason, 'content_filter');
  });

  it('sends a clean error event and records the failure when the upstream dies mid-stream', async () => {
    const { events } = await sse(gw, { ...chat('this answer is long enough to be cut'), model: 'die' });
    const last = chunk(events.at(-1)!);
    assert.equal(last.error?.code, 'upstream_error');
    const rec = gw.records().at(-1)!;
    assert.equal(rec.status, 502);
    assert.equal(rec.error?.type, 'upstream_error');
  });
});

describe('client disconnects', () => {
  it('aborts the upstream stream when the client goes away, and records the decision', async () => {
    const stub = await startStubUpstream({ reply: () => 'x'.repeat(2000), chunkChars: 4, chunkDelayMs: 20 });
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          `${gw.url}/v1/chat/completions`,
          { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } },
          (res) => {
            assert.equal(res.statusCode, 200);
            setTimeout(() => {
              req.destroy();
              resolve();
            }, 100);
          },
        );
        req.on('error', () => undefined);
        req.end(JSON.stringify({ ...chat('stream something'), stream: true }));
        setTimeout(() => reject(new Error('no data')), 3000);
      });
      await eventually(() => stub.aborted === 1);
      await eventually(() => gw.records().length === 1);
      assert.equal(gw.records()[0].status, 499);
      assert.equal(gw.records()[0].error?.type, 'client_closed');
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});
