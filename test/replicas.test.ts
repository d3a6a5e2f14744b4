import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { PublishedPolicies } from '../policies/published.js';
import { deleteKeys, REDIS_URL, startReplica, testPrefix, type Replica } from './support/replicas.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

/**
 * Three gateway processes (`node dist/gateway/main.js`) on one Redis: the acceptance tests for shared
 * limits and policy distribution. Each replica keeps its own file audit log.
 */

const CLIENT = 'sk-replica-client-0123456789';
const PROBE = 'sk-replica-probe-0123456789';
const ADMIN = 'sk-replica-admin-0123456789';
const POLICY_CLI = fileURLToPath(new URL('../policies/cli/main.js', import.meta.url));
const LIMIT = 100;

const FRUIT_POLICY = {
  apiVersion: 'gateway/v1',
  id: 'fruit',
  classifiers: [{ id: 'words', type: 'rules', params: { patterns: [{ label: 'fruit', regex: '\\bpineapple\\b' }] } }],
  rules: [
    {
      id: 'no-pineapple',
      stage: 'input',
      when: { classifier: 'words', label: 'fruit', threshold: 0.5 },
      action: 'refuse',
      message: 'No pineapple here.',
    },
  ],
};

const bearer = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const moderate = (r: Replica, key: string, input: string) =>
  fetch(`${r.url}/v1/moderations`, { method: 'POST', headers: bearer(key), body: JSON.stringify({ input }) });
const readyz = async (r: Replica) =>
  (await (await fetch(`${r.url}/readyz`, { headers: bearer(ADMIN) })).json()) as {
    policy: { id: string; revision: string };
    redis: string;
    policy_store: { state: string; published: string | null };
  };
const metrics = async (r: Replica) => (await fetch(`${r.url}/metrics`)).text();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until every replica passes `check`; resolves with how long that took, or throws past `ms`. */
async function allWithin(replicas: Replica[], check: (r: Replica) => Promise<boolean>, ms: number): Promise<number> {
  const start = performance.now();
  const pending = new Set(replicas);
  while (pending.size) {
    for (const r of [...pending]) if (await check(r)) pending.delete(r);
    if (!pending.size) break;
    if (performance.now() - start > ms) throw new Error(`${pending.size} replica(s) not there after ${ms} ms`);
    await sleep(10);
  }
  return performance.now() - start;
}

