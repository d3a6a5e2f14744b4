/**
 * Sends every signed checkpoint to each anchor, off the request path. A checkpoint is written to the log's own
 * checkpoints file first; the anchors get it afterwards, one queue per anchor, in order, retried with backoff
 * until it is taken. A failing anchor never fails a request or holds up the log: it is reported (an `anchor`
 * event per attempt, for logs and metrics) and catches up when it recovers.
 *
 * What each anchor has taken is remembered in `anchor-cursor.json` beside the log, so that checkpoints still
 * queued when the process stopped are sent on the next start. The cursor is only a to-do list: editing it can
 * make the writer send a checkpoint twice (readers skip duplicates) or skip sending one, never change one.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FileAnchor,
  HttpAnchor,
  LogAnchor,
  defaultAnchorLogger,
  type AnchorLogger,
  type AnchorSink,
} from './anchor.js';
import type { AnchorConfig } from './config.js';
import type { Checkpoint } from './types.js';
import { PgAnchor } from './pg/anchor.js';

export const ANCHOR_CURSOR_FILE = 'anchor-cursor.json';

/** One publish attempt's outcome: a hook for metrics (`audit_anchor_publish_total{sink,outcome}`) and logs. */
export interface AnchorEvent {
  type: 'anchor';
  sink: string;
  /** `unsent`: still queued when the log closed; sent on the next start. */
  outcome: 'published' | 'failed' | 'unsent';
  /** The checkpoint's last_seq (for `unsent`, the last queued one). */
  last_seq: number;
  /** Failed attempts so far for this checkpoint. */
  attempts: number;
  /** Checkpoints waiting for this anchor after this attempt. */
  pending: number;
  error?: Error;
}

/** The anchors the configuration asks for. `logger` is the operational log (default: JSON lines on stdout). */
export function anchorSinksFor(
  anchor: AnchorConfig | undefined,
  instance: string,
  logger?: AnchorLogger,
): AnchorSink[] {
  if (!anchor) return [];
  const sinks: AnchorSink[] = [];
  if (anchor.file) sinks.push(new FileAnchor(anchor.file));
  if (anchor.log) sinks.push(new LogAnchor(logger ?? defaultAnchorLogger(), instance));
  if (anchor.url) sinks.push(new HttpAnchor(anchor.url, anchor.headers));
  if (anchor.postgres) sinks.push(new PgAnchor(anchor.postgres.url, anchor.postgres.log ?? instance));
  return sinks;
}

interface Lane {
  sink: AnchorSink;
  queue: Checkpoint[];
  attempts: number;
  busy: boolean;
  timer: NodeJS.Timeout | null;
}

export interface AnchorPublisherOptions {
  dir: string;
  sinks: AnchorSink[];
  /** First retry delay; doubles per failure up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs?: number;
  onEvent: (event: AnchorEvent) => void;
}

/**
 * @example
 * const anchors = await AnchorPublisher.open({ dir, sinks, retryMs: 1000, onEvent }, checkpointsOnDisk);
 * anchors.publish(cp); // returns at once
 * await anchors.close(5000);
 */
export class AnchorPublisher {
  private readonly lanes: Lane[];
  private cursor: Record<string, number> = {};
  private cursorWrite: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly opts: AnchorPublisherOptions) {
    this.lanes = opts.sinks.map((sink) => ({ sink, queue: [], attempts: 0, busy: false, timer: null }));
  }

  /**
   * Loads the cursor and queues what each anchor has not taken yet from `onDisk` (the log's checkpoints, oldest
   * first). An anchor with no cursor (newly configured) gets the last checkpoint only: it chains to every earlier
   * one by `prev_checkpoint_hash`, so it pins the whole log up to its `last_seq`.
   */
  static async open(opts: AnchorPublisherOptions, onDisk: Checkpoint[]): Promise<AnchorPublisher> {
    const p = new AnchorPublisher(opts);
    try {
      const v = JSON.parse(await readFile(join(opts.dir, ANCHOR_CURSOR_FILE), 'utf8')) as unknown;
      if (typeof v === 'object' && v !== null)
        for (const [k, seq] of Object.entries(v)) if (Number.isSafeInteger(seq)) p.cursor[k] = seq as number;
    } catch {
      // No cursor yet (or an unreadable one): treat every anchor as newly configured.
    }
    for (const lane of p.lanes) {
      const done = p.cursor[lane.sink.name];
      const last = onDisk.at(-1);
      const todo = done === undefined ? (last ? [last] : []) : onDisk.filter((cp) => cp.last_seq > done);
      for (const cp of todo) p.enqueue(lane, cp);
    }
    return p;
  }

