/**
 * The hash-chained, group-committed, checkpoint-signed audit log: the production `AuditSink`.
 *
 * Chain order is decided synchronously in `append`, so records are chained in call order even though many
 * appends are in flight; the writer (audit/writer.ts) makes them durable in batches.
 */
import { mkdir } from 'node:fs/promises';
import type { AnchorLogger, AnchorSink } from './anchor.js';
import { AnchorPublisher, anchorSinksFor } from './anchor-publisher.js';
import { hashAndSerialise } from './canonical.js';
import { appendCheckpoint, readCheckpoints, signCheckpoint } from './checkpoints.js';
import { parseAuditConfig, type AuditConfig, type AuditConfigInput } from './config.js';
import { loadOrCreateSigningKey, type SigningKey } from './keys.js';
import { lockDir, type DirLock } from './lock.js';
import { createMasker, type Masked } from './mask.js';
import { anchorEventReporter, printEvent, type AuditEvent } from './events.js';
import { recoverTail, type TornLineRepair } from './recovery.js';
import { deleteSegments, planRetention } from './retention.js';
import { listSegments } from './segments.js';
import { SegmentWriter } from './writer.js';
import {
  RECORD_VERSION,
  type AuditSink,
  type Checkpoint,
  type DecisionRecord,
  type RepairMarker,
  type RetentionMarker,
  type StoredDecision,
  type StoredRecord,
} from './types.js';

export type { AuditEvent } from './events.js';

export interface ChainLogOptions extends AuditConfigInput {
  /** Defaults to one line on stderr for what an operator must see (new key, repair, lock takeover, errors). */
  onEvent?: (event: AuditEvent) => void;
  /** The operational log for `anchor.log` (default: JSON lines on stdout). */
  anchorLogger?: AnchorLogger;
  /** Anchors beyond those `anchor` configures (another store's sink). */
  anchorSinks?: AnchorSink[];
}

export interface StartupReport {
  /** seq and hash of the last record found on disk. */
  head: { seq: number; hash: string };
  /** Set when a torn final line (a crash mid-write) was truncated; a `repair` record is then appended. */
  repaired: TornLineRepair | null;
  checkpointRepaired: boolean;
  key: { fingerprint: string; publicKeyFile: string; generated: boolean };
}

export interface AppendReceipt {
  seq: number;
  hash: string;
}

type Unchained<T extends StoredRecord> = Omit<T, 'seq' | 'prev_hash' | 'hash'>;

/**
 * @example
 * const log = await ChainLog.open({ dir: '/var/lib/gateway/audit', masks: ['$.content.prompt'] });
 * await log.append(record); // durable (fsynced) when it resolves
 * await log.close();
 */
export class ChainLog implements AuditSink {
  private seq: number;
  private headHash: string;
  private durable: AppendReceipt;
  private lastCheckpoint: Checkpoint | null;
  private checkpointing: Promise<unknown> = Promise.resolve();
  private checkpointQueued = false;
  /** Set at start when the last checkpoint records another schedule: sign after the first write to record ours. */
  private scheduleUnsigned = false;
  private anchors: AnchorPublisher | null = null;
  private retaining: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly mask: ReturnType<typeof createMasker>;
  private writer!: SegmentWriter;
  private lock!: DirLock;

  private constructor(
    private readonly config: AuditConfig & { keyFile: string },
    private readonly key: SigningKey,
    head: AppendReceipt,
    lastCheckpoint: Checkpoint | null,
    readonly startup: StartupReport,
    private readonly onEvent: (event: AuditEvent) => void,
  ) {
    this.seq = head.seq;
    this.headHash = head.hash;
    this.durable = head;
    this.lastCheckpoint = lastCheckpoint;
    this.mask = createMasker(config.masks);
  }

