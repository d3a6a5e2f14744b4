import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { startStubUpstream } from './support/stub-upstream.js';
import { auth, chat, CLIENT_KEY, startTestGateway, UPSTREAM_KEY } from './support/harness.js';

describe('secrets hygiene', () => {
  it('never writes the client key, the upstream key or an Authorization value to logs or decision records', async () => {
    const stub = await startStubUpstream();
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_UPSTREAM_API_KEY: UPSTREAM_KEY,
      GATEWAY_AUDIT_CONTENT: 'full',
    });
    try {
      await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hello'));
      await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('hi', { stream: true }));
      await request(gw.server)
        .post('/v1/chat/completions')
        .set('authorization', 'Bearer sk-wrong-key-000000000')
        .send(chat('hi'));
      await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send({ ...chat('hi'), model: 'error-500' });
      await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' });
      assert.ok(
        gw.logs.some((l) => l.includes('"message":"request"')),
        'request log lines are missing',
      );
      const stored = readdirSync(gw.auditDir)
        .filter((f) => !f.endsWith('.pem'))
        .map((f) => readFileSync(join(gw.auditDir, f), 'utf8'));
      assert.ok(stored.join('').includes('"kind":"decision"'), 'no decision records were read');
      const everything = gw.logs.join('\n') + stored.join('\n');
      for (const secret of [CLIENT_KEY, UPSTREAM_KEY, 'sk-wrong-key-000000000', 'Bearer ']) {
        assert.ok(!everything.includes(secret), `found ${secret}`);
      }
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});
