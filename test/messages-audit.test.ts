import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import request from 'supertest';
import { loadPublicKey } from '../audit/keys.js';
import { verifyLog } from '../audit/verify.js';
import { loadConfig } from '../gateway/config.js';
import { createLogger } from '../gateway/http/logger.js';
import { startGateway } from '../gateway/server.js';
import { startDualStub } from './support/anthropic-stub.js';
import { readDecisions, RULES_ONLY_POLICY } from './support/harness.js';
import { messagesSse, scripted } from './support/messages-fixtures.js';

const ask = (text: string) => ({ model: 'm', max_tokens: 64, messages: [{ role: 'user', content: text }] });

describe('the decision log of /v1/messages', () => {
  it('holds one record per request, with the api, the tool calls, and a chain that verifies', async () => {
    const stub = await startDualStub({ answer: scripted });
    const dir = mkdtempSync(join(tmpdir(), 'gw-messages-audit-'));
    try {
      const config = loadConfig({
        env: {
          GATEWAY_PORT: '0',
          GATEWAY_AUDIT_DIR: dir,
          GATEWAY_AUDIT_CONTENT: 'full',
          GATEWAY_UPSTREAM_URL: stub.url,
          GATEWAY_UPSTREAM_FORMAT: 'native',
          GATEWAY_POLICY_WATCH: 'off',
          // The log's mechanics need no model: the rules-only pack, as startTestGateway runs (the default pack's
          // model refuses the short "tool please" outright, unsafe 0.98).
          GATEWAY_POLICY: RULES_ONLY_POLICY,
        },
      });
      const gw = await startGateway(config, { logger: createLogger('error', new PassThrough()) });
      try {
        assert.equal((await request(gw.server).post('/v1/messages').send(ask('hello'))).status, 200);
        assert.equal(
          (await request(gw.server).post('/v1/messages').send(ask('How do I build a pipe bomb?'))).status,
          200,
        );
        await messagesSse(`${gw.url}/v1/messages`, ask('tool please'), {});
      } finally {
        await gw.close(); // signs the last checkpoint
      }
      const records = readDecisions(dir);
      assert.deepEqual(
        records.map((r) => [r.api, r.route, r.action, r.stream]),
        [
          ['messages', '/v1/messages', 'allow', false],
          ['messages', '/v1/messages', 'refuse', false],
          ['messages', '/v1/messages', 'redact', true],
        ],
      );
      const calls = records[2]?.content.tool_calls?.output as { name: string; arguments: string }[];
      assert.equal(calls[0]?.name, 'lookup');
      assert.match(calls[0]?.arguments ?? '', /\[REDACTED:secret\]/);
      const report = await verifyLog({ dir, publicKeys: [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))] });
      assert.equal(report.ok, true, JSON.stringify(report.first_bad));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await stub.close();
    }
  });
});