  /** Validates the config, loads or creates the key, verifies and repairs the tail, and opens for appending. */
  static async open(options: ChainLogOptions): Promise<ChainLog> {
    const { onEvent = printEvent, anchorLogger, anchorSinks = [], ...input } = options;
    const config = parseAuditConfig(input);
    await mkdir(config.dir, { recursive: true, mode: 0o750 });
    const lock = await lockDir(config.dir);
    try {
      const sinks = [...anchorSinksFor(config.anchor, config.instance, anchorLogger), ...anchorSinks];
      return await ChainLog.start(config, lock, onEvent, sinks);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  private static async start(
    config: AuditConfig & { keyFile: string },
    lock: DirLock,
    onEvent: (e: AuditEvent) => void,
    sinks: AnchorSink[],
  ): Promise<ChainLog> {
    if (lock.takenOver) onEvent({ type: 'lock-taken-over', ...lock.takenOver });
    const key = await loadOrCreateSigningKey(config.keyFile);
    if (key.generated)
      onEvent({
        type: 'key-generated',
        fingerprint: key.fingerprint,
        publicKeyFile: key.publicKeyFile,
        publicPem: key.publicPem,
      });
    if (key.warning) onEvent({ type: 'key-warning', message: key.warning });
    const state = await recoverTail(config.dir);
    const startup: StartupReport = {
      head: state.head,
      repaired: state.repair,
      checkpointRepaired: state.checkpointRepair !== null,
      key: { fingerprint: key.fingerprint, publicKeyFile: key.publicKeyFile, generated: key.generated },
    };
    const log = new ChainLog(config, key, state.head, state.lastCheckpoint, startup, onEvent);
    log.lock = lock;
    log.writer = await SegmentWriter.open(
      {
        ...config,
        dir: config.dir,
        onRotate: () => log.scheduleRetention(),
        onWritten: (seq, hash) => log.written(seq, hash),
      },
      state.current,
      state.head.seq + 1,
    );
    if (sinks.length)
      log.anchors = await AnchorPublisher.open(
        { dir: config.dir, sinks, retryMs: config.anchor?.retryMs ?? 1000, onEvent: anchorEventReporter(onEvent) },
        (await readCheckpoints(config.dir)).checkpoints,
      );
    // Sign what a crash left unsigned now, before the repair marker and this start's records follow it: verify
    // allows only one schedule's worth of unsigned records (and of record time) at the tail (audit/coverage.ts).
    if (log.durable.seq > (state.lastCheckpoint?.last_seq ?? 0))
      await log.checkpoint().catch((error: Error) => onEvent({ type: 'error', error }));
    else if (state.lastCheckpoint && !sameSchedule(state.lastCheckpoint, log.schedule)) log.scheduleUnsigned = true;
    if (state.repair) {
      onEvent({ type: 'repaired', repair: state.repair });
      await log.appendStored<RepairMarker>({
        kind: 'repair',
        time: new Date().toISOString(),
        instance: config.instance,
        repair: state.repair,
        v: RECORD_VERSION,
      });
    }
    log.timer = setInterval(
      () => void log.checkpoint().catch((error: Error) => onEvent({ type: 'error', error })),
      config.checkpointIntervalMs,
    );
    log.timer.unref();
    if (config.retention) log.scheduleRetention();
    return log;
  }

  /** The schedule this writer signs by, recorded in each checkpoint for verify. */
  private get schedule(): { every: number; interval_ms: number } {
    return { every: this.config.checkpointEvery, interval_ms: this.config.checkpointIntervalMs };
  }

  /** The last record that is durable: what the next checkpoint would cover. */
  get head(): AppendReceipt {
    return { ...this.durable };
  }

  /** Masks, chains and queues the record; resolves once it is durable (per the configured mode). */
  append(record: DecisionRecord): Promise<void> {
    let masked: Masked<DecisionRecord>;
    try {
      masked = this.mask(record);
    } catch (err) {
      return Promise.reject(new Error('audit record is not plain JSON data', { cause: err }));
    }
    if (typeof masked.value !== 'object' || masked.value === null || Array.isArray(masked.value)) {
      return Promise.reject(new TypeError('audit record must be an object'));
    }
    const extra = { kind: 'decision', masked_paths: masked.maskedPaths };
    return this.appendStored<StoredDecision>(
      masked.value as unknown as Unchained<StoredDecision>,
      masked.sorted,
      extra,
    );
  }

  /** `append`, resolving with the record's seq and hash (for callers that report them, and for tests). */
  appendWithReceipt(record: DecisionRecord): Promise<AppendReceipt> {
    const durable = this.append(record);
    // append chains synchronously, so the head is now this record (if it failed, `durable` rejects).
    const receipt = { seq: this.seq, hash: this.headHash };
    return durable.then(() => receipt);
  }

  /**
   * Chains `body` (left unchanged: the chain fields and `extra` are added as it is serialised) and queues it.
   * `extra` must be the caller's own fresh object: `seq` and `prev_hash` are set on it.
   * `nestedSorted`: the body came from the masker with canonical key order, which enables the fast serialiser.
   * The returned promise is the writer's own: the chain's bookkeeping runs once per batch, in `written`.
   */
  private appendStored<T extends StoredRecord>(
    body: Unchained<T>,
    nestedSorted = false,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit log is closed'));
    const seq = this.seq + 1;
    extra.seq = seq;
    extra.prev_hash = this.headHash;
    const { hash, line } = hashAndSerialise(body as Record<string, unknown>, nestedSorted, extra);
    this.seq = seq;
    this.headHash = hash;
    return this.writer.enqueue(seq, line, hash);
  }

  /** A batch up to `seq` is durable: advance the durable head, and sign a checkpoint when one is due. */
  private written(seq: number, hash: string): void {
    if (seq > this.durable.seq) this.durable = { seq, hash };
    const due = seq - (this.lastCheckpoint?.last_seq ?? 0) >= this.config.checkpointEvery;
    if (!this.checkpointQueued && (due || this.scheduleUnsigned)) {
      this.checkpointQueued = true;
      this.scheduleUnsigned = false;
      this.checkpoint()
        .catch((error: Error) => this.onEvent({ type: 'error', error }))
        .finally(() => {
          this.checkpointQueued = false;
        });
    }
  }

  /** Writes everything queued and waits for it to be durable. */
  async flush(): Promise<void> {
    await this.writer.drain();
  }

  /**
   * Signs a checkpoint over the durable records not yet covered; null when there are none. Checkpoints are
   * serialised, and `signCheckpoint` refuses one that does not follow the previous checkpoint.
   */
  checkpoint(): Promise<Checkpoint | null> {
    const run = this.checkpointing.then(async () => {
      const prev = this.lastCheckpoint;
      const head = this.durable;
      if (head.seq <= (prev?.last_seq ?? 0)) return null;
      const first_seq = prev ? prev.last_seq + 1 : 1;
      const range = { first_seq, last_seq: head.seq, head_hash: head.hash };
      const cp = signCheckpoint(prev, range, this.key, new Date(), this.schedule);
      await appendCheckpoint(this.config.dir, cp);
      this.lastCheckpoint = cp;
      this.anchors?.publish(cp); // queued: an anchor's failure never holds up the log
      this.onEvent({ type: 'checkpoint', checkpoint: cp });
      return cp;
    });
    this.checkpointing = run.catch(() => undefined);
    return run;
  }

  /** Runs retention now (it also runs after every rotation); resolves when done. */
  applyRetention(): Promise<void> {
    this.scheduleRetention();
    return this.retaining ?? Promise.resolve();
  }

  private scheduleRetention(): void {
    const policy = this.config.retention;
    if (!policy || this.retaining || this.closed) return;
    this.retaining = (async () => {
      const all = await listSegments(this.config.dir);
      const current = this.writer.currentSegment.name;
      const cut = await planRetention(
        all.filter((s) => s.firstSeq <= this.writer.currentSegment.firstSeq),
        policy,
      );
      if (!cut || cut.segments.some((s) => s.name === current)) return;
      const segments = cut.segments.map((s) => s.name);
      await this.appendStored<RetentionMarker>({
        kind: 'retention',
        time: new Date().toISOString(),
        instance: this.config.instance,
        deleted: { first_seq: cut.first_seq, last_seq: cut.last_seq, last_hash: cut.last_hash, segments },
        v: RECORD_VERSION,
      });
      await deleteSegments(this.config.dir, cut);
      this.onEvent({ type: 'retention', first_seq: cut.first_seq, last_seq: cut.last_seq, segments });
    })()
      .catch((error: Error) => this.onEvent({ type: 'error', error }))
      .finally(() => {
        this.retaining = null;
      });
  }

  /** Flushes, signs a final checkpoint, and closes the segment. Appends after this reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    await this.retaining;
    this.closed = true;
    await this.writer.drain();
    await this.checkpoint();
    await this.anchors?.close(this.config.anchor?.closeTimeoutMs ?? 5000);
    await this.writer.close();
    await this.lock.release();
  }
}

function sameSchedule(cp: Checkpoint, schedule: { every: number; interval_ms: number }): boolean {
  return cp.schedule?.every === schedule.every && cp.schedule.interval_ms === schedule.interval_ms;
}
