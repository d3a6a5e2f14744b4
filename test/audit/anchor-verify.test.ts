import assert from 'node:assert/strict';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { fileAnchorReader } from '../../audit/anchor.js';
import { canonicalJson, GENESIS_HASH, recordHash } from '../../audit/canonical.js';
import { ChainLog } from '../../audit/chain-log.js';
import { signCheckpoint } from '../../audit/checkpoints.js';
import { EXIT, main } from '../../audit/cli.js';
import { loadOrCreateSigningKey, loadPublicKey } from '../../audit/keys.js';
import { listSegments } from '../../audit/segments.js';
import type { Checkpoint } from '../../audit/types.js';
import { verifyLog, type VerifyReport } from '../../audit/verify.js';
import { decision, quiet, tempDir, verifyDir, writeLines } from './helpers.js';

interface Logged {
  dir: string;
  anchor: string;
}

/** 40 records in segments of about 4 KB, a checkpoint every 5 (signed as they fall due), anchored to a file. */
async function anchoredLog(t: Parameters<typeof tempDir>[0]): Promise<Logged> {
  const dir = await tempDir(t);
  const anchor = join(await tempDir(t), 'anchor.ndjson');
  const log = await ChainLog.open({
    ...quiet,
    dir,
    checkpointEvery: 5,
    segmentMaxBytes: 4000,
    anchor: { file: anchor },
  });
  for (let i = 1; i <= 40; i++) {
    await log.append(decision(i));
    if (i % 5 === 0) await log.checkpoint();
  }
  await log.close();
  return { dir, anchor };
}

async function verifyAnchored({ dir, anchor }: Logged): Promise<VerifyReport> {
  const publicKeys = [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))];
  return verifyLog({ dir, publicKeys, anchor: fileAnchorReader(anchor) });
}

