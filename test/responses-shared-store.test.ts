import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import request from 'supertest';
import { auth, startTestGateway } from './support/harness.js';
import { deleteKeys, REDIS_URL, startCuttableProxy, testPrefix } from './support/replicas.js';
import { startStubUpstream } from './support/stub-upstream.js';

const prefix = testPrefix('conversations');
after(() => deleteKeys(prefix));
const ask = (input: string, extra: Record<string, unknown> = {}) => ({ model: 'stub-model', input, ...extra });

describe('previous_response_id across replicas (conversations in Redis)', () => {
  it('continues on one replica a conversation another replica answered, with the turns it judged', async () => {
    const stub = await startStubUpstream();
    const env = {
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_UPSTREAM_FORMAT: 'chat',
      GATEWAY_REDIS_URL: REDIS_URL,
      GATEWAY_REDIS_PREFIX: prefix,
      GATEWAY_REDIS_POLICIES: 'off',
    };
    const [a, b] = [await startTestGateway(env), await startTestGateway(env)];
    try {
      const first = await request(a.server).post('/v1/responses').set(auth).send(ask('My name is Ada'));
      assert.equal(first.status, 200, first.text);
      const second = await request(b.server)
        .post('/v1/responses')
        .set(auth)
        .send(ask('What is my name?', { previous_response_id: first.body.id }));
      assert.equal(second.status, 200, second.text);
      assert.deepEqual(stub.requests.at(-1)!.body.messages, [
        { role: 'user', content: 'My name is Ada' },
        { role: 'assistant', content: 'Echo: My name is Ada' },
        { role: 'user', content: 'What is my name?' },
      ]);
    } finally {
      await Promise.all([a.close(), b.close(), stub.close()]);
    }
  });

  it('answers 503 rather than judging a continued turn alone while Redis is unreachable', async () => {
    const stub = await startStubUpstream();
    const redis = new URL(REDIS_URL);
    const proxy = await startCuttableProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_UPSTREAM_FORMAT: 'chat',
      GATEWAY_REDIS_URL: proxy.url,
      GATEWAY_REDIS_PREFIX: prefix,
      GATEWAY_REDIS_POLICIES: 'off',
    });
    try {
      const first = await request(gw.server).post('/v1/responses').set(auth).send(ask('My name is Ada'));
      assert.equal(first.status, 200, first.text);
      proxy.cut();
      const second = await request(gw.server)
        .post('/v1/responses')
        .set(auth)
        .send(ask('What is my name?', { previous_response_id: first.body.id }));
      assert.equal(second.status, 503, second.text);
      assert.equal(second.body.error.param, 'previous_response_id');
    } finally {
      await Promise.all([gw.close(), stub.close(), proxy.close()]);
    }
  });
});
