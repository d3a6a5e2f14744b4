/** Streaming read of stored records in chain order, for export and tail. Verification has its own walk. */
import { listSegments, readLines } from './segments.js';
import type { StoredRecord } from './types.js';
import { assertVersion } from './version.js';

export interface ReadRange {
  fromSeq?: number;
  toSeq?: number;
}

/**
 * Yields every complete record with `fromSeq <= seq <= toSeq`, skipping whole segments outside the range.
 * A final line without a newline (a write in progress or a torn write) is not yielded; a line that is not
 * JSON throws with its location, since exporting around damage would hide it, and so does a line of a format
 * version this code does not read (RecordVersionError).
 * @example for await (const rec of readRecords(dir, { fromSeq: 100 })) console.log(rec.seq);
 */
export async function* readRecords(
  dir: string,
  { fromSeq = 1, toSeq = Number.MAX_SAFE_INTEGER }: ReadRange = {},
): AsyncGenerator<StoredRecord> {
  const segments = await listSegments(dir);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    const nextFirst = segments[i + 1]?.firstSeq;
    if (nextFirst !== undefined && nextFirst <= fromSeq) continue;
    if (seg.firstSeq > toSeq) return;
    let n = 0;
    for await (const line of readLines(seg.path)) {
      n++;
      if (!line.terminated) break;
      let rec: StoredRecord;
      try {
        rec = JSON.parse(line.text) as StoredRecord;
      } catch {
        throw new Error(`${seg.name}:${n} is not valid JSON; run \`audit verify\``);
      }
      assertVersion(rec, `${seg.name}:${n}`);
      if (rec.seq < fromSeq) continue;
      if (rec.seq > toSeq) return;
      yield rec;
    }
  }
}