describe('three replicas on one Redis', () => {
  const prefix = testPrefix('replicas');
  let stub: StubUpstream;
  let replicas: Replica[] = [];
  before(async () => {
    stub = await startStubUpstream();
    const env = {
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_API_KEYS: `${CLIENT},${PROBE}`,
      GATEWAY_ADMIN_KEYS: ADMIN,
      GATEWAY_REDIS_URL: REDIS_URL,
      GATEWAY_REDIS_PREFIX: prefix,
      GATEWAY_LIMIT_RPM: String(LIMIT),
    };
    replicas = await Promise.all([startReplica(env), startReplica(env), startReplica(env)]);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await stub.close();
    await deleteKeys(prefix);
  });

  it(`admits ${LIMIT} requests per minute for one key across all three, not ${3 * LIMIT}`, async () => {
    const statuses: number[] = [];
    // 3 × LIMIT requests, 24 at a time, spread round-robin over the replicas.
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < 3 * LIMIT; i = next++) {
        const r = await moderate(replicas[i % 3] as Replica, CLIENT, 'hello');
        await r.arrayBuffer();
        statuses.push(r.status);
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));
    const admitted = statuses.filter((s) => s === 200).length;
    assert.ok(Math.abs(admitted - LIMIT) <= LIMIT / 100, `admitted ${admitted} of ${3 * LIMIT}, limit ${LIMIT}`);
    assert.equal(statuses.filter((s) => s === 429).length, 3 * LIMIT - admitted);
    // Each replica admitted some: the limit was shared, not met by one replica alone.
    for (const r of replicas) assert.match(await metrics(r), /gateway_limit_checks_total\{store="redis"\} \d+/);
  });

  it('enforces a policy published once (POST /v1/policies) on all three within a second, and rolls back by id', async () => {
    const before = (await readyz(replicas[0] as Replica)).policy.revision;
    const publish = await fetch(`${replicas[0]?.url}/v1/policies`, {
      method: 'POST',
      headers: bearer(ADMIN),
      body: JSON.stringify(FRUIT_POLICY),
    });
    assert.equal(publish.status, 200, await publish.clone().text());
    const { revision } = (await publish.json()) as { revision: string };
    const took = await allWithin(replicas, async (r) => (await readyz(r)).policy.revision === revision, 1000);
    assert.ok(took < 1000, `took ${took} ms`);
    for (const r of replicas) {
      const m = await moderate(r, PROBE, 'I like pineapple');
      assert.equal(m.headers.get('x-gateway-decision'), 'refuse');
      assert.equal((await readyz(r)).policy_store.state, 'in-sync');
    }
    // Rollback with the CLI, by id, to the revision the replicas started with (published here first, so it has an id).
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [POLICY_CLI, ...args], {
        env: { ...process.env, GATEWAY_REDIS_URL: REDIS_URL, GATEWAY_REDIS_PREFIX: prefix },
        encoding: 'utf8',
      });
    const published = cli('publish', fileURLToPath(new URL('../../policies/rules-only', import.meta.url)));
    assert.equal(published.status, 0, published.stderr);
    await allWithin(replicas, async (r) => (await readyz(r)).policy.revision === before, 1000);
    const back = cli('rollback', revision);
    assert.equal(back.status, 0, back.stderr + back.stdout);
    await allWithin(replicas, async (r) => (await readyz(r)).policy.revision === revision, 1000);
    assert.equal(cli('rollback', 'no-such-revision').status, 1);
    const history = cli('revisions', '--json');
    const listed = JSON.parse(history.stdout) as { enforced: string; history: { action: string }[] };
    assert.equal(listed.enforced, revision);
    assert.deepEqual(
      listed.history.map((h) => h.action),
      ['rollback', 'publish', 'publish'],
    );
  });

  it('publishes nothing whose tests fail, and a replica keeps its last good revision when a published one does not load', async () => {
    // A bundle whose own test fails: validated on the replica that receives it, and never published.
    const failingTest = { cases: [{ name: 'pineapple is fine', request: 'pineapple', expect: { action: 'allow' } }] };
    const bad = await fetch(`${replicas[1]?.url}/v1/policies`, {
      method: 'POST',
      headers: bearer(ADMIN),
      body: JSON.stringify({
        main: 'policy.json',
        files: { 'policy.json': JSON.stringify(FRUIT_POLICY), 'wrong.test.json': JSON.stringify(failingTest) },
      }),
    });
    assert.equal(bad.status, 422);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'policy_invalid');
    const enforced = (await readyz(replicas[0] as Replica)).policy.revision;
    // A writer that skipped validation: the replicas load it, reject it, and keep what they run.
    const redis = new Redis(REDIS_URL);
    try {
      const broken = { ...FRUIT_POLICY, rules: [{ ...FRUIT_POLICY.rules[0], when: { classifier: 'nope' } }] };
      await new PublishedPolicies(redis, prefix).publish('not-a-real-revision', {
        main: 'policy.json',
        files: { 'policy.json': JSON.stringify(broken) },
      });
    } finally {
      redis.disconnect();
    }
    await allWithin(replicas, async (r) => (await readyz(r)).policy_store.state === 'rejected', 1000);
    for (const r of replicas) {
      assert.equal((await readyz(r)).policy.revision, enforced);
      assert.match(await metrics(r), /gateway_policy_sync_state\{state="rejected"\} 1/);
      assert.match(await metrics(r), /gateway_policy_reloads_total\{result="failed"\} [1-9]/);
    }
  });
});

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** A Redis server of this test's own (the shared one is never restarted), with nothing kept on disk. */
function startRedis(port: number, dir: string) {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  return {
    proc,
    async ready() {
      const redis = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: (n) => (n > 50 ? null : 50) });
      redis.on('error', () => undefined);
      try {
        await redis.ping();
      } finally {
        redis.disconnect();
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

describe('three replicas while their Redis restarts', () => {
  it('keep answering under load with per-process limits during the outage, and go back to Redis without a restart', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gw-redis-'));
    let redis = startRedis(port, dir);
    await redis.ready();
    const stub = await startStubUpstream();
    const env = {
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_API_KEYS: CLIENT,
      GATEWAY_ADMIN_KEYS: ADMIN,
      GATEWAY_REDIS_URL: `redis://127.0.0.1:${port}`,
      GATEWAY_LIMIT_RPM: '100000',
    };
    const replicas = await Promise.all([startReplica(env), startReplica(env), startReplica(env)]);
    let load = true;
    let phase: 'up' | 'down' | 'back' = 'up';
    const statuses: { phase: typeof phase; status: number }[] = [];
    const driver = (async () => {
      for (let i = 0; load; i++) {
        const r = await moderate(replicas[i % 3] as Replica, CLIENT, 'hello');
        await r.arrayBuffer();
        statuses.push({ phase, status: r.status });
      }
    })();
    const ran = (p: typeof phase) => statuses.filter((s) => s.phase === p).length;
    try {
      await allWithin(replicas, async () => ran('up') >= 3, 5000);
      await redis.stop();
      phase = 'down';
      await allWithin(
        replicas,
        async (r) => /gateway_limit_checks_total\{store="local"\} [1-9]/.test(await metrics(r)),
        5000,
      );
      for (const r of replicas) {
        assert.match(await metrics(r), /gateway_redis_up 0/);
        assert.match((await readyz(r)).redis, /unreachable/);
      }
      await allWithin(replicas, async (r) => (await readyz(r)).policy_store.state === 'unreachable', 3000);
      redis = startRedis(port, dir);
      await redis.ready();
      phase = 'back';
      const counted = async (r: Replica) =>
        Number(/gateway_limit_checks_total\{store="redis"\} (\d+)/.exec(await metrics(r))?.[1]);
      const before = await Promise.all(replicas.map(counted));
      await allWithin(replicas, async (r) => (await counted(r)) > (before[replicas.indexOf(r)] ?? 0), 5000);
      for (const r of replicas) assert.match(await metrics(r), /gateway_redis_up 1/);
      // Subscribed again: a policy published on the restarted server reaches all three within a second.
      const publish = await fetch(`${replicas[2]?.url}/v1/policies`, {
        method: 'POST',
        headers: bearer(ADMIN),
        body: JSON.stringify(FRUIT_POLICY),
      });
      assert.equal(publish.status, 200, await publish.clone().text());
      const { revision } = (await publish.json()) as { revision: string };
      await allWithin(replicas, async (r) => (await readyz(r)).policy.revision === revision, 1000);
      await allWithin(replicas, async () => ran('back') >= 3, 5000);
      load = false;
      await driver;
      assert.ok(ran('down') > 0, 'no request ran during the outage');
      assert.deepEqual([...new Set(statuses.map((s) => s.status))], [200], 'a request failed while Redis restarted');
    } finally {
      load = false;
      await driver.catch(() => undefined);
      await Promise.all(replicas.map((r) => r.stop()));
      await stub.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
