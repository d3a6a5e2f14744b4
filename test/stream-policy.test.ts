import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

const policy = (stream: object, ruleExtra: object = {}) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-sp-'));
  writeFileSync(
    join(dir, 'policy.json'),
    JSON.stringify({
      apiVersion: 'gateway/v1',
      id: 'sp',
      stream,
      classifiers: [{ id: 'w', type: 'rules', params: { keywords: [{ label: 'bad', words: ['FORBIDDEN'] }] } }],
      rules: [
        {
          id: 'no',
          stage: 'output',
          when: { classifier: 'w', label: 'bad', threshold: 0.5 },
          action: 'refuse',
          ...ruleExtra,
        },
      ],
    }),
  );
  return dir;
};

/** The stream mode the gateway used for one streamed request, read from its TTFT histogram. */
async function modeUsed(policyDir: string): Promise<string> {
  const stub = await startStubUpstream();
  const gw = await startTestGateway({
    GATEWAY_UPSTREAM_URL: stub.url,
    GATEWAY_POLICY: policyDir,
    GATEWAY_POLICY_WATCH: 'off',
  });
  try {
    await request(gw.server)
      .post('/v1/chat/completions')
      .set(auth)
      .send(chat('hello', { stream: true }));
    const metrics = (await request(gw.server).get('/metrics')).text;
    return /gateway_stream_ttft_seconds_count\{mode="([^"]+)"\} 1/.exec(metrics)?.[1] ?? 'none';
  } finally {
    await gw.close();
    await stub.close();
  }
}

describe('stream mode chosen by the policy', () => {
  it("uses the policy's stream mode over the gateway default, which is progressive", async () => {
    assert.equal(await modeUsed(policy({})), 'progressive');
    assert.equal(await modeUsed(policy({ mode: 'stream-first' })), 'stream-first');
    assert.equal(await modeUsed(policy({ mode: 'buffer' })), 'buffer');
  });

  it('holds every stream when an enforced output rule asks for buffer mode', async () => {
    assert.equal(await modeUsed(policy({ mode: 'stream-first' }, { streamMode: 'buffer' })), 'buffer');
    assert.equal(await modeUsed(policy({}, { streamMode: 'buffer' })), 'buffer');
  });

  it('gives a rule that asks for progressive mode at least that, and never less than the mode chosen', async () => {
    assert.equal(await modeUsed(policy({ mode: 'stream-first' }, { streamMode: 'progressive' })), 'progressive');
    assert.equal(await modeUsed(policy({ mode: 'buffer' }, { streamMode: 'progressive' })), 'buffer');
    assert.equal(await modeUsed(policy({}, { streamMode: 'stream-first' })), 'progressive');
  });

  it('ignores a shadow rule that asks for more', async () => {
    assert.equal(
      await modeUsed(policy({ mode: 'stream-first' }, { streamMode: 'buffer', mode: 'shadow' })),
      'stream-first',
    );
  });
});
