/**
 * The PostgreSQL decision log: the same `AuditSink` contract, record format, hash chain and signed checkpoints
 * as the file log (audit/chain-log.ts), one chain per replica in shared tables.
 *
 * Group commit: records queue in chain order; one flush sends the whole queue as one multi-row INSERT, which
 * PostgreSQL commits as one transaction (one WAL flush), and settles every promise in it. While it is in flight
 * the next batch accumulates. A failed batch fails every record queued behind it (they are chained onto it), the
 * session is dropped, and appends answer "unavailable" at once until a new session has taken the chain's lock and
 * re-read the head from the database; then the chain continues from what was actually committed. The queue is
 * audit/pg/batcher.ts; the session, audit/pg/connection.ts.
 */
import type pg from 'pg';
import { canonicalJson, GENESIS_HASH, hashAndSerialise } from '../canonical.js';
import { signCheckpoint } from '../checkpoints.js';
import { printEvent } from '../events.js';
import { loadOrCreateSigningKey, type SigningKey } from '../keys.js';
import { createMasker } from '../mask.js';
import { RECORD_VERSION, type AuditSink, type Checkpoint, type DecisionRecord, type StoredRecord } from '../types.js';
import { ChainHeldError, connectChain } from './connection.js';
import { AuditUnavailableError, type PgAuditEvent, type PgChainLogOptions } from './options.js';
import { planRetention } from './retention.js';
import { RowBatcher } from './batcher.js';
import { INSERT_ROWS, rowOf } from './rows.js';
import { scrubDatabaseUrl } from './url.js';

export { AuditUnavailableError, type PgAuditEvent, type PgChainLogOptions } from './options.js';

/**
 * @example
 * const log = await PgChainLog.open({ databaseUrl, chain: 'gw-1', keyFile: '/etc/gateway/audit-key.pem' });
 * await log.append(record); // committed when it resolves
 */
export class PgChainLog implements AuditSink {
  private client: pg.Client | null = null;
  private seq = 0;
  private headHash = GENESIS_HASH;
  private durable = { seq: 0, hash: GENESIS_HASH };
  private lastCheckpoint: Checkpoint | null = null;
  private readonly batcher: RowBatcher;
  private checkpointing: Promise<unknown> = Promise.resolve();
  private checkpointQueued = false;
  /** The last checkpoint records another schedule than this writer's: sign one after the first write. */
  private scheduleUnsigned = false;
  private reconnecting: NodeJS.Timeout | null = null;
  private connecting: Promise<void> | null = null;
  private retryMs: number;
  private lastError: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly mask: ReturnType<typeof createMasker>;
  private readonly opts: Required<Omit<PgChainLogOptions, 'retention' | 'masks'>> &
    Pick<PgChainLogOptions, 'retention'>;

  private constructor(
    options: PgChainLogOptions,
    private readonly key: SigningKey,
  ) {
    this.opts = {
      instance: options.chain,
      durability: 'group',
      checkpointEvery: 1000,
      checkpointIntervalMs: 60_000,
      groupMaxRecords: 512,
      reconnectMs: 250,
      connectTimeoutMs: 5000,
      queryTimeoutMs: 10_000,
      onEvent: printEvent as (e: PgAuditEvent) => void,
      ...options,
    };
    this.retryMs = this.opts.reconnectMs;
    this.mask = createMasker(options.masks ?? []);
    this.batcher = new RowBatcher({
      perRecord: this.opts.durability === 'fsync-per-record',
      maxRows: this.opts.groupMaxRecords,
      // One statement in autocommit: one transaction, one commit (one WAL flush) for the whole batch.
      canWrite: () => this.client !== null,
      write: async (rows) => void (await this.client?.query(INSERT_ROWS, [JSON.stringify(rows)])),
      onWritten: (last) => this.written(last.seq, last.hash),
      // Committed or not (a lost connection leaves it unknown), the rows queued behind the batch are chained onto
      // it: they fail too, and the chain continues only from what the database holds after reconnecting.
      onFailed: (err) => this.down(err),
      wrap: (err) => new AuditUnavailableError('audit database write failed', { cause: err }),
    });
  }

