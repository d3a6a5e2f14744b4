import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalJson, GENESIS_HASH, recordHash } from '../../audit/canonical.js';
import { loadPublicKey } from '../../audit/keys.js';
import { rowOf, INSERT_ROWS } from '../../audit/pg/rows.js';
import { PgChainLog } from '../../audit/pg/sink.js';
import { verifyDatabase, type DatabaseVerifyReport } from '../../audit/pg/verify.js';
import type { StoredRecord } from '../../audit/types.js';
import { testDatabase, type TestDatabase } from '../support/pg-database.js';
import { decision, tempDir } from './helpers.js';

type T = Parameters<typeof tempDir>[0] & { skip(m?: string): void };

/** A database holding 30 decisions of chain gw-1 (checkpoints every 10), and how to verify it. */
async function loggedDatabase(t: T): Promise<{ db: TestDatabase; verify: () => Promise<DatabaseVerifyReport> } | null> {
  const db = await testDatabase(t);
  if (!db) return null;
  const dir = await tempDir(t);
  const log = await PgChainLog.open({
    databaseUrl: db.url,
    chain: 'gw-1',
    keyFile: join(dir, 'key.pem'),
    checkpointEvery: 10,
    onEvent: () => {},
  });
  for (let i = 1; i <= 30; i++) await log.append(decision(i));
  await log.close();
  const key = await loadPublicKey(join(dir, 'key.pub.pem'));
  const verify = () => verifyDatabase(db.sql, { publicKeys: [key] });
  assert.equal((await verify()).ok, true);
  return { db, verify };
}

function assertFirstBad(report: DatabaseVerifyReport, seq: number, reason: string, detail?: RegExp): void {
  assert.equal(report.ok, false, 'tampering is detected');
  assert.equal(report.first_bad?.reason, reason, JSON.stringify(report.problems));
  assert.equal(report.first_bad?.seq, seq, JSON.stringify(report.problems));
  if (detail) assert.match(report.first_bad?.detail ?? '', detail);
}

describe('PostgreSQL decision log: tampering in SQL', () => {
  it('names a record whose line was edited with UPDATE', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    await ctx.db.sql.query(
      `UPDATE audit_records SET line = replace(line, '"action":"refuse"', '"action":"allow"') WHERE seq = 12`,
    );
    assertFirstBad(await ctx.verify(), 12, 'record-changed', /does not match its hash/);
  });

  it('names a record whose filter column alone was changed with UPDATE', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    await ctx.db.sql.query(`UPDATE audit_records SET action = 'allow', tenant = 'other' WHERE seq = 12`);
    assertFirstBad(await ctx.verify(), 12, 'record-changed', /changed in SQL: tenant is "other".*action is "allow"/);
  });

  it('names a record removed with DELETE, and records cut from the end', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    await ctx.db.sql.query('DELETE FROM audit_records WHERE seq = 7');
    assertFirstBad(await ctx.verify(), 7, 'record-missing', /seq 7 is missing/);
    await ctx.db.sql.query('DELETE FROM audit_records WHERE seq > 25');
    const report = await ctx.verify();
    assert.ok(report.problems.some((p) => p.reason === 'record-missing' && p.seq === 26));
  });

  it('names rows moved by rewriting their seq column', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    await ctx.db.sql.query('UPDATE audit_records SET seq = 1000 WHERE seq = 5');
    await ctx.db.sql.query('UPDATE audit_records SET seq = 5 WHERE seq = 6');
    await ctx.db.sql.query('UPDATE audit_records SET seq = 6 WHERE seq = 1000');
    const report = await ctx.verify();
    assert.equal(report.ok, false);
    assert.equal(report.first_bad?.seq, 5, JSON.stringify(report.problems));
  });

  it('names a row added with INSERT, in the chain or as a made-up chain', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    // A whole chain made up in SQL, hashed correctly from genesis: no gateway registered it.
    const body = {
      ...decision(99),
      kind: 'decision',
      masked_paths: [],
      seq: 1,
      prev_hash: GENESIS_HASH,
      chain: 'ghost',
    };
    const forged = { ...body, hash: recordHash(body) } as unknown as StoredRecord;
    await ctx.db.sql.query(INSERT_ROWS, [JSON.stringify([rowOf(forged, canonicalJson(forged))])]);
    const report = await ctx.verify();
    assert.equal(report.ok, false);
    const ghost = report.problems.find((p) => p.chain === 'ghost');
    assert.equal(ghost?.reason, 'record-inserted');
    assert.match(ghost?.detail ?? '', /no registration/);
    // A row slipped in at seq 31 of gw-1 with a hash that is not its own.
    await ctx.db.sql.query('DELETE FROM audit_records WHERE chain = $1', ['ghost']);
    const copy = await ctx.db.sql.query<{ line: string }>('SELECT line FROM audit_records WHERE seq = 30');
    const line = copy.rows[0].line.replace('"seq":30', '"seq":31');
    await ctx.db.sql.query(INSERT_ROWS, [JSON.stringify([rowOf(JSON.parse(line) as StoredRecord, line)])]);
    const again = await ctx.verify();
    assert.ok(
      again.problems.some((p) => p.chain === 'gw-1' && p.seq === 31 && p.reason === 'record-changed'),
      JSON.stringify(again.problems),
    );
  });

  it('names a checkpoint removed with DELETE', async (t) => {
    const ctx = await loggedDatabase(t);
    if (!ctx) return;
    await ctx.db.sql.query('DELETE FROM audit_checkpoints WHERE last_seq = 20');
    assertFirstBad(await ctx.verify(), 21, 'checkpoint-forged', /checkpoint chain broken/);
  });
});
