import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SegmentWriter, type Durability, type WriterOptions } from '../../audit/writer.js';
import { listSegments } from '../../audit/segments.js';
import { tempDir } from './helpers.js';

const options = (dir: string, durability: Durability, over: Partial<WriterOptions> = {}): WriterOptions => ({
  dir,
  durability,
  groupWindowMs: 0,
  groupMaxRecords: 512,
  groupMaxBytes: 1 << 20,
  segmentMaxBytes: 1 << 20,
  segmentMaxAgeMs: 3600_000,
  ...over,
});

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([
    p,
    sleep(ms, undefined, { ref: false }).then(() => {
      throw new Error(`not settled within ${ms} ms`);
    }),
  ]);

describe('SegmentWriter', () => {
  for (const durability of ['group', 'fsync-per-record', 'none'] as const) {
    for (const groupWindowMs of [0, 2]) {
      it(`flushes a record appended from the callback of the previous flush (${durability}, window ${groupWindowMs})`, async (t) => {
        const dir = await tempDir(t);
        const w = await SegmentWriter.open(options(dir, durability, { groupWindowMs }), null, 1);
        // Wrapped in an object so that awaiting `second` does not also wait for the inner promise.
        const second = new Promise<{ p: Promise<void> }>((resolve) => {
          void w.enqueue(1, '{"seq":1}').then(() => resolve({ p: w.enqueue(2, '{"seq":2}') }));
        });
        await within((await second).p, 1000);
        await w.close();
        const [seg] = await listSegments(dir);
        assert.equal(await readFile(seg.path, 'utf8'), '{"seq":1}\n{"seq":2}\n');
      });
    }
  }

  for (const [durability, groupWindowMs] of [
    ['group', 0],
    ['none', 0],
    ['group', 200],
  ] as const) {
    it(`lets the batch after a flush wait for the end of the tick, so what that tick appends shares it (${durability}, window ${groupWindowMs})`, async (t) => {
      const dir = await tempDir(t);
      const batches: number[] = [];
      let second!: Promise<void>;
      let third!: Promise<void>;
      const onWritten = (seq: number) => {
        batches.push(seq);
        // Record 2 arrives as record 1's write finishes, before its acknowledgement: queued behind that flush.
        if (seq === 1) second = w.enqueue(2, '{"seq":2}');
      };
      const w = await SegmentWriter.open(options(dir, durability, { groupWindowMs, onWritten }), null, 1);
      // Record 3 is appended when record 1 is acknowledged: in the same tick as that flush's completion.
      await within(
        w.enqueue(1, '{"seq":1}').then(() => {
          third = w.enqueue(3, '{"seq":3}');
        }),
        2000,
      );
      await within(Promise.all([second, third]), 2000);
      await w.close();
      assert.deepEqual(batches, [1, 3], 'records 2 and 3 went out in one write');
      const [seg] = await listSegments(dir);
      assert.equal(await readFile(seg.path, 'utf8'), '{"seq":1}\n{"seq":2}\n{"seq":3}\n');
    });
  }

  it('keeps order when a burst starts writing before it ends (the eager flush), across unicode line lengths', async (t) => {
    const dir = await tempDir(t);
    const w = await SegmentWriter.open(options(dir, 'group', { segmentMaxBytes: 4096 }), null, 1);
    const line = (seq: number) => `{"seq":${seq},"t":"${'é'.repeat(seq % 7)}"}`;
    // 200 appends in one turn of the event loop: the first flush starts while the rest are still queueing.
    await within(Promise.all(Array.from({ length: 200 }, (_, i) => w.enqueue(i + 1, line(i + 1)))), 5000);
    await w.close();
    const segs = await listSegments(dir);
    assert.ok(segs.length > 1, 'the burst crossed segment rotations');
    const text = (await Promise.all(segs.map((g) => readFile(g.path, 'utf8')))).join('');
    assert.equal(text, Array.from({ length: 200 }, (_, i) => `${line(i + 1)}\n`).join(''));
    for (const g of segs)
      assert.ok(Buffer.byteLength(await readFile(g.path)) <= 4096, `${g.name} is within the size limit`);
  });

  it('fails the batch and every later append once a write fails, so no acknowledged record follows a hole', async (t) => {
    const dir = await tempDir(t);
    const w = await SegmentWriter.open(options(dir, 'group'), null, 1);
    await (w as unknown as { fh: { close(): Promise<void> } }).fh.close(); // the disk "goes away"
    const batch = [1, 2, 3].map((seq) => w.enqueue(seq, `{"seq":${seq}}`));
    for (const p of batch) await assert.rejects(p, /audit log write failed/);
    await assert.rejects(w.enqueue(4, '{"seq":4}'), /failed earlier/);
  });

  it('splits a batch across a size rotation at a record boundary', async (t) => {
    const dir = await tempDir(t);
    const w = await SegmentWriter.open(options(dir, 'group', { segmentMaxBytes: 25 }), null, 1);
    await Promise.all([1, 2, 3, 4, 5].map((seq) => w.enqueue(seq, `{"seq":${seq}}`)));
    await w.close();
    const segs = await listSegments(dir);
    assert.deepEqual(
      segs.map((s) => s.firstSeq),
      [1, 3, 5],
    );
  });
});