  /**
   * Loads the key, connects, migrates and takes the chain. Throws when another live replica holds the chain; an
   * unreachable database does not stop the start: appends fail (503) and readiness says so until it answers.
   */
  static async open(options: PgChainLogOptions): Promise<PgChainLog> {
    const key = await loadOrCreateSigningKey(options.keyFile);
    const log = new PgChainLog(options, key);
    if (key.generated)
      log.opts.onEvent({
        type: 'key-generated',
        fingerprint: key.fingerprint,
        publicKeyFile: key.publicKeyFile,
        publicPem: key.publicPem,
      });
    try {
      await log.connect();
    } catch (err) {
      if (err instanceof ChainHeldError) throw err;
      log.down(err as Error);
    }
    log.timer = setInterval(() => log.onTimer(), log.opts.checkpointIntervalMs);
    log.timer.unref();
    return log;
  }

  /** Whether records can be committed now, and why not: the gateway's readiness reports it. */
  status(): { ready: boolean; detail: string } {
    if (this.client) return { ready: true, detail: `postgres ${scrubDatabaseUrl(this.opts.databaseUrl)}` };
    return { ready: false, detail: `unavailable: ${this.lastError?.message ?? 'connecting'}` };
  }

  /** The last committed record. */
  get head(): { seq: number; hash: string } {
    return { ...this.durable };
  }

  get chain(): string {
    return this.opts.chain;
  }

