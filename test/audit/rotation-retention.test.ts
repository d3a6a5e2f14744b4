import assert from 'node:assert/strict';
import { unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChainLog } from '../../audit/chain-log.js';
import { readRecords } from '../../audit/reader.js';
import { listSegments, segmentName } from '../../audit/segments.js';
import type { StoredRecord } from '../../audit/types.js';
import { decision, segmentLines, tempDir, verifyDir, writeLines, quiet } from './helpers.js';

async function all(dir: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for await (const r of readRecords(dir)) out.push(r);
  return out;
}

describe('rotation and retention', () => {
  it('rotates by size, names segments by first seq, and the chain spans them', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, segmentMaxBytes: 4000, checkpointEvery: 7 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(decision(i + 1))));
    await log.close();
    const segs = await listSegments(dir);
    assert.ok(segs.length >= 5, `expected several segments, got ${segs.length}`);
    for (let i = 1; i < segs.length; i++) {
      const prev = (await segmentLines(dir, i - 1)).lines.map((l) => JSON.parse(l) as StoredRecord);
      const first = JSON.parse((await segmentLines(dir, i)).lines[0]) as StoredRecord;
      assert.equal(first.seq, segs[i].firstSeq);
      assert.equal(first.prev_hash, prev.at(-1)!.hash);
    }
    const report = await verifyDir(dir);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.records, 30);
  });

  it('continues into an empty segment left by a crash right after a rotation', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir });
    for (let i = 1; i <= 3; i++) await log.append(decision(i));
    await log.close();
    await writeFile(join(dir, segmentName(4)), '');
    const again = await ChainLog.open({ ...quiet, dir });
    assert.equal(again.startup.head.seq, 3);
    await again.append(decision(4));
    await again.close();
    assert.deepEqual(
      (await listSegments(dir)).map((s) => s.firstSeq),
      [1, 4],
    );
    assert.equal((await verifyDir(dir)).ok, true);
  });

  it('refuses an empty last segment whose name does not follow the chain', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir });
    for (let i = 1; i <= 3; i++) await log.append(decision(i));
    await log.close();
    await writeFile(join(dir, segmentName(9)), '');
    await assert.rejects(ChainLog.open({ ...quiet, dir }), { name: 'AuditTailError' });
  });

  it('rotates by age', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, segmentMaxAgeMs: 5, groupWindowMs: 0 });
    for (let i = 1; i <= 4; i++) {
      await log.append(decision(i));
      await sleep(10);
    }
    await log.close();
    assert.equal((await listSegments(dir)).length, 4);
    assert.equal((await verifyDir(dir)).ok, true);
  });

  it('deletes whole old segments, records a retention marker, and verification still passes', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({
      ...quiet,
      dir,
      segmentMaxBytes: 4000,
      retention: { maxSegments: 3 },
      groupWindowMs: 0,
    });
    for (let i = 1; i <= 40; i++) await log.append(decision(i));
    await log.applyRetention();
    await log.close();
    const segs = await listSegments(dir);
    assert.ok(segs.length <= 4, `retention kept ${segs.length} segments`);
    assert.ok(segs[0].firstSeq > 1);
    const records = await all(dir);
    const markers = records.filter((r) => r.kind === 'retention');
    assert.ok(markers.length >= 1);
    const last = markers.at(-1)!;
    assert.ok(last.kind === 'retention' && last.deleted.last_seq === segs[0].firstSeq - 1);
    const report = await verifyDir(dir);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.first_seq, segs[0].firstSeq);
  });

  it('deletes segments older than maxAgeMs', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({
      ...quiet,
      dir,
      segmentMaxBytes: 4000,
      groupWindowMs: 0,
      retention: { maxAgeMs: 3600_000 },
    });
    for (let i = 1; i <= 20; i++) await log.append(decision(i));
    const before = await listSegments(dir);
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(before[0].path, old, old);
    await utimes(before[1].path, old, old);
    await log.applyRetention();
    await log.close();
    const after = await listSegments(dir);
    assert.equal(after[0].firstSeq, before[2].firstSeq);
    assert.equal((await verifyDir(dir)).ok, true);
  });

  it('flags segments deleted without a retention marker', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, segmentMaxBytes: 4000 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => log.append(decision(i + 1))));
    await log.close();
    const segs = await listSegments(dir);
    await unlink(segs[0].path);
    const head = await verifyDir(dir);
    assert.deepEqual([head.first_bad?.seq, head.first_bad?.reason], [1, 'record-missing']);
    await unlink(segs[2].path);
    const middle = await verifyDir(dir);
    assert.ok(middle.problems.some((p) => p.reason === 'record-missing' && p.seq === segs[2].firstSeq));
  });

  it('flags a retention marker whose deleted hash was altered', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({
      ...quiet,
      dir,
      segmentMaxBytes: 4000,
      retention: { maxSegments: 2 },
      groupWindowMs: 0,
    });
    for (let i = 1; i <= 20; i++) await log.append(decision(i));
    await log.applyRetention();
    await log.close();
    const segs = await listSegments(dir);
    for (let s = 0; s < segs.length; s++) {
      const { path, lines } = await segmentLines(dir, s);
      const idx = lines.findIndex((l) => l.includes('"kind":"retention"'));
      if (idx < 0) continue;
      lines[idx] = lines[idx].replace(/"last_hash":"[0-9a-f]/, '"last_hash":"x');
      await writeLines(path, lines);
    }
    const report = await verifyDir(dir);
    assert.equal(report.ok, false);
    // The altered marker no longer matches its hash, so nothing explains the missing start of the log either.
    assert.ok(
      report.problems.some((p) => p.reason === 'record-changed'),
      JSON.stringify(report.problems),
    );
    assert.deepEqual([report.first_bad?.seq, report.first_bad?.reason], [1, 'record-missing']);
  });
});
