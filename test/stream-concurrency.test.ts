import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { z } from 'zod';
import { registerClassifierType } from '../classifiers/registry.js';
import { auth, chat, eventually, startTestGateway, type TestGateway } from './support/harness.js';
import { chunkOf, finishOf, sseChat, textOf } from './support/sse-client.js';
import { REFUSAL, SCRIPTS, WINDOWS, scripted, streamGateway } from './support/stream-fixtures.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

/** A classifier that takes `ms` to answer and never flags: it makes the input stage slow. */
registerClassifierType('test-slow', {
  params: z.strictObject({ ms: z.number() }),
  create: ({ id, timeoutMs, params }) => ({
    id,
    timeoutMs,
    version: 'slow/1',
    labels: ['bad'],
    async classify() {
      await new Promise((r) => setTimeout(r, params.ms));
      return { scores: { bad: 0 }, explanation: `waited ${params.ms} ms` };
    },
  }),
});

const INPUT_MS = 300;

/** The stream policy plus a slow input check. */
function slowInputPolicy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-slow-policy-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'slow-input',
      classifiers: [
        {
          id: 'words',
          type: 'rules',
          params: {
            keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }],
            detectors: [{ detector: 'email', label: 'pii' }],
          },
        },
        { id: 'slow', type: 'test-slow', timeoutMs: 2000, params: { ms: INPUT_MS } },
      ],
      rules: [
        {
          id: 'no-forbidden',
          stage: 'both',
          when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
          action: 'refuse',
          message: REFUSAL,
        },
        {
          id: 'hide-pii',
          stage: 'input',
          when: { classifier: 'words', label: 'pii', threshold: 0.5 },
          action: 'redact',
          replacement: '[REDACTED:{label}]',
        },
        {
          id: 'slow-check',
          stage: 'input',
          when: { classifier: 'slow', label: 'bad', threshold: 0.5 },
          action: 'refuse',
        },
      ],
    }),
  );
  return dir;
}

describe('input checks concurrent with the upstream call', () => {
  let stub: StubUpstream;
  let gw: TestGateway;
  const dispatcher = new Agent();
  const post = (prompt: string) => sseChat(`${gw.url}/v1/chat/completions`, chat(prompt), auth, { dispatcher });
  before(async () => {
    stub = await startStubUpstream(scripted);
    gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_POLICY: slowInputPolicy(),
      GATEWAY_AUDIT_CONTENT: 'full',
    });
    gw.pipeline.streamSettings = { mode: 'stream-first', concurrentInput: true, ...WINDOWS };
  });
  after(async () => {
    await dispatcher.close();
    await gw.close();
    await stub.close();
  });

  it('starts the upstream call while the input stage runs, and holds its answer until the verdict', async () => {
    const t = performance.now();
    const r = await post('clean');
    assert.equal(textOf(r.events), SCRIPTS.clean.join(''));
    assert.ok(stub.requests.at(-1)!.at - t < INPUT_MS / 2, 'the upstream call waited for the input stage');
    const firstContent = r.events.find((e) => e.data !== '[DONE]' && e.data.choices?.[0]?.delta?.content)!;
    assert.ok(firstContent.at - t >= INPUT_MS, 'content arrived before the input verdict');
  });

  it('aborts the upstream call when the input is refused', async () => {
    const { completed, aborted } = stub;
    const r = await post('long FORBIDDEN');
    assert.equal(textOf(r.events), REFUSAL);
    assert.equal(finishOf(r.events), 'content_filter');
    await eventually(() => stub.aborted === aborted + 1);
    assert.equal(stub.completed, completed, 'the refused prompt was answered to the end upstream');
    assert.equal(gw.records().at(-1)!.action, 'refuse');
  });

  it('replaces the early call with the redacted request when the input is redacted', async () => {
    const n = stub.requests.length;
    const r = await post('clean mail jane.doe@example.com');
    assert.equal(textOf(r.events), SCRIPTS.clean.join(''));
    await eventually(() => stub.requests.length >= n + 1);
    const last = stub.requests.at(-1)!.body.messages!.at(-1)!.content;
    assert.equal(last, 'clean mail [REDACTED:pii]');
    assert.equal(gw.records().at(-1)!.action, 'redact');
  });
});

for (const mode of ['progressive', 'buffer', 'stream-first'] as const) {
  describe(`200 concurrent streams in ${mode} mode`, () => {
    it('all finish whole, each with its own record, and the stream metrics are exposed', async () => {
      const stub = await startStubUpstream(scripted);
      const gw = await streamGateway(stub.url, { mode, ...WINDOWS });
      const dispatcher = new Agent({ connections: 256 });
      try {
        const results = await Promise.all(
          Array.from({ length: 200 }, () =>
            sseChat(`${gw.url}/v1/chat/completions`, chat('clean'), auth, { dispatcher }),
          ),
        );
        for (const r of results) {
          assert.equal(textOf(r.events), SCRIPTS.clean.join(''));
          assert.equal(finishOf(r.events), 'stop');
          assert.equal(r.events.at(-1)!.data, '[DONE]');
        }
        assert.equal(new Set(results.map((r) => chunkOf(r.events[0]).id)).size, 200);
        assert.equal(gw.records().length, 200);
        assert.equal(stub.completed, 200);
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        assert.match(metrics, new RegExp(`gateway_stream_ttft_seconds_count\\{mode="${mode}"\\} 200`));
        assert.match(metrics, new RegExp(`gateway_stream_chunk_gap_seconds_count\\{mode="${mode}"\\} \\d+`));
      } finally {
        await dispatcher.close();
        await gw.close();
        await stub.close();
      }
    });
  });
}
