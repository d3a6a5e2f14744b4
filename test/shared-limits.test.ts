import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import request from 'supertest';
import { keyId } from '../gateway/http/auth.js';
import { loadConfig } from '../gateway/config.js';
import { LocalWindows, windowState } from '../gateway/shared/minute-window.js';
import { redactRedisUrl } from '../gateway/shared/config.js';
import { auth, chat, CLIENT_KEY, eventually, startTestGateway, type TestGateway } from './support/harness.js';
import { deleteKeys, REDIS_URL, startCuttableProxy, testPrefix } from './support/replicas.js';
import { startStubUpstream } from './support/stub-upstream.js';

const prefixes: string[] = [];
after(() => Promise.all(prefixes.map((p) => deleteKeys(p))));
const shared = (name: string, url = REDIS_URL) => {
  const prefix = testPrefix(name);
  prefixes.push(prefix);
  return { GATEWAY_REDIS_URL: url, GATEWAY_REDIS_PREFIX: prefix, GATEWAY_REDIS_POLICIES: 'off' };
};
const metric = async (gw: TestGateway, line: RegExp) => line.test((await request(gw.server).get('/metrics')).text);

describe('per-minute windows (the algorithm)', () => {
  it('counts the last 60 seconds and says when enough old seconds leave the window', () => {
    const buckets: [number, number][] = [
      [100, 3],
      [130, 2],
      [159, 1],
    ];
    assert.deepEqual(windowState(buckets, 159, 10, 1), { used: 6, retryAfterS: 0, resetS: 1 });
    // Full at 6: the 3 of second 100 must leave (at 160) before one more fits.
    assert.deepEqual(windowState(buckets, 159, 6, 1), { used: 6, retryAfterS: 1, resetS: 1 });
    // At 160, second 100 is out of the window.
    assert.deepEqual(windowState(buckets, 160, 6, 1), { used: 3, retryAfterS: 0, resetS: 30 });
  });

  it('admits a key its limit per minute in-process, and again once the minute has slid', async () => {
    let now = 1000;
    const windows = new LocalWindows(() => now);
    const take = () => windows.check([{ key: 'rpm:key:a', limit: 3, take: true }]);
    const allowed = [];
    for (let i = 0; i < 5; i++) allowed.push((await take()).allowed);
    assert.deepEqual(allowed, [true, true, true, false, false]);
    now += 59;
    assert.equal((await take()).allowed, false);
    now += 1;
    assert.equal((await take()).allowed, true);
  });

  it('never logs a Redis password', () => {
    assert.equal(redactRedisUrl('redis://app:s3cret@10.0.0.5:6379/2'), 'redis://***@10.0.0.5:6379/2');
    assert.equal(redactRedisUrl('redis://10.0.0.5:6379'), 'redis://10.0.0.5:6379');
  });

  it('reads the limits from the file and the variables, and names a bad variable', () => {
    const c = loadConfig({
      env: { GATEWAY_LIMIT_RPM: '100', GATEWAY_TENANT_LIMIT_TPM: '5000', GATEWAY_REDIS_URL: REDIS_URL },
    });
    assert.deepEqual(c.limits.perMinute, { key: { requests: 100 }, tenant: { tokens: 5000 } });
    assert.equal(c.redis?.whenDown, 'local');
    assert.throws(
      () => loadConfig({ env: { GATEWAY_LIMIT_RPM: 'lots' } }),
      /limits\.perMinute\.key\.requests \(from GATEWAY_LIMIT_RPM\)/,
    );
    assert.throws(
      () => loadConfig({ env: { GATEWAY_REDIS_URL: 'http://x' } }),
      /redis\.url \(from GATEWAY_REDIS_URL\)/,
    );
  });
});

