/** What the PostgreSQL decision log takes, tells its operator, and raises (audit/pg/sink.ts). */
import type { AuditEvent } from '../events.js';
import type { PgRetention } from './retention.js';

export type PgAuditEvent =
  AuditEvent | { type: 'unavailable'; error: Error } | { type: 'recovered'; head: { seq: number; hash: string } };

export interface PgChainLogOptions {
  databaseUrl: string;
  /** This replica's chain id: unique per replica (GATEWAY_INSTANCE). */
  chain: string;
  instance?: string;
  /** Ed25519 PKCS#8 PEM, generated on first start when missing. */
  keyFile: string;
  /** `group` (default), `fsync-per-record` (one transaction per record), `none` (asynchronous commit). */
  durability?: 'group' | 'fsync-per-record' | 'none';
  masks?: string[];
  checkpointEvery?: number;
  checkpointIntervalMs?: number;
  groupMaxRecords?: number;
  retention?: PgRetention;
  /** First delay before reconnecting after a failure; doubles to 5 s. */
  reconnectMs?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  onEvent?: (event: PgAuditEvent) => void;
}

/** Raised to requests while the database is unreachable: the pipeline answers 503 `audit_unavailable`. */
export class AuditUnavailableError extends Error {}
