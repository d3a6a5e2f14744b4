import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readRecords } from '../audit/reader.js';
import type { DecisionRecord } from '../audit/types.js';
/** Audit records that cannot be found or read (the CLI reports it as a usage or I/O error, exit 2). */
export class RecordsError extends Error {
  override name = 'RecordsError';
}

export interface ReadSummary {
  files: string[];
  /** Lines that were not decision records (not JSON, or another kind), with where they were. */
  skipped: { file: string; line: number; reason: string }[];
}

/** Reads a plain JSON-lines file of decision records. */
async function readJsonl(file: string, each: (r: DecisionRecord) => void, sum: ReadSummary): Promise<void> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    n++;
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as DecisionRecord & { kind?: string };
      if (r.kind !== undefined && r.kind !== 'decision') continue;
      if (typeof r.decision_id !== 'string') throw new Error('no decision_id');
      each(r);
    } catch (e) {
      sum.skipped.push({ file, line: n, reason: (e as Error).message });
    }
  }
}

/**
 * Reads decision records from an audit folder: the hash-chained segments (through the audit module's
 * reader) and the plain `decisions.jsonl`, or from one JSONL file. A decision id seen twice counts once.
 */
export async function readDecisionRecords(path: string, each: (r: DecisionRecord) => void): Promise<ReadSummary> {
  const sum: ReadSummary = { files: [], skipped: [] };
  const seen = new Set<string>();
  const once = (r: DecisionRecord) => {
    if (seen.has(r.decision_id)) return;
    seen.add(r.decision_id);
    each(r);
  };
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new RecordsError(`no audit records at ${path}`);
  try {
    if (st.isFile()) {
      sum.files.push(path);
      await readJsonl(path, once, sum);
      return sum;
    }
    const segments = readdirSync(path)
      .filter((f) => /^segment-\d+\.ndjson$/.test(f))
      .sort();
    if (segments.length) {
      sum.files.push(...segments.map((f) => join(path, f)));
      for await (const r of readRecords(path)) if (r.kind === 'decision') once(r);
    }
    const jsonl = join(path, 'decisions.jsonl');
    if (existsSync(jsonl)) {
      sum.files.push(jsonl);
      await readJsonl(jsonl, once, sum);
    }
  } catch (e) {
    if (e instanceof RecordsError) throw e;
    throw new RecordsError(`cannot read audit records in ${path}: ${(e as Error).message}`);
  }
  if (!sum.files.length)
    throw new RecordsError(`no decision records in ${path} (no segment-*.ndjson, no decisions.jsonl)`);
  return sum;
}
