import assert from 'node:assert/strict';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { canonicalJson, GENESIS_HASH, recordHash } from '../../audit/canonical.js';
import { ChainLog } from '../../audit/chain-log.js';
import { EXIT, main } from '../../audit/cli.js';
import { parseAuditConfig } from '../../audit/config.js';
import { DEFAULT_SCHEDULE, unsignedTailLimits } from '../../audit/coverage.js';
import { listSegments } from '../../audit/segments.js';
import type { Checkpoint } from '../../audit/types.js';
import { decision, quiet, tempDir, verifyDir, writeLines } from './helpers.js';

const SAME_TIME = '2026-01-01T00:00:00.000Z';

/** `n` decisions through a log, every third a refusal, all with one record time so only the count rule applies. */
async function writeRecords(dir: string, n: number, opts: { checkpointEvery?: number } = {}): Promise<void> {
  const log = await ChainLog.open({ ...quiet, dir, ...opts });
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(decision(i + 1, { time: SAME_TIME }))));
  await log.close();
}

/** Rewrites every record through `change` and recomputes the whole sha256 chain, as an attacker without the key can. */
async function rewriteChain(dir: string, change: (r: Record<string, unknown>) => void): Promise<number> {
  let prev = GENESIS_HASH;
  let changed = 0;
  for (const seg of await listSegments(dir)) {
    const lines = (await readFile(seg.path, 'utf8')).split('\n').slice(0, -1);
    const out = lines.map((line) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      const before = canonicalJson(r);
      change(r);
      if (canonicalJson(r) !== before) changed++;
      r.prev_hash = prev;
      delete r.hash;
      r.hash = recordHash(r);
      prev = r.hash as string;
      return canonicalJson(r);
    });
    await writeLines(seg.path, out);
  }
  return changed;
}

const refuseToAllow = (r: Record<string, unknown>): void => {
  if (r.action === 'refuse') r.action = 'allow';
};