async function checkpointsOf(dir: string): Promise<Checkpoint[]> {
  const text = await readFile(join(dir, 'checkpoints.ndjson'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Checkpoint);
}

async function writeCheckpoints(dir: string, cps: Checkpoint[]): Promise<void> {
  await writeFile(join(dir, 'checkpoints.ndjson'), cps.map((c) => `${canonicalJson(c)}\n`).join(''));
}

/** Drops every record after `lastSeq` (whole segments and the tail of the one holding it). */
async function cutRecordsAfter(dir: string, lastSeq: number): Promise<void> {
  for (const seg of await listSegments(dir)) {
    if (seg.firstSeq > lastSeq) {
      await unlink(seg.path);
      continue;
    }
    const lines = (await readFile(seg.path, 'utf8')).split('\n').slice(0, -1);
    await writeLines(
      seg.path,
      lines.filter((l) => (JSON.parse(l) as { seq: number }).seq <= lastSeq),
    );
  }
}

/** What an attacker holding the key in the directory can do: rewrite records, recompute the chain, re-sign. */
async function rewriteAndResign(dir: string): Promise<void> {
  const hashes = new Map<number, string>();
  let prev = GENESIS_HASH;
  for (const seg of await listSegments(dir)) {
    const lines = (await readFile(seg.path, 'utf8')).split('\n').slice(0, -1);
    const out = lines.map((line) => {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (r.action === 'refuse') r.action = 'allow';
      r.prev_hash = prev;
      delete r.hash;
      r.hash = recordHash(r);
      prev = r.hash as string;
      hashes.set(r.seq as number, prev);
      return canonicalJson(r);
    });
    await writeLines(seg.path, out);
  }
  const key = await loadOrCreateSigningKey(join(dir, 'checkpoint-key.pem'));
  const resigned: Checkpoint[] = [];
  for (const cp of await checkpointsOf(dir)) {
    const range = { first_seq: cp.first_seq, last_seq: cp.last_seq, head_hash: hashes.get(cp.last_seq) ?? '' };
    resigned.push(signCheckpoint(resigned.at(-1) ?? null, range, key, new Date(cp.time), cp.schedule));
  }
  await writeCheckpoints(dir, resigned);
}

describe('audit verify --anchor: a witness outside the directory', () => {
  it('anchors every checkpoint, byte for byte, and verifies an untouched log against it', async (t) => {
    const logged = await anchoredLog(t);
    assert.equal(await readFile(logged.anchor, 'utf8'), await readFile(join(logged.dir, 'checkpoints.ndjson'), 'utf8'));
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.deepEqual(r.anchor?.last_anchored_seq, 40);
  });

  it('truncating back to an earlier checkpoint (records and checkpoints dropped) passes alone, fails against the anchor', async (t) => {
    const logged = await anchoredLog(t);
    const cps = await checkpointsOf(logged.dir);
    await writeCheckpoints(logged.dir, cps.slice(0, 3));
    await cutRecordsAfter(logged.dir, cps[2].last_seq);
    assert.equal((await verifyDir(logged.dir)).ok, true, 'without a witness, a clean cut is undetectable');
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, false);
    assert.equal(r.first_bad?.seq, cps[2].last_seq + 1);
    const reasons = new Set(r.problems.map((p) => p.reason));
    assert.ok(reasons.has('checkpoint-missing') && reasons.has('record-missing'), JSON.stringify(r.problems));
    assert.match(r.problems.find((p) => p.reason === 'record-missing')?.detail ?? '', /covers up to seq 40/);
  });

  it('deleting the last segment and the checkpoints over it fails against the anchor', async (t) => {
    const logged = await anchoredLog(t);
    const segs = await listSegments(logged.dir);
    assert.ok(segs.length >= 3);
    const last = segs[segs.length - 1];
    await unlink(last.path);
    const cps = await checkpointsOf(logged.dir);
    await writeCheckpoints(
      logged.dir,
      cps.filter((c) => c.last_seq < last.firstSeq),
    );
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.reason === 'record-missing'));
  });

  it('a log cut short of its checkpoints fails with or without the anchor', async (t) => {
    const logged = await anchoredLog(t);
    await cutRecordsAfter(logged.dir, 33);
    for (const r of [await verifyDir(logged.dir), await verifyAnchored(logged)]) {
      assert.equal(r.first_bad?.reason, 'record-missing');
      assert.equal(r.first_bad?.seq, 34);
    }
  });

  it('a rewritten log whose checkpoints were re-signed with the key in the directory fails against the anchor', async (t) => {
    const logged = await anchoredLog(t);
    await rewriteAndResign(logged.dir);
    assert.equal((await verifyDir(logged.dir)).ok, true, 'with the key, a rewrite is undetectable without a witness');
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, false);
    const reasons = new Set(r.problems.map((p) => p.reason));
    assert.ok(reasons.has('checkpoint-diverged') && reasons.has('record-changed'), JSON.stringify(r.problems));
    assert.equal(r.first_bad?.seq, 1);
  });

  it('a rewritten log whose checkpoints file was deleted fails against the anchor too', async (t) => {
    const logged = await anchoredLog(t);
    await unlink(join(logged.dir, 'checkpoints.ndjson'));
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.reason === 'checkpoint-missing'));
  });

  it('an emptied directory fails against the anchor', async (t) => {
    const logged = await anchoredLog(t);
    for (const seg of await listSegments(logged.dir)) await unlink(seg.path);
    await writeFile(join(logged.dir, 'checkpoints.ndjson'), '');
    const r = await verifyAnchored(logged);
    assert.equal(r.first_bad?.seq, 1);
    assert.ok(r.problems.some((p) => p.reason === 'record-missing' && /covers up to seq 40/.test(p.detail)));
  });

  it('warns, and still passes, when the anchor lags behind the log', async (t) => {
    const logged = await anchoredLog(t);
    const lines = (await readFile(logged.anchor, 'utf8')).split('\n').slice(0, -1);
    await writeLines(logged.anchor, lines.slice(0, 2));
    const r = await verifyAnchored(logged);
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.ok(r.warnings.some((w) => /not in the anchor yet/.test(w)));
  });

  it('npm run audit -- verify --anchor exits 1 with the reason for a truncated log, 0 for an intact one', async (t) => {
    const logged = await anchoredLog(t);
    const run = async (): Promise<{ code: number; out: string }> => {
      const stdout = new PassThrough();
      let out = '';
      stdout.on('data', (c: Buffer) => (out += c));
      const pub = join(logged.dir, 'checkpoint-key.pub.pem');
      const args = ['verify', '--dir', logged.dir, '--pubkey', pub, '--anchor', logged.anchor];
      return { code: await main(args, { stdout, stderr: new PassThrough(), env: {} }), out };
    };
    const ok = await run();
    assert.equal(ok.code, EXIT.ok);
    assert.match(ok.out, /anchored up to seq 40/);
    await writeCheckpoints(logged.dir, (await checkpointsOf(logged.dir)).slice(0, 2));
    await cutRecordsAfter(logged.dir, 10);
    const bad = await run();
    assert.equal(bad.code, EXIT.tampered);
    assert.match(bad.out, /TAMPERED: first bad seq 11: (checkpoint|record)-missing/);
  });
});
