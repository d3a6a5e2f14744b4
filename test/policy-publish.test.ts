import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import request from 'supertest';
import { loadBundle } from '../policies/bundle.js';
import { DEFAULT_POLICY_PATH } from '../policies/load.js';
import { packBundle, unpackBundle } from '../policies/package.js';
import { auth, eventually, RULES_ONLY_POLICY, startTestGateway } from './support/harness.js';
import { deleteKeys, REDIS_URL, startCuttableProxy, testPrefix } from './support/replicas.js';

const ADMIN = 'sk-publish-admin-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };
const ML_PACK = join(DEFAULT_POLICY_PATH, '..', 'ml');
const FRUIT = {
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

const prefixes: string[] = [];
after(() => Promise.all(prefixes.map((p) => deleteKeys(p))));
const sharedEnv = (url = REDIS_URL) => {
  const prefix = testPrefix('publish');
  prefixes.push(prefix);
  return { GATEWAY_REDIS_URL: url, GATEWAY_REDIS_PREFIX: prefix, GATEWAY_ADMIN_KEYS: ADMIN };
};

describe('policy packages', () => {
  it('packs a bundle with what it extends, and unpacks it to the same revision', () => {
    const pkg = packBundle(ML_PACK);
    assert.equal(pkg.main, 'ml/policy.json');
    // The extended files come along; the tests beside them belong to their packs, not to this bundle.
    assert.deepEqual(Object.keys(pkg.files).sort(), [
      'default/policy.json',
      'ml/policy.json',
      'rules-only/policy.json',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'gw-unpack-'));
    try {
      const main = unpackBundle(pkg, dir);
      assert.equal(loadBundle(main).revision, loadBundle(ML_PACK).revision);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a package path that would leave its folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-unpack-'));
    try {
      for (const bad of ['../evil.json', '/etc/evil.json', 'a/../../evil.json', 'a\\..\\evil.json'])
        assert.throws(
          () => unpackBundle({ main: 'policy.json', files: { 'policy.json': '{}', [bad]: '{}' } }, dir),
          /stay inside the package/,
        );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('POST /v1/policies and rollback on one gateway', () => {
  it('needs an admin key, publishes a valid policy, rolls back by id, and answers 404 for an unknown revision', async () => {
    const gw = await startTestGateway(sharedEnv());
    try {
      const started = gw.policies.store.current().revision;
      assert.equal((await request(gw.server).post('/v1/policies').send(FRUIT)).status, 401);
      assert.equal((await request(gw.server).post('/v1/policies').set(auth).send(FRUIT)).status, 403);
      const traversal = await request(gw.server)
        .post('/v1/policies')
        .set(admin)
        .send({ main: 'policy.json', files: { 'policy.json': JSON.stringify(FRUIT), '../x.json': '{}' } });
      assert.equal(traversal.status, 400);
      const published = await request(gw.server).post('/v1/policies').set(admin).send(FRUIT);
      assert.equal(published.status, 200, published.text);
      assert.equal(published.body.replica.state, 'in-sync');
      assert.equal(gw.policies.store.current().revision, published.body.revision);
      const refused = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'pineapple' });
      assert.equal(refused.headers['x-gateway-decision'], 'refuse');
      // Publish what it started with, then roll back to the fruit policy by its id.
      const packed = packBundle(RULES_ONLY_POLICY);
      assert.equal((await request(gw.server).post('/v1/policies').set(admin).send(packed)).status, 200);
      assert.equal(gw.policies.store.current().revision, started);
      const back = await request(gw.server)
        .post('/v1/policies/rollback')
        .set(admin)
        .send({ revision: published.body.revision });
      assert.equal(back.status, 200);
      assert.equal(gw.policies.store.current().revision, published.body.revision);
      const unknown = await request(gw.server).post('/v1/policies/rollback').set(admin).send({ revision: 'nope' });
      assert.equal(unknown.status, 404);
      const listed = await request(gw.server).get('/v1/policies/revisions').set(admin);
      assert.equal(listed.body.enforced, published.body.revision);
      assert.deepEqual(
        listed.body.history.map((h: { action: string }) => h.action),
        ['rollback', 'publish', 'publish'],
      );
    } finally {
      await gw.close();
    }
  });

  it('keeps its last good policy while Redis is unreachable, says so in /readyz and metrics, and publishes nothing', async () => {
    const proxy = await startCuttableProxy({ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) });
    const gw = await startTestGateway(sharedEnv(proxy.url));
    try {
      const before = gw.policies.store.current().revision;
      proxy.cut();
      const readyz = async () => (await request(gw.server).get('/readyz').set(admin)).body;
      await eventually(() => gw.logs.some((l) => l.includes('redis unreachable')), 5000);
      let state = '';
      const deadline = Date.now() + 3000;
      while (state !== 'unreachable' && Date.now() < deadline) {
        state = (await readyz()).policy_store.state;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(state, 'unreachable');
      const r = await readyz();
      assert.equal(r.status, 'ready', 'a replica without its store still serves its last good policy');
      assert.match(r.redis, /unreachable/);
      assert.equal(r.policy.revision, before);
      const metrics = (await request(gw.server).get('/metrics')).text;
      assert.match(metrics, /gateway_policy_sync_state\{state="unreachable"\} 1/);
      assert.match(metrics, /gateway_redis_up 0/);
      const publish = await request(gw.server).post('/v1/policies').set(admin).send(FRUIT);
      assert.equal(publish.status, 503);
      assert.equal(publish.body.error.code, 'not_ready');
      assert.equal(gw.policies.store.current().revision, before);
    } finally {
      await gw.close();
      await proxy.close();
    }
  });

  it('never logs the password of the Redis URL', async () => {
    const gw = await startTestGateway({ ...sharedEnv('redis://:s3cret-redis-pass@127.0.0.1:6379') });
    try {
      await eventually(() => gw.logs.some((l) => l.includes('redis')), 3000);
      assert.ok(!gw.logs.some((l) => l.includes('s3cret-redis-pass')), 'the Redis password reached the log');
      const ready = await request(gw.server).get('/readyz').set(admin);
      assert.ok(!ready.text.includes('s3cret-redis-pass'));
    } finally {
      await gw.close();
    }
  });
});
