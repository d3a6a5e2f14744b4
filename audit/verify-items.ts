import { recordHash } from './canonical.js';
import { readLines, type SegmentInfo } from './segments.js';
import type { StoredRecord } from './types.js';
import { assertVersion } from './version.js';

/** One line of a segment as verify reads it: the record (null when unreadable) and whether its hash holds. */
export interface Item {
  rec: StoredRecord | null;
  hashOk: boolean;
  at: string;
  terminated: boolean;
  last: boolean;
}

export async function* segmentItems(segments: SegmentInfo[]): AsyncGenerator<Item> {
  for (let i = 0; i < segments.length; i++) {
    let n = 0;
    for await (const line of readLines(segments[i].path)) {
      n++;
      let rec: StoredRecord | null = null;
      try {
        const v = JSON.parse(line.text) as StoredRecord;
        if (typeof v === 'object' && v !== null && Number.isSafeInteger(v.seq)) rec = v;
      } catch {
        rec = null;
      }
      const hashOk = rec !== null && typeof rec.hash === 'string' && recordHash(rec) === rec.hash;
      // A line that is intact but of another format version cannot be judged: refuse it. A changed line is
      // reported as changed, whatever its `v` now says.
      if (rec && hashOk) assertVersion(rec, `${segments[i].name}:${n}`);
      yield {
        rec,
        hashOk,
        at: `${segments[i].name}:${n}`,
        terminated: line.terminated,
        last: i === segments.length - 1,
      };
    }
  }
}