  append(record: DecisionRecord): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit log is closed'));
    if (!this.client) {
      this.scheduleReconnect();
      return Promise.reject(
        new AuditUnavailableError(`audit database unavailable: ${this.lastError?.message ?? 'connecting'}`),
      );
    }
    let masked;
    try {
      masked = this.mask(record);
    } catch (err) {
      return Promise.reject(new Error('audit record is not plain JSON data', { cause: err }));
    }
    if (typeof masked.value !== 'object' || masked.value === null || Array.isArray(masked.value))
      return Promise.reject(new TypeError('audit record must be an object'));
    return this.appendStored(masked.value as unknown as Record<string, unknown>, masked.sorted, {
      kind: 'decision',
      masked_paths: masked.maskedPaths,
    });
  }

  /** Chains `body` synchronously (call order is chain order) and queues its row. */
  private appendStored(body: Record<string, unknown>, sorted: boolean, extra: Record<string, unknown>): Promise<void> {
    const seq = this.seq + 1;
    extra.seq = seq;
    extra.prev_hash = this.headHash;
    extra.chain = this.opts.chain;
    const { hash, line } = hashAndSerialise(body, sorted, extra);
    const row = rowOf({ ...body, ...extra, hash } as unknown as StoredRecord, line);
    this.seq = seq;
    this.headHash = hash;
    return this.batcher.enqueue(row);
  }

  private written(seq: number, hash: string): void {
    if (seq > this.durable.seq) this.durable = { seq, hash };
    const due = seq - (this.lastCheckpoint?.last_seq ?? 0) >= this.opts.checkpointEvery;
    if ((due || this.scheduleUnsigned) && !this.checkpointQueued) {
      this.checkpointQueued = true;
      this.scheduleUnsigned = false;
      this.checkpoint()
        .catch((error: Error) => this.opts.onEvent({ type: 'error', error }))
        .finally(() => (this.checkpointQueued = false));
    }
  }

  /** Signs a checkpoint over the committed records not yet covered and stores it; null when there are none. */
  checkpoint(): Promise<Checkpoint | null> {
    const run = this.checkpointing.then(async () => {
      const client = this.client;
      const prev = this.lastCheckpoint;
      const head = this.durable;
      if (!client || head.seq <= (prev?.last_seq ?? 0)) return null;
      const range = { first_seq: prev ? prev.last_seq + 1 : 1, last_seq: head.seq, head_hash: head.hash };
      const schedule = { every: this.opts.checkpointEvery, interval_ms: this.opts.checkpointIntervalMs };
      const cp = signCheckpoint(prev, range, this.key, new Date(), schedule);
      await client.query('INSERT INTO audit_checkpoints (chain, first_seq, last_seq, line) VALUES ($1, $2, $3, $4)', [
        this.opts.chain,
        cp.first_seq,
        cp.last_seq,
        canonicalJson(cp),
      ]);
      this.lastCheckpoint = cp;
      this.opts.onEvent({ type: 'checkpoint', checkpoint: cp });
      return cp;
    });
    this.checkpointing = run.catch(() => undefined);
    return run;
  }

  /** Resolves when everything queued so far has been committed (or failed). */
  flush(): Promise<void> {
    return this.batcher.drain();
  }

  private onTimer(): void {
    if (!this.client) return this.scheduleReconnect();
    void this.checkpoint()
      .then(() => this.applyRetention())
      .catch((error: Error) => this.opts.onEvent({ type: 'error', error }));
  }

  /** Deletes the oldest whole checkpoint ranges past the retention policy, after a marker naming them. */
  async applyRetention(): Promise<void> {
    const client = this.client;
    if (!this.opts.retention || !client) return;
    const cut = await planRetention(client, this.opts.chain, this.opts.retention);
    if (!cut) return;
    await this.appendStored(
      { kind: 'retention', time: new Date().toISOString(), instance: this.opts.instance, v: RECORD_VERSION },
      false,
      { deleted: { ...cut, segments: [] } },
    );
    await client.query('DELETE FROM audit_records WHERE chain = $1 AND seq BETWEEN $2 AND $3', [
      this.opts.chain,
      cut.first_seq,
      cut.last_seq,
    ]);
    this.opts.onEvent({ type: 'retention', first_seq: cut.first_seq, last_seq: cut.last_seq, segments: [] });
  }

  private async connect(): Promise<void> {
    // A batch still in flight on the lost session must settle first: the queue would otherwise fail rows of the
    // new session along with it (with no session it only waits for the batch in flight, or returns).
    await this.batcher.drain();
    const state = await connectChain({
      databaseUrl: this.opts.databaseUrl,
      chain: this.opts.chain,
      instance: this.opts.instance,
      key: this.key,
      asyncCommit: this.opts.durability === 'none',
      connectTimeoutMs: this.opts.connectTimeoutMs,
      queryTimeoutMs: this.opts.queryTimeoutMs,
      onLost: (err, client) => {
        if (this.client === client) this.down(err);
      },
    });
    if (this.closed) {
      await state.client.end().catch(() => undefined);
      return;
    }
    this.seq = state.head.seq;
    this.headHash = state.head.hash;
    this.durable = { ...state.head };
    this.lastCheckpoint = state.lastCheckpoint;
    this.client = state.client;
    this.retryMs = this.opts.reconnectMs;
    // Sign what a crash or an outage left unsigned before this session's records follow it (as the file log does).
    if (this.durable.seq > (this.lastCheckpoint?.last_seq ?? 0)) await this.checkpoint();
    else {
      // Started with another schedule than the last checkpoint records: sign after the first write, so that
      // verify judges the new tail by the new settings.
      const s = this.lastCheckpoint?.schedule;
      this.scheduleUnsigned =
        this.lastCheckpoint !== null &&
        (s?.every !== this.opts.checkpointEvery || s.interval_ms !== this.opts.checkpointIntervalMs);
    }
  }

  /** Drops the session: appends fail fast until `connect` succeeds again (retried with backoff). */
  private down(err: Error): void {
    const client = this.client;
    this.client = null;
    this.lastError = err;
    client?.end().catch(() => undefined);
    // Anything still queued was chained onto records that may not be committed.
    this.batcher.failAll(new AuditUnavailableError('audit database unavailable'));
    if (client || !this.reconnecting) this.opts.onEvent({ type: 'unavailable', error: err });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.client || this.reconnecting || this.connecting) return;
    this.reconnecting = setTimeout(() => {
      this.reconnecting = null;
      this.connecting = this.connect()
        .then(() => {
          if (this.client) this.opts.onEvent({ type: 'recovered', head: this.head });
        })
        .catch((err: Error) => {
          this.lastError = err;
          this.retryMs = Math.min(this.retryMs * 2, 5000);
        })
        .finally(() => {
          this.connecting = null;
          this.scheduleReconnect();
        });
    }, this.retryMs);
    this.reconnecting.unref();
  }

  /** Commits what is queued, signs a final checkpoint, and ends the session (releasing the chain's lock). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    this.batcher.failAll(new AuditUnavailableError('audit log closed before the database took these records'));
    await this.checkpoint().catch((error: Error) => this.opts.onEvent({ type: 'error', error }));
    this.closed = true;
    if (this.reconnecting) clearTimeout(this.reconnecting);
    await this.connecting;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
