/**
 * The format version every stored line carries (`"v": 1`). Readers check it before they trust a line's shape:
 * a log written by a newer gateway, or by one from before versioning, is refused with one clear line instead of
 * being misread.
 */
import { RECORD_VERSION } from './types.js';

/** Why a line's `v` cannot be read, or null when it is the version this code reads. */
export function versionProblem(v: unknown): string | null {
  if (v === RECORD_VERSION) return null;
  if (v === undefined)
    return `has no format version: it was written before format version ${RECORD_VERSION}, which is the only one this version of the gateway reads`;
  return `has format version ${JSON.stringify(v)}; this version of the gateway reads format version ${RECORD_VERSION} only`;
}

/** A stored line whose format version this code does not read. */
export class RecordVersionError extends Error {
  override readonly name = 'RecordVersionError';

  /**
   * @param at where: `segment-….ndjson:LINE` or `checkpoints.ndjson:LINE`
   * @param seq the line's seq, when it has one
   * @param found the `v` member as read (undefined when absent)
   */
  constructor(
    readonly at: string,
    readonly seq: number | undefined,
    readonly found: unknown,
  ) {
    super(`${at}${seq === undefined ? '' : ` (seq ${seq})`} ${versionProblem(found) ?? 'has a readable version'}`);
  }
}

/**
 * Throws RecordVersionError unless `line.v` is the version this code reads.
 * @example assertVersion(rec, 'segment-0000000000000001.ndjson:3');
 */
export function assertVersion(line: { v?: unknown; seq?: unknown }, at: string): void {
  if (line.v === RECORD_VERSION) return;
  throw new RecordVersionError(at, typeof line.seq === 'number' ? line.seq : undefined, line.v);
}