  /** Queues a checkpoint for every anchor; returns at once. */
  publish(cp: Checkpoint): void {
    for (const lane of this.lanes) this.enqueue(lane, cp);
  }

  /** Checkpoints waiting, per anchor. */
  pending(): Record<string, number> {
    return Object.fromEntries(this.lanes.map((l) => [l.sink.name, l.queue.length]));
  }

  /**
   * Retries every anchor at once and waits up to `timeoutMs` for the queues to drain; what is left is reported
   * (`unsent`) and sent on the next start.
   */
  async close(timeoutMs: number): Promise<void> {
    for (const lane of this.lanes) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
      this.pump(lane);
    }
    const deadline = Date.now() + timeoutMs;
    while (this.lanes.some((l) => l.queue.length) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, Math.min(20, Math.max(1, deadline - Date.now()))));
    this.stopped = true;
    for (const lane of this.lanes) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.sink.close?.();
      const last = lane.queue.at(-1);
      if (last)
        this.opts.onEvent({
          type: 'anchor',
          sink: lane.sink.name,
          outcome: 'unsent',
          last_seq: last.last_seq,
          attempts: lane.attempts,
          pending: lane.queue.length,
        });
    }
    await this.cursorWrite;
  }

  private enqueue(lane: Lane, cp: Checkpoint): void {
    if (this.stopped) return;
    lane.queue.push(cp);
    this.pump(lane);
  }

  private pump(lane: Lane): void {
    if (this.stopped || lane.busy || lane.timer || lane.queue.length === 0) return;
    lane.busy = true;
    const cp = lane.queue[0];
    Promise.resolve()
      .then(() => lane.sink.publish(cp))
      .then(
        () => {
          if (this.stopped) return; // taken after close gave up on it: it is sent again on the next start
          lane.queue.shift();
          const attempts = lane.attempts;
          lane.attempts = 0;
          this.advanceCursor(lane.sink.name, cp.last_seq);
          this.report(lane, cp, 'published', attempts);
        },
        (err: unknown) => {
          lane.attempts++;
          this.report(lane, cp, 'failed', lane.attempts, err instanceof Error ? err : new Error(String(err)));
          if (this.stopped) return;
          const max = this.opts.maxRetryMs ?? 60_000;
          const delay = Math.min(max, this.opts.retryMs * 2 ** Math.min(lane.attempts - 1, 20));
          lane.timer = setTimeout(() => {
            lane.timer = null;
            this.pump(lane);
          }, delay);
          lane.timer.unref();
        },
      )
      .finally(() => {
        lane.busy = false;
        this.pump(lane);
      })
      .catch(() => undefined);
  }

  private report(lane: Lane, cp: Checkpoint, outcome: AnchorEvent['outcome'], attempts: number, error?: Error): void {
    const pending = lane.queue.length;
    const event: AnchorEvent = {
      type: 'anchor',
      sink: lane.sink.name,
      outcome,
      last_seq: cp.last_seq,
      attempts,
      pending,
    };
    try {
      this.opts.onEvent(error ? { ...event, error } : event);
    } catch {
      // The listener's failure must not stop the retries.
    }
  }

  /** Remembers what an anchor has taken; written by rename, one write at a time. */
  private advanceCursor(sink: string, lastSeq: number): void {
    this.cursor[sink] = Math.max(this.cursor[sink] ?? 0, lastSeq);
    const text = `${JSON.stringify(this.cursor)}\n`;
    const path = join(this.opts.dir, ANCHOR_CURSOR_FILE);
    this.cursorWrite = this.cursorWrite
      .then(async () => {
        await writeFile(`${path}.tmp`, text);
        await rename(`${path}.tmp`, path);
      })
      .catch(() => undefined); // a lost cursor update only means this checkpoint is sent again after a restart
  }
}
