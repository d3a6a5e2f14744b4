/**
 * Export of decision records as JSONL (the stored lines, hashes included, so each one can be checked against
 * a checkpoint) or CSV (through csv-stringify, with formula injection neutralised), with a manifest: count,
 * seq range, sha256 of the bytes written, and the signed checkpoint that covers the last exported record.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify as csvStringifyLib } from 'csv-stringify';
import { readCheckpoints } from './checkpoints.js';
import { readRecords } from './reader.js';
import type { Checkpoint, RuleMatch, StoredDecision, StoredRecord } from './types.js';
import { canonicalJson } from './canonical.js';
import {
  emptyStats,
  isRewardFormat,
  rewardLines,
  type PreferenceStats,
  type RewardExportOptions,
  type RewardFormat,
} from './export-rewards.js';

export interface ExportFilter {
  fromSeq?: number;
  toSeq?: number;
  /** ISO time bounds on the record's `time`, inclusive. */
  since?: string;
  until?: string;
  tenant?: string;
  action?: string;
  /** A rule id that matched in either stage, enforced or shadow. */
  rule?: string;
  /** A matched rule's taxonomy category (e.g. `S1`), or its classifier label when it declares none. */
  category?: string;
  /** Policy revision. */
  revision?: string;
  decisionId?: string;
}

/** `rbrm`, `dpo`, `kto`: training data from graded decisions only (audit/export-rewards.ts). */
export type ExportFormat = 'jsonl' | 'csv' | RewardFormat;

/** Whether a record is exported in a format: the reward formats take graded decisions only. */
export const exportsRecord = (format: ExportFormat, rec: StoredDecision): boolean =>
  !isRewardFormat(format) || rec.rbrm !== undefined;

export interface ExportManifest {
  format: ExportFormat;
  count: number;
  first_seq: number | null;
  last_seq: number | null;
  bytes: number;
  /** sha256 (hex) of exactly the bytes written. */
  sha256: string;
  filters: ExportFilter;
  generated_at: string;
  /** The first checkpoint whose range reaches `last_seq`; null when the export is newer than any checkpoint. */
  covering_checkpoint: Checkpoint | null;
  /** Reward formats: lines written, lines flagged for review, and answers that could not be exported, by why. */
  preference?: PreferenceStats;
}

const rulesOf = (r: StoredDecision): RuleMatch[] => [
  ...(r.stages?.input?.rules ?? []),
  ...(r.stages?.output?.rules ?? []),
];
const shadowRulesOf = (r: StoredDecision): RuleMatch[] => [
  ...(r.stages?.input?.shadow_rules ?? []),
  ...(r.stages?.output?.shadow_rules ?? []),
];
const categoryOf = (m: RuleMatch): string | undefined => m.category ?? m.label;

/**
 * Whether a stored record passes the filter. Markers (retention, repair) never do.
 * @example matchesFilter(rec, { tenant: 'acme', action: 'refuse' })
 */
export function matchesFilter(rec: StoredRecord, f: ExportFilter): rec is StoredDecision {
  if (rec.kind !== 'decision') return false;
  if (f.since && Date.parse(rec.time) < Date.parse(f.since)) return false;
  if (f.until && Date.parse(rec.time) > Date.parse(f.until)) return false;
  if (f.tenant !== undefined && rec.tenant !== f.tenant) return false;
  if (f.action !== undefined && rec.action !== f.action) return false;
  if (f.revision !== undefined && rec.policy?.revision !== f.revision) return false;
  if (f.decisionId !== undefined && rec.decision_id !== f.decisionId) return false;
  if (f.rule !== undefined && ![...rulesOf(rec), ...shadowRulesOf(rec)].some((m) => m.id === f.rule)) return false;
  if (f.category !== undefined && !rulesOf(rec).some((m) => m.category === f.category || m.label === f.category))
    return false;
  return true;
}

/**
 * Neutralises spreadsheet formula injection: a cell that starts with `=`, `+`, `-`, `@`, tab or carriage
 * return gets a leading single quote (OWASP's advice). Quoting of commas, quotes and newlines is csv-stringify's.
 * @example escapeFormula('=HYPERLINK("http://x")') // "'=HYPERLINK(\"http://x\")"
 */
export function escapeFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

export const CSV_COLUMNS = [
  'seq',
  'time',
  'decision_id',
  'instance',
  'tenant',
  'key_id',
  'route',
  'model',
  'stream',
  'policy_id',
  'policy_revision',
  'action',
  'status',
  'input_action',
  'output_action',
  'rules',
  'shadow_rules',
  'categories',
  'classifiers',
  'latency_total_ms',
  'error_type',
  'error_message',
  'content_mode',
  'masked_paths',
  'hash',
  'prev_hash',
] as const;

/**
 * One CSV row in `CSV_COLUMNS` order, every cell a string with formulas escaped.
 * @example csvRow(rec)[CSV_COLUMNS.indexOf('tenant')] // "'=cmd" for a tenant named "=cmd"
 */