describe('per-minute limits through Redis', () => {
  it("shares one key's requests per minute between two gateways, answered like OpenAI past it", async () => {
    const stub = await startStubUpstream();
    const env = { GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_LIMIT_RPM: '5', ...shared('rpm') };
    const [a, b] = await Promise.all([startTestGateway(env), startTestGateway(env)]);
    try {
      const answers = [];
      for (let i = 0; i < 8; i++)
        answers.push(
          await request((i % 2 ? a : b).server)
            .post('/v1/chat/completions')
            .set(auth)
            .send(chat('hi')),
        );
      assert.deepEqual(
        answers.map((r) => r.status),
        [200, 200, 200, 200, 200, 429, 429, 429],
      );
      assert.equal(stub.requests.length, 5, 'a rejected request reached the upstream');
      assert.equal(answers[0]?.headers['x-ratelimit-limit-requests'], '5');
      assert.equal(answers[0]?.headers['x-ratelimit-remaining-requests'], '4');
      assert.equal(answers[4]?.headers['x-ratelimit-remaining-requests'], '0');
      const rejected = answers[5];
      assert.equal(rejected?.body.error.code, 'rate_limited');
      assert.equal(rejected?.body.error.type, 'rate_limit_error');
      assert.match(rejected?.body.error.message, /requests per minute/);
      const wait = Number(rejected?.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 60, `retry-after ${wait}`);
      assert.ok(await metric(a, /gateway_limit_checks_total\{store="redis"\} 4/));
      assert.ok(await metric(a, /gateway_redis_up 1/));
    } finally {
      await Promise.all([a.close(), b.close(), stub.close()]);
    }
  });

  it("charges the answer's tokens after it, and admits no request once a key's tokens per minute are spent", async () => {
    const stub = await startStubUpstream(); // every JSON answer reports total_tokens: 10
    const env = shared('tpm');
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_LIMIT_TPM: '25', ...env });
    const redis = new Redis(REDIS_URL);
    const charged = async () => {
      const counts = await redis.hvals(`${env.GATEWAY_REDIS_PREFIX}tpm:key:${keyId(CLIENT_KEY)}`);
      return counts.reduce((sum, n) => sum + Number(n), 0);
    };
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const r = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
        statuses.push(r.status);
        // The charge follows the answer; wait for it before the next admission reads the window.
        const deadline = Date.now() + 2000;
        while (r.status === 200 && (await charged()) < 10 * (i + 1) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(await charged(), 30);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      const r = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
      assert.match(r.body.error.message, /tokens per minute/);
      assert.equal(r.headers['x-ratelimit-remaining-tokens'], '0');
    } finally {
      redis.disconnect();
      await gw.close();
      await stub.close();
    }
  });

  it('charges the tokens of /v1/responses and /v1/messages answers to the same window as chat', async () => {
    const stub = await startStubUpstream(); // every JSON answer reports total_tokens: 10
    const env = shared('tpm-apis');
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_LIMIT_TPM: '1000', ...env });
    const redis = new Redis(REDIS_URL);
    const charged = async () => {
      const counts = await redis.hvals(`${env.GATEWAY_REDIS_PREFIX}tpm:key:${keyId(CLIENT_KEY)}`);
      return counts.reduce((sum, n) => sum + Number(n), 0);
    };
    // The charge follows the answer (sent with the next check, or alone within 50 ms).
    const chargedReaches = async (n: number) => {
      const deadline = Date.now() + 2000;
      while ((await charged()) < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await charged(), n);
    };
    try {
      const responses = await request(gw.server)
        .post('/v1/responses')
        .set(auth)
        .send({ model: 'gpt-4o-mini', input: 'hi' });
      assert.equal(responses.status, 200, responses.text);
      await chargedReaches(10);
      const messages = await request(gw.server)
        .post('/v1/messages')
        .set(auth)
        .send({ model: 'claude-x', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(messages.status, 200, messages.text);
      await chargedReaches(20);
    } finally {
      redis.disconnect();
      await gw.close();
      await stub.close();
    }
  });

  it('charges a stream by its usage chunk when the client asks for one', async () => {
    const stub = await startStubUpstream();
    const env = shared('stream');
    const gw = await startTestGateway({ GATEWAY_UPSTREAM_URL: stub.url, GATEWAY_LIMIT_TPM: '1000', ...env });
    const redis = new Redis(REDIS_URL);
    try {
      const r = await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('count to three', { stream: true, stream_options: { include_usage: true } }));
      assert.equal(r.status, 200);
      const usage = /"total_tokens":(\d+)/.exec(r.text);
      assert.ok(usage, 'the stream carried a usage chunk');
      const key = `${env.GATEWAY_REDIS_PREFIX}tpm:key:${keyId(CLIENT_KEY)}`;
      let charged = 0;
      const deadline = Date.now() + 2000;
      while (charged === 0 && Date.now() < deadline) {
        charged = (await redis.hvals(key)).reduce((sum, n) => sum + Number(n), 0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(charged, Number(usage[1]));
    } finally {
      redis.disconnect();
      await gw.close();
      await stub.close();
    }
  });

  it('limits requests per minute in each process when no Redis is configured', async () => {
    const gw = await startTestGateway({ GATEWAY_LIMIT_RPM: '2' });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' })).status);
      assert.deepEqual(statuses, [200, 200, 429]);
    } finally {
      await gw.close();
    }
  });

  it('limits a tenant across its keys', async () => {
    const env = {
      GATEWAY_API_KEYS: 'acme:sk-acme-one-0123456789,acme:sk-acme-two-0123456789',
      GATEWAY_TENANT_LIMIT_RPM: '3',
      ...shared('tenant'),
    };
    const gw = await startTestGateway(env);
    try {
      const statuses = [];
      for (const key of ['one', 'two', 'one', 'two'])
        statuses.push(
          (
            await request(gw.server)
              .post('/v1/moderations')
              .set({ authorization: `Bearer sk-acme-${key}-0123456789` })
              .send({ input: 'x' })
          ).status,
        );
      assert.deepEqual(statuses, [200, 200, 200, 429]);
    } finally {
      await gw.close();
    }
  });

  it('falls back to per-process limits while Redis is unreachable, says so in metrics, and recovers by itself', async () => {
    const proxy = await startCuttableProxy({ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) });
    const gw = await startTestGateway({ GATEWAY_LIMIT_RPM: '1000', ...shared('fallback', proxy.url) });
    const moderate = () => request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' });
    try {
      assert.equal((await moderate()).status, 200);
      assert.ok(await metric(gw, /gateway_limit_checks_total\{store="redis"\} 1/));
      proxy.cut();
      await eventually(() => gw.logs.some((l) => l.includes('redis unreachable')), 5000);
      assert.equal((await moderate()).status, 200);
      assert.ok(await metric(gw, /gateway_limit_checks_total\{store="local"\} 1/));
      assert.ok(await metric(gw, /gateway_redis_up 0/));
      proxy.restore();
      await eventually(() => gw.logs.filter((l) => l.includes('redis connected')).length >= 2, 5000);
      assert.equal((await moderate()).status, 200);
      assert.ok(await metric(gw, /gateway_limit_checks_total\{store="redis"\} 2/));
    } finally {
      await gw.close();
      await proxy.close();
    }
  });

  it('refuses with 503 while Redis is unreachable when told to (whenDown: refuse)', async () => {
    const proxy = await startCuttableProxy({ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) });
    const gw = await startTestGateway({
      GATEWAY_LIMIT_RPM: '1000',
      GATEWAY_REDIS_WHEN_DOWN: 'refuse',
      ...shared('refuse', proxy.url),
    });
    try {
      proxy.cut();
      await eventually(() => gw.logs.some((l) => l.includes('redis unreachable')), 5000);
      const r = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'x' });
      assert.equal(r.status, 503);
      assert.equal(r.body.error.code, 'not_ready');
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(gw.records().length, 0, 'a refused request was recorded as decided');
    } finally {
      await gw.close();
      await proxy.close();
    }
  });
});
