/**
 * Signed checkpoints, one JSON line each in `checkpoints.ndjson`. Each covers the records after the previous
 * checkpoint up to `last_seq`, names the hash at `last_seq`, and chains to the previous checkpoint by hash, like
 * CloudTrail digest files and RFC 6962 signed tree heads.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, GENESIS_HASH, sha256Hex } from './canonical.js';
import { CHECKPOINTS_FILE, readLines, syncDir } from './segments.js';
import { RECORD_VERSION, type Checkpoint, type CheckpointSchedule } from './types.js';
import { assertVersion } from './version.js';
import type { SigningKey } from './keys.js';

export type CheckpointBody = Omit<Checkpoint, 'signature'>;

/** The hash the next checkpoint's `prev_checkpoint_hash` must carry. */
export function checkpointHash(cp: Checkpoint): string {
  return sha256Hex(canonicalJson(cp));
}

function signedBytes(cp: CheckpointBody): Buffer {
  const { first_seq, last_seq, head_hash, prev_checkpoint_hash, time, key_fingerprint, v, schedule } = cp;
  const body = { first_seq, last_seq, head_hash, prev_checkpoint_hash, time, key_fingerprint, v };
  // `schedule` is signed when present; checkpoints from before it was recorded verify without it.
  return Buffer.from(canonicalJson(schedule === undefined ? body : { ...body, schedule }));
}

/**
 * Ed25519 signature check; false (never a throw) for a malformed signature.
 * @example if (!verifyCheckpointSignature(cp, publicKey)) report('checkpoint-forged');
 */
export function verifyCheckpointSignature(cp: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(cp), publicKey, Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Why `next` cannot follow `prev`, or null when it can. The writer checks this before signing; the verifier
 * checks it again for every pair in the file.
 */
export function checkpointInconsistency(prev: Checkpoint | null, next: CheckpointBody): string | null {
  if (!Number.isSafeInteger(next.first_seq) || !Number.isSafeInteger(next.last_seq))
    return 'seq bounds are not integers';
  if (next.last_seq < next.first_seq) return `last_seq ${next.last_seq} < first_seq ${next.first_seq}`;
  if (!/^[0-9a-f]{64}$/.test(next.head_hash)) return 'head_hash is not a sha256 hex digest';
  if (prev === null) {
    if (next.prev_checkpoint_hash !== GENESIS_HASH) return 'first checkpoint does not start from the genesis hash';
    return null;
  }
  if (next.first_seq !== prev.last_seq + 1)
    return `first_seq ${next.first_seq} does not follow previous last_seq ${prev.last_seq}`;
  if (next.prev_checkpoint_hash !== checkpointHash(prev))
    return 'prev_checkpoint_hash does not match the previous checkpoint';
  if (Date.parse(next.time) < Date.parse(prev.time))
    return `time ${next.time} is before the previous checkpoint (${prev.time})`;
  return null;
}

/**
 * Builds and signs the checkpoint after `prev`; throws rather than sign anything inconsistent.
 * @example const cp = signCheckpoint(last, { first_seq: last.last_seq + 1, last_seq: 2000, head_hash }, key);
 */
export function signCheckpoint(
  prev: Checkpoint | null,
  range: { first_seq: number; last_seq: number; head_hash: string },
  key: SigningKey,
  now: Date = new Date(),
  schedule?: CheckpointSchedule,
): Checkpoint {
  const time = prev && Date.parse(prev.time) > now.getTime() ? prev.time : now.toISOString();
  const body: CheckpointBody = {
    ...range,
    prev_checkpoint_hash: prev ? checkpointHash(prev) : GENESIS_HASH,
    time,
    key_fingerprint: key.fingerprint,
    v: RECORD_VERSION,
    ...(schedule ? { schedule: { every: schedule.every, interval_ms: schedule.interval_ms } } : {}),
  };
  const problem = checkpointInconsistency(prev, body);
  if (problem) throw new Error(`refusing to sign an inconsistent checkpoint: ${problem}`);
  return { ...body, signature: sign(null, signedBytes(body), key.privateKey).toString('base64') };
}

export interface CheckpointFile {
  checkpoints: Checkpoint[];
  /** Lines that are not checkpoints, with their 1-based line number. */
  bad: Array<{ line: number; reason: string }>;
  /** Set when the last line has no newline: a torn write. */
  tornAt?: { offset: number; bytes: number };
}

/** True for `{every, interval_ms}` with two positive integers, as the writer records them. */
export function isSchedule(v: unknown): v is CheckpointSchedule {
  if (typeof v !== 'object' || v === null) return false;
  const { every, interval_ms } = v as Partial<CheckpointSchedule>;
  const positive = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
  return positive(every) && positive(interval_ms);
}

/** Parses one line of `checkpoints.ndjson` (or of an anchor); the reason when it is not a checkpoint. */
export function parseCheckpoint(text: string): Checkpoint | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const c = v as Partial<Checkpoint>;
  if (typeof v !== 'object' || v === null) return 'not an object';
  for (const k of ['first_seq', 'last_seq'] as const) if (typeof c[k] !== 'number') return `${k} missing`;
  for (const k of ['head_hash', 'prev_checkpoint_hash', 'time', 'key_fingerprint', 'signature'] as const) {
    if (typeof c[k] !== 'string') return `${k} missing`;
  }
  if (c.schedule !== undefined && !isSchedule(c.schedule)) return 'schedule is not {every, interval_ms}';
  return c as Checkpoint;
}

/**
 * Reads every checkpoint in a log directory (none when the file does not exist). Throws RecordVersionError for
 * a checkpoint of a format version this code does not read.
 */
export async function readCheckpoints(dir: string): Promise<CheckpointFile> {
  const path = join(dir, CHECKPOINTS_FILE);
  const out: CheckpointFile = { checkpoints: [], bad: [] };
  try {
    await stat(path);
  } catch {
    return out;
  }
  let n = 0;
  for await (const line of readLines(path)) {
    n++;
    if (!line.terminated) {
      out.tornAt = { offset: line.offset, bytes: Buffer.byteLength(line.text) };
      break;
    }
    const cp = parseCheckpoint(line.text);
    if (typeof cp === 'string') out.bad.push({ line: n, reason: cp });
    else {
      assertVersion(cp, `${CHECKPOINTS_FILE}:${n}`);
      out.checkpoints.push(cp);
    }
  }
  return out;
}

/** Drops a torn final checkpoint line left by a crash. */
export async function truncateCheckpoints(dir: string, offset: number): Promise<void> {
  await truncate(join(dir, CHECKPOINTS_FILE), offset);
}

/**
 * Appends one checkpoint and fsyncs it. On a failed write the file is cut back to its previous length, so a
 * retry does not land after a torn line.
 */
export async function appendCheckpoint(dir: string, cp: Checkpoint): Promise<void> {
  const fh = await open(join(dir, CHECKPOINTS_FILE), 'a', 0o644);
  const before = (await fh.stat()).size;
  try {
    await fh.write(`${canonicalJson(cp)}\n`);
    await fh.datasync();
  } catch (err) {
    await fh.truncate(before).catch(() => undefined);
    throw err;
  } finally {
    await fh.close();
  }
  if (before === 0) await syncDir(dir);
}
