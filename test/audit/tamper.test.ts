import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalJson, recordHash } from '../../audit/canonical.js';
import { checkpointHash } from '../../audit/checkpoints.js';
import { keyFingerprint } from '../../audit/keys.js';
import { ChainLog } from '../../audit/chain-log.js';
import type { Checkpoint } from '../../audit/types.js';
import { decision, segmentLines, tempDir, verifyDir, writeLines, quiet } from './helpers.js';
import { sign } from 'node:crypto';

/** 20 records appended one by one, with a checkpoint every 5. */
async function log20(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t);
  const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 5, groupWindowMs: 0 });
  for (let i = 1; i <= 20; i++) {
    await log.append(decision(i));
    if (i % 5 === 0) await log.checkpoint();
  }
  await log.close();
  return dir;
}

function rehash(line: string, change: (r: Record<string, unknown>) => void): string {
  const r = JSON.parse(line) as Record<string, unknown>;
  change(r);
  r.hash = recordHash(r);
  return canonicalJson(r);
}

describe('audit verify detects every tamper class', () => {
  it('passes an untouched log', async (t) => {
    const report = await verifyDir(await log20(t));
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.records, 20);
    assert.equal(report.checkpoints.last_covered_seq, 20);
  });

  it('names the seq of a record whose bytes were changed', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines[6] = lines[6].replace('prompt 7', 'prompt X');
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.ok, r.first_bad?.seq, r.first_bad?.reason], [false, 7, 'record-changed']);
  });

  it('names a record changed and rehashed, because the next record no longer links to it', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines[6] = rehash(lines[6], (r) => (r.status = 500));
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [7, 'record-changed']);
  });

  it('names a deleted record as missing', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines.splice(6, 1);
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [7, 'record-missing']);
  });

  it('names two swapped records as reordered', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    [lines[6], lines[7]] = [lines[7], lines[6]];
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [7, 'record-reordered']);
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
  });

  it('names two records swapped far apart as reordered', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    [lines[4], lines[8]] = [lines[8], lines[4]];
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [5, 'record-reordered'], JSON.stringify(r.problems));
  });

  it('names a replayed copy of an earlier record as inserted', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines.splice(9, 0, lines[6]);
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [10, 'record-inserted']);
  });

  for (const seq of [8, 10]) {
    it(`names a forged record with a valid hash and link as inserted (seq ${seq}${seq === 10 ? ', at a checkpoint' : ''})`, async (t) => {
      const dir = await log20(t);
      const { path, lines } = await segmentLines(dir);
      const forged = rehash(lines[seq - 1], (r) => (r.decision_id = 'forged'));
      lines.splice(seq - 1, 0, forged);
      await writeLines(path, lines);
      const r = await verifyDir(dir);
      assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [seq, 'record-inserted'], JSON.stringify(r.problems));
      assert.equal(r.problems.length, 1);
    });
  }

  it('names a garbage line inserted between two records as inserted', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines.splice(7, 0, '{"seq":8,"note":"hello"}');
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [8, 'record-inserted'], JSON.stringify(r.problems));
  });

  it('names the first damaged seq when bytes are cut out of the middle', async (t) => {
    const dir = await log20(t);
    const { path } = await segmentLines(dir);
    const text = await readFile(path, 'utf8');
    const lines = text.split('\n');
    const start = lines.slice(0, 9).join('\n').length + 40; // inside seq 10
    const end = lines.slice(0, 12).join('\n').length + 40; // inside seq 13
    await writeFile(path, text.slice(0, start) + text.slice(end));
    const r = await verifyDir(dir);
    assert.equal(r.ok, false);
    assert.equal(r.first_bad?.seq, 10);
    assert.ok(
      r.problems.some((p) => p.reason === 'record-missing'),
      JSON.stringify(r.problems),
    );
  });

  it('names records cut from the end that a signed checkpoint covers as missing', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    await writeLines(path, lines.slice(0, 17));
    const r = await verifyDir(dir);
    assert.deepEqual([r.first_bad?.seq, r.first_bad?.reason], [18, 'record-missing']);
  });

  it('detects a wholesale rewrite from seq 7 on through the signed checkpoint', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    let prev = (JSON.parse(lines[5]) as { hash: string }).hash;
    for (let i = 6; i < lines.length; i++) {
      lines[i] = rehash(lines[i], (r) => {
        if (i === 6) r.status = 500;
        r.prev_hash = prev;
      });
      prev = (JSON.parse(lines[i]) as { hash: string }).hash;
    }
    await writeLines(path, lines);
    const r = await verifyDir(dir);
    assert.equal(r.ok, false);
    assert.equal(r.first_bad?.reason, 'record-changed');
    assert.ok(r.first_bad!.seq <= 7 && r.first_bad!.seq >= 6, JSON.stringify(r.first_bad));
  });

  it('names a checkpoint whose fields were edited as forged', async (t) => {
    const dir = await log20(t);
    const file = join(dir, 'checkpoints.ndjson');
    const cps = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Checkpoint);
    cps[1].last_seq += 1;
    await writeFile(file, cps.map((c) => `${canonicalJson(c)}\n`).join(''));
    const r = await verifyDir(dir);
    assert.equal(r.first_bad?.reason, 'checkpoint-forged');
    assert.equal(r.first_bad?.seq, cps[1].first_seq);
  });

  it('names a checkpoint re-signed with another key as forged', async (t) => {
    const dir = await log20(t);
    const file = join(dir, 'checkpoints.ndjson');
    const cps = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Checkpoint);
    const other = generateKeyPairSync('ed25519');
    const { signature: _s, ...body } = { ...cps[0], key_fingerprint: keyFingerprint(other.publicKey) };
    cps[0] = { ...body, signature: sign(null, Buffer.from(canonicalJson(body)), other.privateKey).toString('base64') };
    if (cps[1]) cps[1].prev_checkpoint_hash = checkpointHash(cps[0]);
    await writeFile(file, cps.map((c) => `${canonicalJson(c)}\n`).join(''));
    const r = await verifyDir(dir);
    assert.equal(r.first_bad?.reason, 'checkpoint-forged');
    assert.match(r.first_bad!.detail, /unknown key/);
  });

  it('treats a torn final line as a crash or a write in progress, not tampering', async (t) => {
    const dir = await log20(t);
    const { path } = await segmentLines(dir);
    await writeFile(path, `${await readFile(path, 'utf8')}{"seq":21,"kin`);
    const r = await verifyDir(dir);
    assert.equal(r.ok, true);
    assert.ok(r.warnings.some((w) => /torn final line/.test(w)));
  });

  it('limits the report to --from..--to', async (t) => {
    const dir = await log20(t);
    const { path, lines } = await segmentLines(dir);
    lines[3] = lines[3].replace('prompt 4', 'prompt X');
    await writeLines(path, lines);
    const { verifyLog } = await import('../../audit/verify.js');
    const { loadPublicKey } = await import('../../audit/keys.js');
    const publicKeys = [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))];
    const later = await verifyLog({ dir, publicKeys, from: 10, to: 20 });
    assert.deepEqual([later.ok, later.records, later.first_seq, later.last_seq], [true, 11, 10, 20]);
    const middle = await verifyLog({ dir, publicKeys, from: 10, to: 15 });
    assert.deepEqual([middle.ok, middle.records, middle.first_seq, middle.last_seq], [true, 6, 10, 15]);
    assert.equal((await verifyLog({ dir, publicKeys, from: 1, to: 9 })).first_bad?.seq, 4);
  });
});
