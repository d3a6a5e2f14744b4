/** What `audit verify` reports and takes: its reasons, problems, report and options (audit/verify.ts). */
import type { KeyObject } from 'node:crypto';
import type { AnchorReader } from './anchor-check.js';
import type { CheckpointSchedule } from './types.js';
import type { CheckpointFileCheck } from './verify-checkpoints.js';
import type { Item } from './verify-items.js';

/**
 * Where verify reads a chain from when it is not a log directory (a database table, audit/pg/verify.ts): its
 * checkpoints, checked, and its records in seq order from `max(1, from - 1)`.
 */
export interface VerifySource {
  checkpoints(fingerprints: Map<string, KeyObject>, unreadableSeq: number): Promise<CheckpointFileCheck>;
  /** `fromStart`: the items begin with the chain's first stored record (a later start needs a retention marker). */
  records(from: number): Promise<{ items: AsyncGenerator<Item>; fromStart: boolean }>;
}

export const VERIFY_REASONS = [
  'record-changed',
  'record-missing',
  'record-reordered',
  'record-inserted',
  'checkpoint-forged',
  // More records after the last checkpoint than a crash can leave unsigned (audit/coverage.ts).
  'records-unsigned',
  // An anchored checkpoint is not in the checkpoints file, or another one stands in its place.
  'checkpoint-missing',
  'checkpoint-diverged',
] as const;
export type VerifyReason = (typeof VERIFY_REASONS)[number];

export interface VerifyProblem {
  /** The first seq this problem makes untrustworthy. */
  seq: number;
  reason: VerifyReason;
  detail: string;
  /** Where it was found: `segment-….ndjson:line`, or `checkpoints.ndjson:line`. */
  at?: string;
}

export interface VerifyReport {
  ok: boolean;
  records: number;
  first_seq: number | null;
  last_seq: number | null;
  head_hash: string | null;
  checkpoints: { total: number; last_covered_seq: number | null };
  first_bad: VerifyProblem | null;
  problems: VerifyProblem[];
  warnings: string[];
  /** Set when verified against an anchor: how many checkpoints it holds and the last seq they cover. */
  anchor?: { source: string; checkpoints: number; last_anchored_seq: number | null };
}

export interface VerifyOptions {
  /** The log directory; ignored when `source` is given. */
  dir: string;
  /** Read the chain from here instead of `dir`. */
  source?: VerifySource;
  /** Keys whose signatures are accepted (old and current keys after a rotation). */
  publicKeys: KeyObject[];
  from?: number;
  to?: number;
  /** Stop collecting after this many problems (the first one is always kept). */
  maxProblems?: number;
  /** Judge the unsigned tail by this schedule instead of the one signed in the last checkpoint. */
  schedule?: CheckpointSchedule;
  /** Checkpoints anchored outside the directory (audit/anchor.ts): the log must hold every one of them. */
  anchor?: AnchorReader;
}
