/**
 * How many records a log may hold that no checkpoint covers. The writer signs a checkpoint every `every` records
 * or `interval_ms`, whichever comes first, on close, and on the next start after a crash; so an intact log never
 * has more than about one schedule's worth of unsigned records at its tail. More than that means checkpoints were
 * deleted or cut back (to make a rewrite of the records look like an unsigned tail), and verify fails.
 *
 * The writer records its schedule in every checkpoint it signs (`schedule`, covered by the signature), so verify
 * judges the tail by the schedule in force when the last checkpoint was signed; with no checkpoint at all, or one
 * from before schedules were recorded, by the writer's defaults.
 */
import type { Checkpoint, CheckpointSchedule } from './types.js';
import { isSchedule } from './checkpoints.js';

/** The writer's defaults (`checkpointEvery`, `checkpointIntervalMs` in audit/config.ts). */
export const DEFAULT_SCHEDULE: Readonly<CheckpointSchedule> = { every: 1000, interval_ms: 60_000 };

/**
 * What a crash can legitimately leave unsigned under a schedule. Records: `every` that had not yet triggered a
 * checkpoint, plus those that became durable while the triggered one was being signed and written (a few batches
 * of up to 512): `every + max(every, 1024)`. Time, by the records' own `time`: one interval until the timer
 * fires, plus a grace of one more interval and at least a minute for a late timer, a slow disk and small clock
 * adjustments: `interval_ms + max(interval_ms, 60 s)`.
 * @example unsignedTailLimits(DEFAULT_SCHEDULE) // { records: 2024, spanMs: 120_000 }
 */
export function unsignedTailLimits(s: CheckpointSchedule): { records: number; spanMs: number } {
  return { records: s.every + Math.max(s.every, 1024), spanMs: s.interval_ms + Math.max(s.interval_ms, 60_000) };
}

/** The schedule verify judges the tail by: the caller's, else the last checkpoint's, else the defaults. */
export function scheduleFor(
  lastCheckpoint: Checkpoint | null,
  override?: CheckpointSchedule,
): { schedule: CheckpointSchedule; source: string } {
  if (override) return { schedule: override, source: 'the schedule given to verify' };
  if (lastCheckpoint && isSchedule(lastCheckpoint.schedule))
    return { schedule: lastCheckpoint.schedule, source: 'the schedule signed in the last checkpoint' };
  return {
    schedule: DEFAULT_SCHEDULE,
    source: lastCheckpoint ? "the writer's default schedule" : "the writer's default schedule (no checkpoint)",
  };
}

/** The records after the last checkpoint, as the verifier read them. */
export interface UnsignedTail {
  /** The first seq no checkpoint covers. */
  firstSeq: number;
  /** The last seq of the log. */
  lastSeq: number;
  /** The earliest and latest `time` among the tail's records that were read (ms since the epoch), if any. */
  earliest: number | null;
  latest: number | null;
}

/** Tracks the earliest and latest record time of the unsigned tail while the verifier walks the records. */
export class TailClock {
  earliest: number | null = null;
  latest: number | null = null;

  /** Notes a record's `time`; a masked or missing time is skipped. */
  see(time: unknown): void {
    const t = typeof time === 'string' ? Date.parse(time) : NaN;
    if (!Number.isFinite(t)) return;
    if (this.earliest === null || t < this.earliest) this.earliest = t;
    if (this.latest === null || t > this.latest) this.latest = t;
  }
}

/**
 * Why the unsigned tail is more than a crash can leave, or null when it is within the limits.
 * @example unsignedTailProblem({ firstSeq: 1, lastSeq: 4706, earliest, latest }, null) // '4706 records …'
 */
export function unsignedTailProblem(
  tail: UnsignedTail,
  lastCheckpoint: Checkpoint | null,
  override?: CheckpointSchedule,
): string | null {
  const count = tail.lastSeq - tail.firstSeq + 1;
  if (count <= 0) return null;
  const { schedule, source } = scheduleFor(lastCheckpoint, override);
  const limits = unsignedTailLimits(schedule);
  const where = lastCheckpoint
    ? `after the last checkpoint (seq ${lastCheckpoint.last_seq})`
    : 'and there is no checkpoint at all';
  const rule = `every ${schedule.every} records or ${schedule.interval_ms} ms, by ${source}`;
  if (count > limits.records)
    return `${count} records (seqs ${tail.firstSeq}..${tail.lastSeq}) are not covered by a signed checkpoint ${where}; a crash leaves at most ${limits.records} (checkpoints ${rule}): checkpoints were deleted or cut back`;
  if (tail.earliest !== null && tail.latest !== null && tail.latest - tail.earliest > limits.spanMs) {
    const span = Math.round((tail.latest - tail.earliest) / 1000);
    return `the records after seq ${tail.firstSeq - 1} span ${span} s of record time with no signed checkpoint ${where}; a crash leaves at most ${limits.spanMs / 1000} s (checkpoints ${rule}): checkpoints were deleted or cut back`;
  }
  return null;
}
