import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

describe('admission control', () => {
  it('answers 429 with retry-after past the concurrency limit, forwards nothing it rejected, and finishes every accepted request', async () => {
    const stub = await startStubUpstream({ slowMs: 400 });
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_MAX_CONCURRENT: '4' });
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, () =>
          request(gw.server)
            .post('/v1/chat/completions')
            .set(auth)
            .send({ ...chat('hi'), model: 'slow' }),
        ),
      );
      const ok = answers.filter((a) => a.status === 200);
      const rejected = answers.filter((a) => a.status === 429);
      assert.equal(ok.length, 4);
      assert.equal(rejected.length, 8);
      assert.equal(stub.requests.length, 4, 'a rejected request reached the upstream');
      for (const r of rejected) {
        assert.equal(r.headers['retry-after'], '1');
        assert.equal(r.body.error.type, 'rate_limit_error');
        assert.equal(r.body.error.code, 'overloaded');
      }
      assert.ok(ok.every((a) => a.body.choices[0].message.content === 'Echo: hi'));
      assert.equal(gw.records().length, 4);
      assert.match((await request(gw.server).get('/metrics')).text, /gateway_rejected_total\{reason="overloaded"\} 8/);
      const after = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('again'));
      assert.equal(after.status, 200, 'slots were not released');
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it('limits each key to its rate, with retry-after', async () => {
    const gw = await startTestGateway({ GATEWAY_KEY_RATE: '1/2' });
    try {
      const codes = [];
      for (let i = 0; i < 3; i++)
        codes.push((await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' })).status);
      assert.deepEqual(codes, [200, 200, 429]);
      const r = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' });
      assert.equal(r.body.error.code, 'rate_limited');
      assert.equal(r.headers['retry-after'], '1');
    } finally {
      await gw.close();
    }
  });

  it('rejects a bad limit setting with the variable named', async () => {
    await assert.rejects(
      startTestGateway({ GATEWAY_KEY_RATE: 'fast' }),
      /limits\.perKey\.rps \(from GATEWAY_KEY_RATE\)/,
    );
  });
});