export function csvRow(r: StoredDecision): string[] {
  const rules = rulesOf(r);
  const classifiers = [...(r.stages?.input?.classifiers ?? []), ...(r.stages?.output?.classifiers ?? [])];
  const cells: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: r.seq,
    time: r.time,
    decision_id: r.decision_id,
    instance: r.instance,
    tenant: r.tenant,
    key_id: r.key_id,
    route: r.route,
    model: r.model,
    stream: r.stream,
    policy_id: r.policy?.id,
    policy_revision: r.policy?.revision,
    action: r.action,
    status: r.status,
    input_action: r.stages?.input?.action,
    output_action: r.stages?.output?.action,
    rules: rules.map((m) => m.id).join(' '),
    shadow_rules: shadowRulesOf(r)
      .map((m) => m.id)
      .join(' '),
    categories: [...new Set(rules.map(categoryOf).filter(Boolean))].join(' '),
    classifiers: classifiers.map((c) => `${c.id}@${c.version}`).join(' '),
    latency_total_ms: r.latency_ms?.total,
    error_type: r.error?.type,
    error_message: r.error?.message,
    content_mode: r.content?.mode,
    masked_paths: (r.masked_paths ?? []).join(' '),
    hash: r.hash,
    prev_hash: r.prev_hash,
  };
  return CSV_COLUMNS.map((c) => {
    const v = cells[c];
    if (v === undefined || v === null) return '';
    return escapeFormula(typeof v === 'string' ? v : typeof v === 'object' ? canonicalJson(v) : String(v));
  });
}

/** The part of csv-stringify's API this module uses: `stringify(options)` returns a Transform stream. */
export type CsvStringify = (options: { header: boolean; columns: string[]; eof?: boolean }) => Transform;

export interface ExportOptions {
  dir: string;
  format: ExportFormat;
  filter?: ExportFilter;
  out: Writable;
  /** Defaults to csv-stringify's `stringify`; replaceable for tests. */
  csvStringify?: CsvStringify;
  /** Reward formats' options (the refusal DPO pairs with rejected answers to unsafe prompts). */
  rewards?: RewardExportOptions;
}

/**
 * Streams matching records to `out` and returns the manifest. Memory stays flat whatever the log size.
 * @example const manifest = await exportLog({ dir, format: 'csv', filter: { tenant: 'acme' }, out: createWriteStream('x.csv') });
 */
export async function exportLog({
  dir,
  format,
  filter = {},
  out,
  csvStringify,
  rewards,
}: ExportOptions): Promise<ExportManifest> {
  // Counting follows the records exported: for the reward formats, graded decisions only.
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  async function* matching(): AsyncGenerator<StoredDecision> {
    for await (const rec of readRecords(dir, { fromSeq: filter.fromSeq, toSeq: filter.toSeq })) {
      if (!matchesFilter(rec, filter) || !exportsRecord(format, rec)) continue;
      count++;
      first ??= rec.seq;
      last = rec.seq;
      yield rec;
    }
  }
  const { bytes, sha256, preference } = await writeExport(format, matching(), out, csvStringify, rewards);
  const { checkpoints } = await readCheckpoints(dir);
  const lastSeq = last as number | null;
  const covering = lastSeq === null ? null : (checkpoints.find((cp) => cp.last_seq >= lastSeq) ?? null);
  return {
    format,
    count,
    first_seq: first,
    last_seq: lastSeq,
    bytes,
    sha256,
    filters: filter,
    generated_at: new Date().toISOString(),
    covering_checkpoint: covering,
    ...(preference && { preference }),
  };
}

/**
 * Writes decisions in `format` to `out` and returns the byte count and sha256 of exactly what was written: the
 * part of an export shared by the log directory and the database (audit/pg/export.ts).
 * @example const { bytes, sha256 } = await writeExport('csv', decisions, createWriteStream('x.csv'));
 */
export async function writeExport(
  format: ExportFormat,
  records: AsyncIterable<StoredDecision>,
  out: Writable,
  csvStringify?: CsvStringify,
  rewards: RewardExportOptions = {},
): Promise<{ bytes: number; sha256: string; preference?: PreferenceStats }> {
  const matching = () => records;
  const hash = createHash('sha256');
  let bytes = 0;
  const digest = new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      hash.update(buf);
      bytes += buf.length;
      done(null, buf);
    },
  });
  if (format === 'jsonl') {
    await pipeline(
      Readable.from(
        (async function* () {
          for await (const rec of matching()) yield `${canonicalJson(rec)}\n`;
        })(),
      ),
      digest,
      out,
    );
  } else if (isRewardFormat(format)) {
    const stats = emptyStats();
    await pipeline(
      Readable.from(
        (async function* () {
          for await (const rec of matching()) {
            if (!rec.rbrm) continue;
            for (const line of rewardLines(format, { ...rec, rbrm: rec.rbrm }, rewards, stats))
              yield `${JSON.stringify(line)}\n`;
          }
        })(),
      ),
      digest,
      out,
    );
    return { bytes, sha256: hash.digest('hex'), preference: stats };
  } else {
    const stringify = csvStringify ?? csvStringifyLib;
    const rows = Readable.from(
      (async function* () {
        // Objects keyed by column, the form csv-stringify's `columns` documents for both header and order.
        for await (const rec of matching()) {
          const row = csvRow(rec);
          yield Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, row[i]]));
        }
      })(),
    );
    await pipeline(rows, stringify({ header: true, columns: [...CSV_COLUMNS] }), digest, out);
  }
  return { bytes, sha256: hash.digest('hex') };
}
