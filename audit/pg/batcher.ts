/**
 * Group commit for the PostgreSQL log: rows queue in chain order, and one flush writes the whole queue with one
 * call (the sink's multi-row INSERT), then settles every promise in it. While a write is in flight the next batch
 * accumulates; with none in flight a batch starts at the end of the current tick (everything appended in the same
 * turn of the event loop shares it) or at once when EAGER_ROWS are queued. As the file log's writer does
 * (audit/writer.ts), a failed write fails its batch and every row queued behind it: they are chained onto it.
 */
import type { RecordRow } from './rows.js';

/** With no write in flight, this many queued rows start one at once rather than at the end of the tick. */
const EAGER_ROWS = 32;

interface Entry {
  row: RecordRow;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface BatcherOptions {
  /** One row per write (fsync-per-record). */
  perRecord: boolean;
  maxRows: number;
  /** Whether there is something to write with (a session); without, the queue waits. */
  canWrite(): boolean;
  /** Writes the rows durably. */
  write(rows: RecordRow[]): Promise<void>;
  /** After a write, before its promises resolve, with its last row. */
  onWritten(last: RecordRow): void;
  /** A write failed; its rows and everything queued are rejected with `wrap(err)` right after. */
  onFailed(err: Error): void;
  wrap(err: Error): Error;
}

/** @example const b = new RowBatcher({ … }); await b.enqueue(row); // committed when it resolves */
export class RowBatcher {
  private pending: Entry[] = [];
  private flushing: Promise<void> | null = null;
  private tick: NodeJS.Immediate | null = null;

  constructor(private readonly o: BatcherOptions) {}

  enqueue(row: RecordRow): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.schedule();
    });
  }

  /** Rejects everything queued (the session is gone; these rows were chained onto rows that may be lost). */
  failAll(err: Error): void {
    for (const e of this.pending.splice(0)) e.reject(err);
  }

  /** Resolves when everything queued so far has been written, failed, or cannot be written (no session). */
  async drain(): Promise<void> {
    while (this.pending.length || this.flushing) {
      if (this.tick) clearImmediate(this.tick);
      this.tick = null;
      if (!this.flushing && !this.o.canWrite()) return; // nothing to write with: the rows wait (or fail on close)
      await this.start();
    }
  }

  private due(): boolean {
    return this.o.perRecord || this.pending.length >= EAGER_ROWS;
  }

  private schedule(): void {
    if (this.flushing) return; // the write in flight takes these next
    if (this.due()) {
      if (this.tick) clearImmediate(this.tick);
      this.tick = null;
      void this.start();
    } else
      this.tick ??= setImmediate(() => {
        this.tick = null;
        void this.start();
      });
  }

  private start(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (!this.pending.length || !this.o.canWrite()) return Promise.resolve();
    // flushPending runs synchronously up to its first write, so `flushing` is set before it can be cleared.
    this.flushing = this.flushPending();
    return this.flushing;
  }

  private async flushPending(): Promise<void> {
    const max = this.o.perRecord ? 1 : this.o.maxRows;
    for (;;) {
      // Cleared in the same synchronous step as this check (not a microtask later), so that an append made by a
      // caller this flush just resumed sees no flush in flight and schedules its own.
      if (!this.pending.length || !this.o.canWrite()) {
        this.flushing = null;
        return;
      }
      const batch = this.pending.splice(0, max);
      try {
        await this.o.write(batch.map((e) => e.row));
      } catch (err) {
        const failed = [...batch, ...this.pending.splice(0)];
        this.flushing = null;
        this.o.onFailed(err as Error);
        for (const e of failed) e.reject(this.o.wrap(err as Error));
        return;
      }
      this.o.onWritten(batch[batch.length - 1].row);
      for (const e of batch) e.resolve();
      // The next batch waits for the end of this tick unless it is due, so the rows made in the rest of the tick
      // share its write.
      if (this.pending.length && !this.due()) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
