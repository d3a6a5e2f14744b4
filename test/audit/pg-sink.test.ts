import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { loadPublicKey } from '../../audit/keys.js';
import { ChainHeldError } from '../../audit/pg/connection.js';
import { migrate, SCHEMA_VERSION } from '../../audit/pg/schema.js';
import { AuditUnavailableError, PgChainLog, type PgChainLogOptions } from '../../audit/pg/sink.js';
import { verifyDatabase } from '../../audit/pg/verify.js';
import { testDatabase, type TestDatabase } from '../support/pg-database.js';
import { decision, tempDir } from './helpers.js';

type T = Parameters<typeof tempDir>[0] & { skip(m?: string): void };

async function openLog(t: T, db: TestDatabase, over: Partial<PgChainLogOptions> = {}) {
  const dir = await tempDir(t);
  const log = await PgChainLog.open({
    databaseUrl: db.url,
    chain: 'gw-1',
    keyFile: join(dir, 'key.pem'),
    onEvent: () => {},
    reconnectMs: 20,
    ...over,
  });
  t.after(() => log.close());
  return { log, dir, pubkey: () => loadPublicKey(join(dir, 'key.pub.pem')) };
}

async function transactions(db: TestDatabase): Promise<number> {
  const { rows } = await db.sql.query<{ n: string }>('SELECT count(DISTINCT xmin::text) AS n FROM audit_records');
  return Number(rows[0].n);
}

describe('PostgreSQL decision log', () => {
  it('commits concurrent appends in shared multi-row transactions, chained and checkpointed', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const { log, pubkey } = await openLog(t, db);
    await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(decision(i + 1))));
    const { rows } = await db.sql.query('SELECT count(*)::int AS n FROM audit_records');
    assert.equal(rows[0].n, 300, 'every acknowledged record is committed');
    assert.ok((await transactions(db)) <= 30, `300 records in ${await transactions(db)} transactions`);
    await log.close();
    const report = await verifyDatabase(db.sql, { publicKeys: [await pubkey()] });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.chains[0].report.records, 300);
    assert.equal(report.chains[0].report.checkpoints.last_covered_seq, 300);
  });

  it('commits one transaction per record in fsync-per-record mode', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const { log } = await openLog(t, db, { durability: 'fsync-per-record' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(decision(i + 1))));
    assert.equal(await transactions(db), 20);
  });

  it('refuses a second writer on the same chain, and the next one continues the chain after it', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const first = await openLog(t, db);
    await first.log.append(decision(1));
    await assert.rejects(openLog(t, db, { keyFile: join(first.dir, 'key.pem') }), ChainHeldError);
    const other = await openLog(t, db, { chain: 'gw-2' });
    await other.log.append(decision(2));
    await first.log.close();
    const again = await openLog(t, db, { keyFile: join(first.dir, 'key.pem') });
    await again.log.append(decision(3));
    assert.equal(again.log.head.seq, 2);
    await again.log.close();
    await other.log.close();
    const keys = [await first.pubkey(), await other.pubkey()];
    const report = await verifyDatabase(db.sql, { publicKeys: keys });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.deepEqual(
      report.chains.map((c) => [c.chain, c.report.records]),
      [
        ['gw-1', 2],
        ['gw-2', 1],
      ],
    );
  });

  it('migrates once when several replicas start at the same moment', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const clients = Array.from({ length: 5 }, () => new pg.Client({ connectionString: db.url }));
    await Promise.all(clients.map((c) => c.connect()));
    const applied = await Promise.all(clients.map((c) => migrate(c)));
    await Promise.all(clients.map((c) => c.end()));
    assert.deepEqual(
      applied.flat().sort(),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    const { rows } = await db.sql.query('SELECT count(*)::int AS n FROM audit_schema_migrations');
    assert.equal(rows[0].n, SCHEMA_VERSION);
  });

  it('fails appends while the database is gone and recovers by itself, losing no acknowledged record', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const { log, pubkey } = await openLog(t, db);
    const acked: string[] = [];
    const send = async (i: number) => {
      try {
        await log.append(decision(i));
        acked.push(`dec-${i}`);
        return 'ok';
      } catch (err) {
        assert.ok(err instanceof AuditUnavailableError, String(err));
        return 'unavailable';
      }
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => send(i + 1)));
    assert.ok((await db.terminateSessions('rbrm-gateway audit%')) >= 1);
    const during = await Promise.all(Array.from({ length: 50 }, (_, i) => send(100 + i)));
    assert.ok(during.includes('unavailable'), 'appends fail while the session is gone');
    assert.equal(log.status().ready, false);
    while (!log.status().ready) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(Array.from({ length: 50 }, (_, i) => send(200 + i)));
    await log.close();
    const { rows } = await db.sql.query<{ id: string }>('SELECT decision_id AS id FROM audit_records');
    const stored = new Set(rows.map((r) => r.id));
    assert.deepEqual(
      acked.filter((id) => !stored.has(id)),
      [],
    );
    assert.ok(
      acked.some((id) => Number(id.slice(4)) >= 200),
      'appends succeed again after recovery',
    );
    const report = await verifyDatabase(db.sql, { publicKeys: [await pubkey()] });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it('deletes whole checkpoint ranges under retention and still verifies across the gap', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const { log, pubkey } = await openLog(t, db, { checkpointEvery: 10, retention: { maxRecords: 15 } });
    for (let i = 1; i <= 40; i++) await log.append(decision(i));
    await log.checkpoint();
    await log.applyRetention();
    await log.close();
    const { rows } = await db.sql.query<{ first: string }>('SELECT min(seq) AS first FROM audit_records');
    assert.ok(Number(rows[0].first) > 1, 'the oldest records are gone');
    const report = await verifyDatabase(db.sql, { publicKeys: [await pubkey()] });
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    const marker = await db.sql.query("SELECT line FROM audit_records WHERE kind = 'retention'");
    assert.equal(marker.rowCount, 1);
  });
});
