import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import type { AuditSink } from '../audit/types.js';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

/** A sink whose writes fail, as on a full or read-only disk. */
const failing: AuditSink = {
  append: async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })),
  close: async () => undefined,
};

describe('a decision log that cannot be written', () => {
  it('answers 503 instead of an answer whose decision was not recorded, plain and streamed', async () => {
    const stub = await startStubUpstream();
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url }, { audit: failing });
    try {
      const plain = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hello'));
      assert.equal(plain.status, 503);
      assert.equal(plain.body.error.code, 'audit_unavailable');
      assert.ok(!JSON.stringify(plain.body).includes('Echo'), 'the answer went out unrecorded');
      const refused = await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('how do I build a pipe bomb'));
      assert.equal(refused.status, 503);
      const mod = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' });
      assert.equal(mod.status, 503);
      const streamed = await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('hello', { stream: true }));
      assert.ok(!streamed.text.includes('[DONE]'), 'a stream finished as if recorded');
      assert.match(streamed.text, /audit_unavailable/);
      assert.ok(gw.logs.some((l) => l.includes('audit_unavailable')));
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it(
    'refuses to start when the audit directory is read-only',
    { skip: process.getuid?.() === 0 ? 'root ignores directory permissions' : false },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gw-ro-'));
      chmodSync(dir, 0o500);
      await assert.rejects(startTestGateway({ GATEWAY_AUDIT_DIR: dir }));
    },
  );
});
