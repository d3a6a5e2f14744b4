/**
 * The group-commit writer. Records queue in memory in chain order; one flush writes the whole queue with one
 * synchronous write (O_DSYNC, or write + fdatasync), then settles every promise in it. While a flush is in
 * flight new records keep queueing and go out together in the next one (at the end of the tick in which the
 * flush completes), so N concurrent requests cost about one fsync, not N.
 *
 * Durability modes (see audit/README.md for the trade-offs):
 * - `group`: a record is acknowledged after the fsync of the batch that carried it (the default);
 * - `fsync-per-record`: one synchronous write per record, strictly one after another;
 * - `none`: acknowledged after the write reaches the OS; survives a process crash, not a power cut.
 */
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { segmentName, syncDir, type SegmentInfo } from './segments.js';

export type Durability = 'group' | 'fsync-per-record' | 'none';

/**
 * How segments are opened. For the durable modes, O_DSYNC where the platform has it: each write returns only
 * once its data is on stable storage, like write + fdatasync but in one request to the I/O thread — which can
 * then run while the event loop is busy, since no callback is needed between the write and the sync.
 */
const DSYNC = constants.O_DSYNC;
const openFlags = (durability: Durability) =>
  durability !== 'none' && DSYNC !== undefined
    ? constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | DSYNC
    : 'a';
/** Durable writes need an explicit fdatasync only where O_DSYNC is missing. */
const needsDatasync = (durability: Durability) => durability !== 'none' && DSYNC === undefined;

/** With no flush in flight, this many queued records start one at once rather than at the end of the tick. */
const EAGER_RECORDS = 32;

export interface WriterOptions {
  dir: string;
  durability: Durability;
  /** How long the first record of a batch waits for company before the flush starts. */
  groupWindowMs: number;
  /** A batch this large flushes at once. */
  groupMaxRecords: number;
  groupMaxBytes: number;
  segmentMaxBytes: number;
  segmentMaxAgeMs: number;
  /** Called after a new segment is opened; errors are the caller's to handle. */
  onRotate?: (closed: SegmentInfo, opened: SegmentInfo) => void;
  /** Called once per batch, after it is written and before its appends resolve, with its last entry. */
  onWritten?: (seq: number, tag: string) => void;
}

interface Entry {
  seq: number;
  /** The caller's label for the entry (the chain log's record hash), reported back by `onWritten`. */
  tag: string;
  /** One canonical line, without its newline. */
  line: string;
  /** Its UTF-8 length plus the newline. */
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * @example
 * const w = await SegmentWriter.open(options, current, nextSeq);
 * await w.enqueue(seq, line); // durable when it resolves (group mode)
 */
export class SegmentWriter {
  private pending: Entry[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private flushing: Promise<void> | null = null;
  private failed: Error | null = null;
  private constructor(
    private readonly opts: WriterOptions,
    private fh: FileHandle,
    private segment: SegmentInfo,
    private size: number,
    private openedAt: number,
  ) {}

  /** Opens `current` for appending, or a new segment starting at `nextSeq` when there is none. */
  static async open(opts: WriterOptions, current: SegmentInfo | null, nextSeq: number): Promise<SegmentWriter> {
    const segment = current ?? {
      name: segmentName(nextSeq),
      path: join(opts.dir, segmentName(nextSeq)),
      firstSeq: nextSeq,
    };
    const fh = await open(segment.path, openFlags(opts.durability), 0o640);
    const st = await stat(segment.path);
    if (!current) await syncDir(opts.dir);
    const openedAt = st.size === 0 ? Date.now() : st.birthtimeMs || st.mtimeMs;
    return new SegmentWriter(opts, fh, segment, st.size, openedAt);
  }

  get currentSegment(): SegmentInfo {
    return this.segment;
  }

  /** Queues one line (the newline is added here); resolves once it is durable per the mode. */
  enqueue(seq: number, line: string, tag = ''): Promise<void> {
    if (this.failed) return Promise.reject(new Error('audit log writer failed earlier', { cause: this.failed }));
    return new Promise<void>((resolve, reject) => {
      const bytes = Buffer.byteLength(line) + 1;
      this.pending.push({ seq, tag, line, bytes, resolve, reject });
      this.pendingBytes += bytes;
      this.schedule();
    });
  }

  /** Resolves when everything queued so far has been flushed. */
  async drain(): Promise<void> {
    while (this.pending.length || this.flushing) {
      this.clearTimer();
      await (this.flushing ?? this.startFlush());
    }
  }

  async close(): Promise<void> {
    await this.drain();
    await this.fh.close();
  }

  private schedule(): void {
    if (this.flushing) return; // the running flush picks these up when it finishes
    if (this.due() || this.opts.durability === 'fsync-per-record') {
      this.clearTimer();
      void this.startFlush();
    } else if (!this.timer) {
      // Window 0 still waits for the end of the current tick (setImmediate), so that everything appended in
      // the same turn of the event loop (e.g. every request whose await just resumed) shares one flush.
      const fire = (): void => {
        this.timer = null;
        void this.startFlush();
      };
      this.timer = this.later(fire);
    }
  }

  /** The queue is big enough to write now rather than at the end of the tick (or of the window). */
  private due(): boolean {
    // With the disk idle, a burst of appends (requests resuming in one turn of the event loop) starts writing
    // as soon as a few have queued: the write then runs while the rest of the burst is still being built.
    const eager =
      DSYNC !== undefined &&
      this.opts.groupWindowMs === 0 &&
      this.pending.length >= Math.min(EAGER_RECORDS, this.opts.groupMaxRecords);
    return eager || this.pending.length >= this.opts.groupMaxRecords || this.pendingBytes >= this.opts.groupMaxBytes;
  }

  /** Runs `fn` at the end of the current tick (window 0) or after the window. */
  private later(fn: () => void): NodeJS.Timeout | NodeJS.Immediate {
    return this.opts.groupWindowMs > 0 ? setTimeout(fn, this.opts.groupWindowMs) : setImmediate(fn);
  }

  private clearTimer(): void {
    if (!this.timer) return;
    if (this.opts.groupWindowMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = null;
  }

  private startFlush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.pending.length) return Promise.resolve();
    // flushPending runs synchronously up to its first write, so `flushing` is set before it can be cleared.
    this.flushing = this.flushPending();
    return this.flushing;
  }

