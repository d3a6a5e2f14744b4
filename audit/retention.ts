/**
 * Retention deletes whole segments only, oldest first, never the one being written. Before deleting, it appends
 * a `retention` marker to the chain naming the deleted seq range and the hash of the last deleted record, so a
 * verifier can check that the first surviving record links to exactly what was removed.
 */
import { stat, unlink } from 'node:fs/promises';
import { readLastLine, parseStored } from './recovery.js';
import { syncDir, type SegmentInfo } from './segments.js';

export interface RetentionPolicy {
  /** Keep at most this many segments, the current one included. */
  maxSegments?: number;
  /** Delete segments whose last write is older than this. */
  maxAgeMs?: number;
  /** Keep the total size of segments under this many bytes. */
  maxBytes?: number;
}

export interface RetentionCut {
  segments: SegmentInfo[];
  first_seq: number;
  last_seq: number;
  last_hash: string;
}

/** Chooses the oldest segments to delete (a prefix, never the last) and reads where the cut ends. */
export async function planRetention(
  all: SegmentInfo[],
  policy: RetentionPolicy,
  now = Date.now(),
): Promise<RetentionCut | null> {
  if (all.length < 2) return null;
  const stats = await Promise.all(all.map((s) => stat(s.path)));
  let total = stats.reduce((n, s) => n + s.size, 0);
  let count = all.length;
  let cut = 0;
  while (cut < all.length - 1) {
    const over =
      (policy.maxSegments !== undefined && count > policy.maxSegments) ||
      (policy.maxBytes !== undefined && total > policy.maxBytes) ||
      (policy.maxAgeMs !== undefined && now - stats[cut].mtimeMs > policy.maxAgeMs);
    if (!over) break;
    total -= stats[cut].size;
    count--;
    cut++;
  }
  if (cut === 0) return null;
  const victims = all.slice(0, cut);
  const lastVictim = victims[victims.length - 1];
  const line = await readLastLine(lastVictim.path);
  const rec = line === null ? 'empty' : parseStored(line);
  if (typeof rec === 'string') throw new Error(`retention: cannot read the last record of ${lastVictim.name} (${rec})`);
  if (rec.seq !== all[cut].firstSeq - 1)
    throw new Error(
      `retention: ${lastVictim.name} ends at seq ${rec.seq}, next segment starts at ${all[cut].firstSeq}`,
    );
  return { segments: victims, first_seq: victims[0].firstSeq, last_seq: rec.seq, last_hash: rec.hash };
}

/** Deletes the planned segments; call only after the marker describing them is durable. */
export async function deleteSegments(dir: string, cut: RetentionCut): Promise<void> {
  for (const s of cut.segments) await unlink(s.path);
  await syncDir(dir);
}
