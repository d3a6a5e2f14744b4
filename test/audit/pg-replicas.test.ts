import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadOrCreateSigningKey } from '../../audit/keys.js';
import { verifyDatabase } from '../../audit/pg/verify.js';
import { auth, chat } from '../support/harness.js';
import { testDatabase, type TestDatabase } from '../support/pg-database.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { tempDir } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/pg-gateway-child.js', import.meta.url));

interface Replica {
  proc: ChildProcess;
  url: string;
  exited: Promise<unknown[]>;
}

async function startReplica(t: { after(fn: () => unknown): void }, env: Record<string, string>): Promise<Replica> {
  const proc = spawn(process.execPath, [child], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const exited = once(proc, 'exit');
  const first = await Promise.race([
    once(createInterface({ input: proc.stdout! }), 'line').then(([line]) => line as string),
    exited.then(([code]) => {
      throw new Error(`a replica exited (code ${code}) before listening`);
    }),
  ]);
  const url = first.replace(/^url /, '');
  for (let i = 0; i < 600 && !(await ready(url)); i++) await sleep(100);
  return { proc, url, exited };
}

const ready = (url: string): Promise<boolean> =>
  fetch(`${url}/readyz`).then(
    (r) => r.ok,
    () => false,
  );

/** One request; its status and decision id, or null when the replica is gone. */
async function ask(url: string, text: string): Promise<{ status: number; id: string | null; body: string } | null> {
  try {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(chat(text)),
    });
    return { status: res.status, id: res.headers.get('x-gateway-decision-id'), body: await res.text() };
  } catch {
    return null;
  }
}

async function storedIds(db: TestDatabase): Promise<Set<string>> {
  const { rows } = await db.sql.query<{ id: string }>(
    "SELECT decision_id AS id FROM audit_records WHERE kind = 'decision'",
  );
  return new Set(rows.map((r) => r.id));
}

async function threeReplicas(t: Parameters<typeof tempDir>[0], databaseUrl: string) {
  const dir = await tempDir(t);
  const keyFile = join(dir, 'key.pem');
  const key = await loadOrCreateSigningKey(keyFile);
  const replicas = await Promise.all(
    ['gw-a', 'gw-b', 'gw-c'].map((instance) =>
      startReplica(t, { PG_GW_DATABASE_URL: databaseUrl, PG_GW_INSTANCE: instance, PG_GW_KEY_FILE: keyFile }),
    ),
  );
  return { replicas, publicKey: key.publicKey };
}

describe('three gateway replicas on one PostgreSQL', () => {
  it(
    'keeps every acknowledged decision and three verifying chains when one replica is SIGKILLed under load',
    { timeout: 120_000 },
    async (t) => {
      const db = await testDatabase(t);
      if (!db) return;
      const { replicas, publicKey } = await threeReplicas(t, db.url);
      const acked = new Set<string>();
      let stop = false;
      let killed = false;
      const client = async (c: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const r = replicas[(c + i) % 3];
          if (killed && r === replicas[1]) continue;
          const res = await ask(r.url, `hello from client ${c}, request ${i}`);
          if (res?.status === 200 && res.id) acked.add(res.id);
          if (acked.size >= 300 && !killed) {
            killed = true;
            replicas[1].proc.kill('SIGKILL');
          }
          if (acked.size >= 600) stop = true;
        }
      };
      await Promise.all(Array.from({ length: 24 }, (_, c) => client(c)));
      const [, signal] = (await replicas[1].exited) as [number | null, string | null];
      assert.equal(signal, 'SIGKILL');
      const stored = await storedIds(db);
      const lost = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged decisions are not in the database`);
      const report = await verifyDatabase(db.sql, { publicKeys: [publicKey] });
      assert.equal(report.ok, true, JSON.stringify(report.problems.slice(0, 3)));
      assert.deepEqual(
        report.chains.map((c) => c.chain),
        ['gw-a', 'gw-b', 'gw-c'],
      );
      assert.ok(report.chains.every((c) => c.report.records > 0));
    },
  );

  it(
    'answers clean 503s while PostgreSQL is unreachable and recovers without a restart, losing no acknowledged record',
    { timeout: 120_000 },
    async (t) => {
      const db = await testDatabase(t);
      if (!db) return;
      const proxy = await startTcpProxy(Number(new URL(db.url).port || 5432), new URL(db.url).hostname);
      t.after(() => proxy.close());
      const viaProxy = new URL(db.url);
      viaProxy.port = String(proxy.port);
      const { replicas, publicKey } = await threeReplicas(t, viaProxy.toString());
      const acked = new Set<string>();
      const statuses = new Map<number, number>();
      let phase: 'before' | 'outage' | 'after' = 'before';
      const unavailable = { count: 0, other: [] as string[] };
      let stop = false;
      const client = async (c: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const res = await ask(replicas[(c + i) % 3].url, `client ${c} request ${i}`);
          assert.ok(res, 'a replica stayed up');
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 200 && res.id) acked.add(res.id);
          else if (res.status === 503 && /audit_unavailable/.test(res.body)) unavailable.count++;
          else unavailable.other.push(`${res.status} ${res.body.slice(0, 200)}`);
          if (phase === 'after' && acked.size >= 600) stop = true;
          if (phase === 'outage') await sleep(5);
        }
      };
      const load = Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
      while (acked.size < 200) await sleep(10);
      phase = 'outage';
      proxy.cut();
      // Every replica reports the outage on /readyz, then answers requests with 503s.
      for (const r of replicas) while (await ready(r.url)) await sleep(20);
      while (unavailable.count < 30) await sleep(10);
      const before = acked.size;
      proxy.restore();
      for (const r of replicas) while (!(await ready(r.url))) await sleep(50);
      phase = 'after';
      await load;
      assert.deepEqual(unavailable.other, [], 'only 200s and 503 audit_unavailable');
      assert.ok(acked.size > before, 'requests succeed again after the database returns');
      const stored = await storedIds(db);
      const lost = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged decisions are not in the database`);
      await Promise.all(replicas.map((r) => (r.proc.kill('SIGTERM'), r.exited)));
      const report = await verifyDatabase(db.sql, { publicKeys: [publicKey] });
      assert.equal(report.ok, true, JSON.stringify(report.problems.slice(0, 3)));
      assert.equal(report.chains.length, 3);
    },
  );
});