async function checkpointsOf(dir: string): Promise<Checkpoint[]> {
  const text = await readFile(join(dir, 'checkpoints.ndjson'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Checkpoint);
}

async function keepCheckpoints(dir: string, n: number): Promise<void> {
  const cps = await checkpointsOf(dir);
  await writeFile(
    join(dir, 'checkpoints.ndjson'),
    cps
      .slice(0, n)
      .map((c) => `${canonicalJson(c)}\n`)
      .join(''),
  );
}

describe('audit verify fails when records that should be signed are not', () => {
  it('allows what the README documents: every + max(every, 1024) records, interval + max(interval, 60 s)', () => {
    const writer = parseAuditConfig({ dir: '/x' });
    assert.deepEqual(DEFAULT_SCHEDULE, { every: writer.checkpointEvery, interval_ms: writer.checkpointIntervalMs });
    assert.deepEqual(unsignedTailLimits(DEFAULT_SCHEDULE), { records: 2024, spanMs: 120_000 });
    assert.deepEqual(unsignedTailLimits({ every: 5000, interval_ms: 300_000 }), { records: 10_000, spanMs: 600_000 });
  });

  it('fails a rewritten log whose checkpoints file was deleted (the probe: refuse -> allow, chain recomputed)', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 4706);
    assert.equal((await verifyDir(dir)).ok, true);
    assert.ok((await rewriteChain(dir, refuseToAllow)) > 1500);
    await unlink(join(dir, 'checkpoints.ndjson'));
    const r = await verifyDir(dir);
    assert.equal(r.ok, false);
    assert.equal(r.first_bad?.reason, 'records-unsigned');
    assert.equal(r.first_bad?.seq, 1);
    assert.match(r.first_bad?.detail ?? '', /4706 records .* no checkpoint at all/);
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c));
    const pub = join(dir, 'checkpoint-key.pub.pem');
    const code = await main(['verify', '--dir', dir, '--pubkey', pub], { stdout, stderr: new PassThrough(), env: {} });
    assert.equal(code, EXIT.tampered);
    assert.match(out, /^TAMPERED: first bad seq 1: records-unsigned: 4706 records/);
  });

  it('fails the same log with an empty checkpoints file', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 2100);
    await rewriteChain(dir, refuseToAllow);
    await writeFile(join(dir, 'checkpoints.ndjson'), '');
    const r = await verifyDir(dir);
    assert.equal(r.first_bad?.reason, 'records-unsigned');
  });

  it('fails records older than the checkpoint interval by their own time, whatever their number', async (t) => {
    const dir = await tempDir(t);
    // decision(i) is i seconds after midnight: 200 records span 199 s, past 60 s + the 60 s grace.
    const log = await ChainLog.open({ ...quiet, dir });
    for (let i = 1; i <= 200; i++) await log.append(decision(i));
    await log.close();
    await unlink(join(dir, 'checkpoints.ndjson'));
    const r = await verifyDir(dir);
    assert.equal(r.first_bad?.reason, 'records-unsigned');
    assert.match(r.first_bad?.detail ?? '', /span 199 s of record time/);
  });

  it('fails a checkpoints file cut back to an earlier checkpoint while the records stay', async (t) => {
    const dir = await tempDir(t);
    // One record a minute, a checkpoint every 10: the 40 records after the second checkpoint span 39 minutes.
    const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 10 });
    for (let i = 1; i <= 60; i++)
      await log.append(decision(i, { time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }));
    await log.close();
    const cps = await checkpointsOf(dir);
    assert.ok(cps.length >= 5);
    await keepCheckpoints(dir, 2);
    const r = await verifyDir(dir);
    assert.equal(r.first_bad?.reason, 'records-unsigned');
    assert.equal(r.first_bad?.seq, cps[1].last_seq + 1);
    assert.match(r.first_bad?.detail ?? '', /by the schedule signed in the last checkpoint/);
  });

  it('accepts what a crash leaves: the tail after the last checkpoint, within one schedule, with a warning', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 25, { checkpointEvery: 10 });
    const cps = await checkpointsOf(dir);
    await keepCheckpoints(dir, cps.length - 1); // the final checkpoint of close never made it to disk
    const r = await verifyDir(dir);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.ok(r.warnings.some((w) => /not yet covered by a signed checkpoint/.test(w)));
  });

  it('accepts a young log with no checkpoint yet (fewer records than the count, younger than the interval)', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 30);
    await unlink(join(dir, 'checkpoints.ndjson'));
    const r = await verifyDir(dir);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
  });

  it('signs what a crash left unsigned on the next start, before anything new is written', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 25, { checkpointEvery: 10 });
    await keepCheckpoints(dir, (await checkpointsOf(dir)).length - 1);
    const [seg] = await listSegments(dir);
    await writeFile(seg.path, `${await readFile(seg.path, 'utf8')}{"seq":26,"to`); // and a torn line
    const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 10 });
    assert.ok(log.startup.repaired);
    // Signed before the repair marker (seq 26), which is written at start and would stretch the tail's time.
    assert.equal((await checkpointsOf(dir)).at(-1)?.last_seq, 25);
    assert.equal(log.head.seq, 26);
    await log.close();
  });

  it('records its schedule in every checkpoint, and signs soon after a start with a new schedule', async (t) => {
    const dir = await tempDir(t);
    await writeRecords(dir, 3, { checkpointEvery: 10 });
    assert.deepEqual((await checkpointsOf(dir)).at(-1)?.schedule, { every: 10, interval_ms: 60_000 });
    const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 500 });
    await log.append(decision(4));
    for (let i = 0; i < 100 && (await checkpointsOf(dir)).at(-1)?.last_seq !== 4; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual((await checkpointsOf(dir)).at(-1)?.schedule, { every: 500, interval_ms: 60_000 });
    await log.close();
  });
});