  /**
   * Writes batches until nothing is pending. `flushing` is cleared in the same synchronous step as the final
   * "nothing pending" check (not a microtask later), so an append made by a caller that this very flush just
   * resumed sees no flush in flight and schedules its own instead of waiting for one that is over.
   */
  private async flushPending(): Promise<void> {
    const perRecord = this.opts.durability === 'fsync-per-record';
    for (;;) {
      if (!this.pending.length || this.failed) {
        this.flushing = null;
        return;
      }
      let take = 0;
      let bytes = 0;
      const max = perRecord ? 1 : this.opts.groupMaxRecords;
      while (take < this.pending.length && take < max && (take === 0 || bytes < this.opts.groupMaxBytes)) {
        bytes += this.pending[take].bytes;
        take++;
      }
      const batch = this.pending.splice(0, take);
      this.pendingBytes -= bytes;
      try {
        await this.writeBatch(batch);
      } catch (err) {
        // The file may now end in a partial batch: stop here, fail everything queued, and let the next start
        // repair the tail. Acknowledging later records would leave a hole in the chain.
        this.failed = err as Error;
        const all = [...batch, ...this.pending.splice(0)];
        this.pendingBytes = 0;
        for (const e of all) e.reject(new Error('audit log write failed', { cause: err }));
        this.flushing = null;
        return;
      }
      const last = batch[batch.length - 1];
      this.opts.onWritten?.(last.seq, last.tag);
      for (const e of batch) e.resolve();
      // The next batch waits, as the first did, for the end of this tick (or the window) unless it is already
      // due. The records made in the rest of this tick (the I/O callbacks still to run in it) then share its
      // write, rather than start the one after. A busy thread loses no time by that: it reaches the end of the
      // tick when it is done anyway, and an idle one at once. The fewer, larger fsyncs cost the machine less
      // (a synchronous write costs about the same kernel CPU at 2 KB as at 30 KB).
      if (!perRecord && this.pending.length && !this.due()) await new Promise<void>((resolve) => this.later(resolve));
    }
  }

  private async writeBatch(batch: Entry[]): Promise<void> {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const e of batch) {
      const used = this.size + chunkBytes;
      const tooBig = used > 0 && used + e.bytes > this.opts.segmentMaxBytes;
      const tooOld = used > 0 && Date.now() - this.openedAt >= this.opts.segmentMaxAgeMs;
      if (tooBig || tooOld) {
        await this.writeAll(chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.rotate(e.seq);
      }
      chunk.push(e.line, '\n');
      chunkBytes += e.bytes;
    }
    await this.writeAll(chunk, chunkBytes);
    if (needsDatasync(this.opts.durability)) await this.fh.datasync();
  }

  /**
   * Writes lines (and their newlines) in one buffer, looping over short writes. The first write is issued
   * synchronously, in the caller's microtask: an `await` before it (even of a settled promise) would start it
   * only after the rest of a burst of appends, not beside it: that cost about 30% of group throughput when
   * tried.
   */
  private async writeAll(chunk: string[], bytes: number): Promise<void> {
    if (!bytes) return;
    const buf = Buffer.from(chunk.join(''));
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.size += bytes;
  }

  private async rotate(nextSeq: number): Promise<void> {
    if (needsDatasync(this.opts.durability)) await this.fh.datasync();
    await this.fh.close();
    const closed = this.segment;
    const name = segmentName(nextSeq);
    this.segment = { name, path: join(this.opts.dir, name), firstSeq: nextSeq };
    this.fh = await open(this.segment.path, openFlags(this.opts.durability), 0o640);
    this.size = (await this.fh.stat()).size;
    this.openedAt = Date.now();
    await syncDir(this.opts.dir);
    this.opts.onRotate?.(closed, this.segment);
  }
}
