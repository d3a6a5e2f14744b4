/** `audit tail`: the last records, then (with follow) new ones as they are written, by polling. */
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { listSegments, readLines, type SegmentInfo } from './segments.js';
import type { StoredRecord } from './types.js';
import { assertVersion } from './version.js';

/** One line of a segment as a record, refused (RecordVersionError) when of a format version not read here. */
function parse(text: string, seg: SegmentInfo, line: number): StoredRecord {
  const rec = JSON.parse(text) as StoredRecord;
  assertVersion(rec, `${seg.name}:${line}`);
  return rec;
}

export interface TailOptions {
  /** How many existing records to start with. */
  lines?: number;
  follow?: boolean;
  pollMs?: number;
  signal?: AbortSignal;
}

/**
 * Yields the last `lines` records, then keeps yielding new complete lines while `follow` is on.
 * @example for await (const rec of tailLog(dir, { follow: true, signal })) console.log(rec.seq, rec.kind);
 */
export async function* tailLog(
  dir: string,
  { lines = 10, follow = false, pollMs = 500, signal }: TailOptions = {},
): AsyncGenerator<StoredRecord> {
  let segments = await listSegments(dir);
  const ring: StoredRecord[] = [];
  let current: SegmentInfo | undefined = segments.at(-1);
  let offset = 0;
  /** Complete lines of `current` read so far, for the location in a refusal. */
  let n = 0;
  for (const seg of segments.slice(-2)) {
    offset = 0;
    n = 0;
    for await (const line of readLines(seg.path)) {
      if (!line.terminated) break;
      offset = line.offset + Buffer.byteLength(line.text) + 1;
      n++;
      if (lines > 0) {
        ring.push(parse(line.text, seg, n));
        if (ring.length > lines) ring.shift();
      }
    }
  }
  yield* ring;
  while (follow && !signal?.aborted) {
    if (current) {
      const size = await stat(current.path).then(
        (s) => s.size,
        () => 0,
      );
      if (size > offset) {
        for await (const line of readLines(current.path, offset)) {
          if (!line.terminated) break;
          offset = line.offset + Buffer.byteLength(line.text) + 1;
          yield parse(line.text, current, ++n);
        }
        continue;
      }
    }
    segments = await listSegments(dir);
    const newer = segments.find((s) => !current || s.firstSeq > current.firstSeq);
    if (newer) {
      // The old segment is final once a newer one exists, but it may have grown since the size check above.
      if (current) {
        for await (const line of readLines(current.path, offset)) {
          if (line.terminated) yield parse(line.text, current, ++n);
        }
      }
      current = newer;
      offset = 0;
      n = 0;
      continue;
    }
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      return;
    }
  }
}
