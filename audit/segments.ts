/**
 * The on-disk layout: `segment-<first seq, 16 digits>.ndjson` files, one canonical JSON record per line, plus
 * `checkpoints.ndjson` beside them. Naming by first seq keeps lexical and chain order the same and lets a
 * reader skip whole segments outside a seq range.
 */
import { createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINTS_FILE = 'checkpoints.ndjson';
const SEGMENT = /^segment-(\d{16})\.ndjson$/;

export interface SegmentInfo {
  name: string;
  path: string;
  firstSeq: number;
}

/** @example segmentName(1) // 'segment-0000000000000001.ndjson' */
export function segmentName(firstSeq: number): string {
  return `segment-${String(firstSeq).padStart(16, '0')}.ndjson`;
}

/**
 * Segments in chain order. A missing directory reads as an empty log.
 * @example for (const s of await listSegments(dir)) console.log(s.name, s.firstSeq);
 */
export async function listSegments(dir: string): Promise<SegmentInfo[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentInfo[] = [];
  for (const name of names) {
    const m = SEGMENT.exec(name);
    if (m) out.push({ name, path: join(dir, name), firstSeq: Number(m[1]) });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

export interface Line {
  text: string;
  /** Byte offset of the line's first byte in the file. */
  offset: number;
  /** False only for a final line with no trailing newline: a torn write, or one still in progress. */
  terminated: boolean;
}

/**
 * Streams the lines of a file with their byte offsets; memory stays at one chunk plus one line.
 * @example for await (const { text, terminated } of readLines(path)) if (terminated) JSON.parse(text);
 */
export async function* readLines(path: string, start = 0): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let offset = start;
  for await (const chunk of createReadStream(path, { start, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    let nl = chunk.indexOf(0x0a, from);
    while (nl >= 0) {
      const piece = chunk.subarray(from, nl);
      const buf = pendingLen ? Buffer.concat([...pending, piece]) : piece;
      yield { text: buf.toString('utf8'), offset, terminated: true };
      offset += buf.length + 1;
      pending = [];
      pendingLen = 0;
      from = nl + 1;
      nl = chunk.indexOf(0x0a, from);
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      pendingLen += chunk.length - from;
    }
  }
  if (pendingLen) yield { text: Buffer.concat(pending).toString('utf8'), offset, terminated: false };
}

/** fsyncs a directory so that file creations, renames and deletions in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
