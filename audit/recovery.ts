/**
 * Startup: find the head of the chain, repair a torn final line, and make sure the last signed checkpoint
 * agrees with what is on disk before anything new is written or signed.
 */
import { open, truncate } from 'node:fs/promises';
import { GENESIS_HASH, recordHash } from './canonical.js';
import { checkpointHash, readCheckpoints, truncateCheckpoints } from './checkpoints.js';
import { listSegments, readLines, type SegmentInfo } from './segments.js';
import type { Checkpoint, StoredRecord } from './types.js';
import { versionProblem } from './version.js';

export interface TornLineRepair {
  segment: string;
  /** Byte offset the segment was truncated to. */
  truncated_at: number;
  truncated_bytes: number;
}

export interface RecoveredState {
  /** seq and hash of the last good record; seq 0 and the genesis hash for an empty log. */
  head: { seq: number; hash: string };
  /** The segment to keep appending to (null: start a new one). */
  current: SegmentInfo | null;
  lastCheckpoint: Checkpoint | null;
  /** Set when a torn final record line was truncated. */
  repair: TornLineRepair | null;
  /** Set when a torn final checkpoint line was truncated. */
  checkpointRepair: { truncated_at: number; truncated_bytes: number } | null;
}

/** Thrown when the tail is damaged in a way a crash cannot explain; the operator should run `audit verify`. */
export class AuditTailError extends Error {
  override readonly name = 'AuditTailError';
}

/**
 * Parses one stored line and checks its own hash and format version; returns the reason when it is not a valid
 * record (the gateway then refuses to start rather than chain new records after it).
 */
export function parseStored(text: string): StoredRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const r = v as Partial<StoredRecord>;
  if (!Number.isSafeInteger(r.seq) || typeof r.prev_hash !== 'string' || typeof r.hash !== 'string') {
    return 'seq, prev_hash or hash missing';
  }
  if (recordHash(r) !== r.hash) return 'hash does not match the record content';
  return versionProblem(r.v) ?? (r as StoredRecord);
}

/** The last complete line of a file, read backwards in 64 KiB steps. */
export async function readLastLine(path: string): Promise<string | null> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let end = size;
    let tail = Buffer.alloc(0);
    // Skip a final unterminated fragment: it is not a complete line.
    while (end > 0) {
      const start = Math.max(0, end - 65536);
      const buf = Buffer.alloc(end - start);
      await fh.read(buf, 0, buf.length, start);
      tail = Buffer.concat([buf, tail]);
      end = start;
      const lastNl = tail.lastIndexOf(0x0a);
      if (lastNl < 0) continue;
      const prevNl = tail.lastIndexOf(0x0a, lastNl - 1);
      if (prevNl >= 0 || end === 0) return tail.subarray(prevNl + 1, lastNl).toString('utf8');
    }
    return null;
  } finally {
    await fh.close();
  }
}

async function hashAt(segments: SegmentInfo[], seq: number): Promise<string | null> {
  const seg = [...segments].reverse().find((s) => s.firstSeq <= seq);
  if (!seg) return null;
  for await (const line of readLines(seg.path)) {
    const r = parseStored(line.text);
    if (typeof r !== 'string' && r.seq === seq) return r.hash;
  }
  return null;
}

/**
 * Verifies the last segment record by record, truncates a torn final line, links it to the previous segment,
 * and checks the last checkpoint against the records. Throws `AuditTailError` for anything else.
 * @example const { head, repair } = await recoverTail(dir); // repair: null, or what was truncated
 */
export async function recoverTail(dir: string): Promise<RecoveredState> {
  const segments = await listSegments(dir);
  const state: RecoveredState = {
    head: { seq: 0, hash: GENESIS_HASH },
    current: null,
    lastCheckpoint: null,
    repair: null,
    checkpointRepair: null,
  };
  const last = segments.at(-1);
  if (last) {
    state.current = last;
    let expectSeq = last.firstSeq;
    let expectPrev: string | null = null;
    const before = segments.at(-2);
    if (before) {
      const line = await readLastLine(before.path);
      const r = line === null ? 'empty segment' : parseStored(line);
      if (typeof r === 'string') throw new AuditTailError(`${before.name}: last record unreadable (${r})`);
      if (r.seq !== last.firstSeq - 1)
        throw new AuditTailError(`${before.name} ends at seq ${r.seq} but ${last.name} starts at ${last.firstSeq}`);
      state.head = { seq: r.seq, hash: r.hash };
      expectPrev = r.hash;
    } else if (last.firstSeq === 1) {
      expectPrev = GENESIS_HASH;
    } // else: the log starts after a retention cut; the first record's prev_hash is checked by verify
    for await (const line of readLines(last.path)) {
      if (!line.terminated) {
        await truncate(last.path, line.offset);
        state.repair = { segment: last.name, truncated_at: line.offset, truncated_bytes: Buffer.byteLength(line.text) };
        break;
      }
      const r = parseStored(line.text);
      if (typeof r === 'string') throw new AuditTailError(`${last.name} at byte ${line.offset}: ${r}`);
      if (r.seq !== expectSeq)
        throw new AuditTailError(`${last.name} at byte ${line.offset}: seq ${r.seq}, expected ${expectSeq}`);
      if (expectPrev !== null && r.prev_hash !== expectPrev)
        throw new AuditTailError(`seq ${r.seq}: prev_hash does not link to seq ${r.seq - 1}`);
      state.head = { seq: r.seq, hash: r.hash };
      expectSeq = r.seq + 1;
      expectPrev = r.hash;
    }
    if (state.repair) {
      const fh = await open(last.path, 'r+');
      await fh.sync().finally(() => fh.close());
    }
    if (state.head.seq === 0 && last.firstSeq !== 1) {
      throw new AuditTailError(`${last.name} is empty and no earlier segment says where the chain stands`);
    }
  }

  const file = await readCheckpoints(dir);
  if (file.tornAt) {
    await truncateCheckpoints(dir, file.tornAt.offset);
    state.checkpointRepair = { truncated_at: file.tornAt.offset, truncated_bytes: file.tornAt.bytes };
  }
  if (file.bad.length) throw new AuditTailError(`checkpoints file line ${file.bad[0].line}: ${file.bad[0].reason}`);
  const cps = file.checkpoints;
  for (let i = 1; i < cps.length; i++) {
    if (cps[i].prev_checkpoint_hash !== checkpointHash(cps[i - 1]))
      throw new AuditTailError(`checkpoint ${i + 1} does not chain to the one before it`);
  }
  const lastCp = cps.at(-1) ?? null;
  if (lastCp) {
    if (lastCp.last_seq > state.head.seq) {
      throw new AuditTailError(
        `last checkpoint covers seq ${lastCp.last_seq} but the log ends at ${state.head.seq}: signed records are missing`,
      );
    }
    const h = lastCp.last_seq === state.head.seq ? state.head.hash : await hashAt(segments, lastCp.last_seq);
    if (h !== null && h !== lastCp.head_hash)
      throw new AuditTailError(`record ${lastCp.last_seq} does not match the last signed checkpoint`);
  }
  state.lastCheckpoint = lastCp;
  return state;
}
