import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, eventually, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

const ADMIN = 'sk-admin-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };

/** A policy that refuses any prompt containing `word`. */
const refusing = (id: string, word: string) => ({
  apiVersion: 'gateway/v1',
  id,
  classifiers: [{ id: 'w', type: 'rules', params: { keywords: [{ label: 'bad', words: [word] }] } }],
  rules: [
    {
      id: `no-${word}`,
      stage: 'input',
      when: { classifier: 'w', label: 'bad', threshold: 0.5 },
      action: 'refuse',
      message: `no ${word}`,
    },
  ],
});

function policyDir(doc: object, extra: Record<string, object> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-life-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(doc));
  for (const [name, d] of Object.entries(extra)) writeFileSync(join(dir, name), JSON.stringify(d));
  return dir;
}

describe('policy administration and hot reload', () => {
  it('shows the policies in force to admin keys only', async () => {
    const gw = await startTestGateway({
      GATEWAY_POLICY: policyDir(refusing('p1', 'apple')),
      GATEWAY_ADMIN_KEYS: ADMIN,
      GATEWAY_POLICY_WATCH: 'off',
    });
    try {
      assert.equal((await request(gw.server).get('/v1/policies')).status, 401);
      assert.equal((await request(gw.server).get('/v1/policies').set(auth)).status, 403);
      const res = await request(gw.server).get('/v1/policies').set(admin);
      assert.equal(res.status, 200);
      assert.equal(res.body.id, 'p1');
      assert.match(res.body.revision, /^[0-9a-f]{64}$/);
      assert.equal(res.body.policies[0].rules, 1);
    } finally {
      await gw.close();
    }
  });

  it('reloads a good candidate on a file change, and keeps the last good one when the candidate is bad', async () => {
    const dir = policyDir(refusing('p1', 'apple'));
    const gw = await startTestGateway({ GATEWAY_POLICY: dir, GATEWAY_ADMIN_KEYS: ADMIN });
    const moderate = async (input: string) =>
      (await request(gw.server).post('/v1/moderations').set(auth).send({ input })).body.results[0].flagged;
    try {
      const before = gw.policies.store.current().revision;
      assert.equal(await moderate('an apple'), true);
      writeFileSync(join(dir, 'policy.json'), JSON.stringify(refusing('p2', 'banana')));
      await eventually(() => gw.policies.store.current().revision !== before, 5000);
      assert.equal(await moderate('an apple'), false);
      assert.equal(await moderate('a banana'), true);
      const good = gw.policies.store.current().revision;

      writeFileSync(join(dir, 'policy.json'), '{"apiVersion": "gateway/v1", "id": "broken", "rules": [');
      await eventually(() => gw.policies.store.lastReload?.ok === false, 5000);
      assert.equal(gw.policies.store.current().revision, good, 'a bad candidate went live');
      assert.equal(await moderate('a banana'), true);
      // Issue #16: the reload details are for admin keys only.
      const ready = await request(gw.server).get('/readyz').set(admin);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.policy.last_reload.ok, false);
      assert.match(ready.body.policy.last_reload.faults[0], /not valid JSON/);
      assert.match(
        (await request(gw.server).get('/metrics')).text,
        /gateway_policy_reloads_total\{result="failed"\} [1-9]/,
      );
      assert.ok(gw.logs.some((l) => l.includes('policy reload failed')));

      const viaApi = await request(gw.server).post('/v1/policies/reload').set(admin);
      assert.equal(viaApi.status, 422);
      assert.equal(viaApi.body.error.code, 'policy_invalid');
    } finally {
      await gw.close();
    }
  });

  it('rejects a candidate whose extra verification fails (its tests), through the admin endpoint', async () => {
    const dir = policyDir(refusing('p1', 'apple'));
    let fail = false;
    const gw = await startTestGateway(
      { GATEWAY_POLICY: dir, GATEWAY_ADMIN_KEYS: ADMIN, GATEWAY_POLICY_WATCH: 'off' },
      { verifyPolicy: async () => (fail ? ['case "x": expected refuse, got allow'] : []) },
    );
    try {
      writeFileSync(join(dir, 'policy.json'), JSON.stringify(refusing('p2', 'banana')));
      fail = true;
      const res = await request(gw.server).post('/v1/policies/reload').set(admin);
      assert.equal(res.status, 422);
      assert.deepEqual(res.body.faults, ['case "x": expected refuse, got allow']);
      assert.equal(gw.policies.store.current().default.policy.id, 'p1');
      fail = false;
      const ok = await request(gw.server).post('/v1/policies/reload').set(admin);
      assert.equal(ok.status, 200);
      assert.equal(gw.policies.store.current().default.policy.id, 'p2');
    } finally {
      await gw.close();
    }
  });

  it('finishes every in-flight request under one revision while reloads happen', async () => {
    const dir = policyDir(refusing('p1', 'apple'));
    const stub = await startStubUpstream({ chunkDelayMs: 1 });
    const gw = await startTestGateway({
      GATEWAY_POLICY: dir,
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_ADMIN_KEYS: ADMIN,
    });
    try {
      const revisions = new Map<string, string>();
      const requests = Array.from({ length: 120 }, (_, i) =>
        request(gw.server)
          .post('/v1/chat/completions')
          .set(auth)
          .send(chat(i % 2 ? 'an apple' : 'a banana')),
      );
      for (let i = 0; i < 6; i++) {
        writeFileSync(
          join(dir, 'policy.json'),
          JSON.stringify(refusing(i % 2 ? 'p1' : 'p2', i % 2 ? 'apple' : 'banana')),
        );
        const r = await gw.policies.store.reload('test');
        revisions.set(r.revision, i % 2 ? 'apple' : 'banana');
      }
      const answers = await Promise.all(requests);
      assert.ok(answers.every((a) => a.status === 200));
      revisions.set(gw.records()[0]?.policy.bundle ?? '', 'apple');
      for (const r of gw.records()) {
        const word = r.policy.id === 'p1' ? 'apple' : 'banana';
        const refused = r.action === 'refuse';
        assert.equal(
          refused,
          r.stages.input!.rules.some((m) => m.id === `no-${word}`),
          'a decision mixed two revisions',
        );
      }
      assert.equal(gw.records().length, 120);
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it('reloads on SIGHUP in the real process', async () => {
    const dir = policyDir(refusing('p1', 'apple'));
    const audit = mkdtempSync(join(tmpdir(), 'gw-hup-'));
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'gateway', 'main.js')], {
      env: {
        ...process.env,
        GATEWAY_PORT: '18791',
        GATEWAY_POLICY: dir,
        GATEWAY_POLICY_WATCH: 'off',
        GATEWAY_AUDIT_DIR: audit,
        GATEWAY_AUTH: 'off',
      },
      stdio: 'ignore',
    });
    try {
      const get = async () => ((await (await fetch('http://127.0.0.1:18791/v1/policies')).json()) as { id: string }).id;
      for (let i = 0; i < 100; i++) {
        try {
          if ((await get()) === 'p1') break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      writeFileSync(join(dir, 'policy.json'), JSON.stringify(refusing('p2', 'banana')));
      child.kill('SIGHUP');
      let id = '';
      for (let i = 0; i < 50 && id !== 'p2'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        id = await get();
      }
      assert.equal(id, 'p2');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('shadow policies and bindings', () => {
  it('records what a shadow candidate would have decided without enforcing it', async () => {
    const gw = await startTestGateway({
      GATEWAY_POLICY: policyDir(refusing('live', 'apple')),
      GATEWAY_SHADOW_POLICY: policyDir(refusing('candidate', 'banana')),
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_ADMIN_KEYS: ADMIN,
    });
    try {
      const res = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'a banana' });
      assert.equal(res.body.results[0].flagged, false, 'the shadow policy was enforced');
      const r = gw.records().at(-1)!;
      assert.equal(r.action, 'allow');
      assert.equal(r.shadow?.policy.id, 'candidate');
      assert.equal(r.shadow?.action, 'refuse');
      assert.deepEqual(
        r.shadow?.stages.input?.rules.map((m) => m.id),
        ['no-banana'],
      );
      const report = await request(gw.server).get('/v1/policies/shadow-report').set(admin);
      assert.equal(report.status, 200);
      assert.equal(report.body.withShadow, 1);
      assert.equal(report.body.disagree, 1);
      assert.equal(report.body.rules[0].id, 'no-banana');
      assert.deepEqual(report.body.rules[0].examples, [r.decision_id]);
    } finally {
      await gw.close();
    }
  });

  it('chooses the policy by binding (here by model), and records which one decided', async () => {
    const dir = policyDir(refusing('default', 'apple'), {
      'strict.json': refusing('strict', 'banana'),
      'bindings.json': { bindings: [{ match: { model: 'kids-model' }, policy: 'strict.json' }] },
    });
    const stub = await startStubUpstream();
    const gw = await startTestGateway({
      GATEWAY_POLICY: dir,
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_POLICY_WATCH: 'off',
    });
    try {
      const kids = await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send({ ...chat('a banana'), model: 'kids-model' });
      assert.equal(kids.body.choices[0].finish_reason, 'content_filter');
      const other = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('a banana'));
      assert.equal(other.body.choices[0].finish_reason, 'stop');
      const [a, b] = gw.records();
      assert.equal(a.policy.id, 'strict');
      assert.equal(b.policy.id, 'default');
      assert.equal(a.policy.bundle, b.policy.bundle);
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it('chooses the policy by the tenant of the API key, and records the tenant', async () => {
    const dir = policyDir(refusing('default', 'apple'), {
      'strict.json': refusing('strict', 'banana'),
      'bindings.json': { bindings: [{ match: { tenant: ['kids'] }, policy: 'strict.json' }] },
    });
    const gw = await startTestGateway({
      GATEWAY_POLICY: dir,
      GATEWAY_API_KEYS: 'kids:sk-kids-key-0123456789,sk-adult-key-0123456789',
      GATEWAY_POLICY_WATCH: 'off',
    });
    try {
      const kids = await request(gw.server)
        .post('/v1/moderations')
        .set('authorization', 'Bearer sk-kids-key-0123456789')
        .send({ input: 'a banana' });
      const adult = await request(gw.server)
        .post('/v1/moderations')
        .set('authorization', 'Bearer sk-adult-key-0123456789')
        .send({ input: 'a banana' });
      assert.equal(kids.body.results[0].flagged, true);
      assert.equal(adult.body.results[0].flagged, false);
      assert.deepEqual(
        gw.records().map((r) => [r.tenant, r.policy.id]),
        [
          ['kids', 'strict'],
          [null, 'default'],
        ],
      );
    } finally {
      await gw.close();
    }
  });
});
