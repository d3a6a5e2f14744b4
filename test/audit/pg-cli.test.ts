import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ChainLog } from '../../audit/chain-log.js';
import { EXIT, main } from '../../audit/cli.js';
import { PgChainLog } from '../../audit/pg/sink.js';
import { testDatabase, type TestDatabase } from '../support/pg-database.js';
import { decision, quiet, tempDir } from './helpers.js';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => (err += c));
  const code = await main(argv, { stdout, stderr, env });
  return { code, out, err };
}

type T = Parameters<typeof tempDir>[0] & { skip(m?: string): void };

/** Two replicas' chains sharing one key: gw-1 holds the odd decisions, gw-2 the even ones (times interleave). */
async function twoChains(t: T): Promise<{ db: TestDatabase; pub: string } | null> {
  const db = await testDatabase(t);
  if (!db) return null;
  const dir = await tempDir(t);
  const open = (chain: string) =>
    PgChainLog.open({ databaseUrl: db.url, chain, keyFile: join(dir, 'key.pem'), onEvent: () => {} });
  const [a, b] = [await open('gw-1'), await open('gw-2')];
  for (let i = 1; i <= 12; i++) await (i % 2 ? a : b).append(decision(i));
  await Promise.all([a.close(), b.close()]);
  return { db, pub: join(dir, 'key.pub.pem') };
}

describe('audit CLI against PostgreSQL', () => {
  it('verify walks every chain, exits 0 when intact and 1 naming the chain and seq when a row was changed', async (t) => {
    const ctx = await twoChains(t);
    if (!ctx) return;
    const ok = await cli(['verify', '--database-url', ctx.db.url, '--pubkey', ctx.pub]);
    assert.equal(ok.code, EXIT.ok, ok.out + ok.err);
    assert.match(ok.out, /OK chain gw-1: 6 records/);
    assert.match(ok.out, /OK chain gw-2: 6 records/);
    await ctx.db.sql.query(
      `UPDATE audit_records SET line = replace(line, 'prompt 4', 'prompt X') WHERE chain = 'gw-2'`,
    );
    const bad = await cli(['verify', '--database-url', ctx.db.url, '--pubkey', ctx.pub]);
    assert.equal(bad.code, EXIT.tampered);
    assert.match(bad.out, /TAMPERED: chain gw-2: first bad seq 2: record-changed/);
  });

  it('export merges the replicas by time, with the filters and a manifest per chain', async (t) => {
    const ctx = await twoChains(t);
    if (!ctx) return;
    const out = join(await tempDir(t), 'all.jsonl');
    const all = await cli(['export', '--database-url', ctx.db.url, '--format', 'jsonl', '--out', out]);
    assert.equal(all.code, EXIT.ok, all.err);
    const ids = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);
    assert.deepEqual(
      ids,
      Array.from({ length: 12 }, (_, i) => `dec-${i + 1}`),
    );
    const manifest = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8')) as {
      count: number;
      chains: Record<string, { count: number; last_seq: number; covering_checkpoint: unknown }>;
    };
    assert.equal(manifest.count, 12);
    assert.equal(manifest.chains['gw-1'].count, 6);
    assert.ok(manifest.chains['gw-2'].covering_checkpoint);
    const refusals = await cli(['export', '--database-url', ctx.db.url, '--format', 'csv', '--action', 'refuse']);
    assert.equal(refusals.code, EXIT.ok);
    assert.equal(refusals.out.trim().split('\n').length, 1 + 4, refusals.out); // header + decisions 3, 6, 9, 12
    const rule = await cli([
      'export',
      '--database-url',
      ctx.db.url,
      '--format',
      'jsonl',
      '--rule',
      'deny-violence',
      '--tenant',
      'acme',
    ]);
    assert.deepEqual(
      rule.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id),
      ['dec-3', 'dec-9'],
    );
    const one = await cli(['export', '--database-url', ctx.db.url, '--format', 'jsonl', '--decision-id', 'dec-7']);
    assert.equal(one.out.trim().split('\n').length, 1);
  });

  it('tail prints the latest records of all replicas by time', async (t) => {
    const ctx = await twoChains(t);
    if (!ctx) return;
    const r = await cli(['tail', '--database-url', ctx.db.url, '-n', '3']);
    assert.equal(r.code, EXIT.ok);
    assert.deepEqual(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id),
      ['dec-10', 'dec-11', 'dec-12'],
    );
  });

  it('never prints the database password, and exits 2 when the database cannot be reached', async () => {
    const r = await cli(['verify', '--database-url', 'postgres://gw:hunter2-secret@127.0.0.1:1/audit']);
    assert.equal(r.code, EXIT.usage);
    assert.doesNotMatch(r.out + r.err, /hunter2/);
  });

  it('anchors a file log in PostgreSQL: verify --anchor postgres://… passes, and fails once the log is cut back', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const dir = await tempDir(t);
    const log = await ChainLog.open({
      ...quiet,
      dir,
      checkpointEvery: 5,
      anchor: { postgres: { url: db.url, log: 'edge-1' } },
    });
    for (let i = 1; i <= 20; i++) {
      await log.append(decision(i));
      if (i % 5 === 0) await log.checkpoint();
    }
    await log.close();
    const { rows } = await db.sql.query('SELECT count(*)::int AS n FROM audit_anchor_checkpoints');
    assert.equal(rows[0].n, 4);
    const pub = join(dir, 'checkpoint-key.pub.pem');
    const ok = await cli(['verify', '--dir', dir, '--pubkey', pub, '--anchor', db.url]);
    assert.equal(ok.code, EXIT.ok, ok.out + ok.err);
    assert.match(ok.out, /anchored up to seq 20/);
    // Cut the last checkpoint (and its records are then unsigned): the anchor still holds it.
    const cps = (await readFile(join(dir, 'checkpoints.ndjson'), 'utf8')).split('\n').filter(Boolean);
    await writeFile(
      join(dir, 'checkpoints.ndjson'),
      cps
        .slice(0, -1)
        .map((l) => `${l}\n`)
        .join(''),
    );
    const bad = await cli([
      'verify',
      '--dir',
      dir,
      '--pubkey',
      pub,
      '--anchor',
      db.url,
      '--anchor-log',
      'edge-1',
      '--json',
    ]);
    assert.equal(bad.code, EXIT.tampered);
    assert.equal((JSON.parse(bad.out) as { first_bad: { reason: string } }).first_bad.reason, 'checkpoint-missing');
  });
});
