/**
 * `audit export --database-url`: decisions from every replica's chain, merged by time, with the same filters,
 * formats and manifest as a log directory's export. The indexed columns narrow the scan; each record is then
 * filtered on its own line (`matchesFilter`), so what is exported is what was hashed. The manifest adds, per
 * chain, the seq range exported and the checkpoint that covers it.
 */
import type { Writable } from 'node:stream';
import type pg from 'pg';
import { parseCheckpoint } from '../checkpoints.js';
import { exportsRecord, matchesFilter, writeExport, type ExportManifest, type ExportOptions } from '../export.js';
import type { Checkpoint, StoredDecision, StoredRecord } from '../types.js';

const PAGE = 500;

export interface ChainExport {
  count: number;
  first_seq: number;
  last_seq: number;
  /** The first checkpoint of the chain whose range reaches `last_seq`; null when none does yet. */
  covering_checkpoint: Checkpoint | null;
}

/** A database export's manifest: seq fields are per chain (`chains`); the top-level ones are set for one chain. */
export interface DatabaseExportManifest extends ExportManifest {
  chains: Record<string, ChainExport>;
}

export interface DatabaseExportOptions extends Omit<ExportOptions, 'dir' | 'out'> {
  out: Writable;
  /** Only this replica's chain (seq bounds apply per chain). */
  chain?: string;
}

/** The SQL conditions and parameters for a filter (the index-served part of it). */
function whereOf(o: DatabaseExportOptions): { sql: string[]; params: unknown[] } {
  const f = o.filter ?? {};
  const sql = ["kind = 'decision'"];
  const params: unknown[] = [];
  const add = (cond: string, v: unknown): void => {
    params.push(v);
    sql.push(cond.replace('?', `$${params.length}`));
  };
  if (o.chain !== undefined) add('chain = ?', o.chain);
  if (f.fromSeq !== undefined) add('seq >= ?', f.fromSeq);
  if (f.toSeq !== undefined) add('seq <= ?', f.toSeq);
  if (f.since !== undefined) add('time >= ?', f.since);
  if (f.until !== undefined) add('time <= ?', f.until);
  if (f.tenant !== undefined) add('tenant = ?', f.tenant);
  if (f.action !== undefined) add('action = ?', f.action);
  if (f.revision !== undefined) add('policy_revision = ?', f.revision);
  if (f.decisionId !== undefined) add('decision_id = ?', f.decisionId);
  if (f.rule !== undefined) add('rules @> ARRAY[?]::text[]', f.rule);
  if (f.category !== undefined) add('categories @> ARRAY[?]::text[]', f.category);
  return { sql, params };
}

type PageRow = { time: Date; chain: string; seq: string; line: string };

/** Matching records in (time, chain, seq) order, read a page at a time (keyset pagination, flat memory). */
async function* mergedRecords(client: pg.ClientBase, o: DatabaseExportOptions): AsyncGenerator<StoredRecord> {
  const { sql, params } = whereOf(o);
  let after: [Date, string, string] | null = null;
  for (;;) {
    const page: string[] = after
      ? [...sql, `(time, chain, seq) > ($${params.length + 1}, $${params.length + 2}, $${params.length + 3})`]
      : sql;
    const { rows }: { rows: PageRow[] } = await client.query(
      `SELECT time, chain, seq, line FROM audit_records WHERE ${page.join(' AND ')} ORDER BY time, chain, seq LIMIT ${PAGE}`,
      after ? [...params, ...after] : params,
    );
    for (const r of rows) yield JSON.parse(r.line) as StoredRecord;
    if (rows.length < PAGE) return;
    const last: PageRow = rows[rows.length - 1];
    after = [last.time, last.chain, last.seq];
  }
}

/**
 * Streams matching decisions of every chain (or one) to `out`, merged by time, and returns the manifest.
 * @example const manifest = await exportDatabase(client, { format: 'csv', filter: { action: 'refuse' }, out });
 */
export async function exportDatabase(client: pg.ClientBase, o: DatabaseExportOptions): Promise<DatabaseExportManifest> {
  const filter = o.filter ?? {};
  const chains: Record<string, ChainExport> = {};
  let count = 0;
  async function* matching(): AsyncGenerator<StoredDecision> {
    for await (const rec of mergedRecords(client, o)) {
      if (!matchesFilter(rec, filter) || !exportsRecord(o.format, rec)) continue;
      const chain = rec.chain ?? '';
      const c = (chains[chain] ??= { count: 0, first_seq: rec.seq, last_seq: rec.seq, covering_checkpoint: null });
      c.count++;
      c.first_seq = Math.min(c.first_seq, rec.seq);
      c.last_seq = Math.max(c.last_seq, rec.seq);
      count++;
      yield rec;
    }
  }
  const { bytes, sha256, preference } = await writeExport(o.format, matching(), o.out, o.csvStringify, o.rewards);
  for (const [chain, c] of Object.entries(chains)) {
    const { rows } = await client.query<{ line: string }>(
      'SELECT line FROM audit_checkpoints WHERE chain = $1 AND last_seq >= $2 ORDER BY last_seq LIMIT 1',
      [chain, c.last_seq],
    );
    const cp = rows[0] ? parseCheckpoint(rows[0].line) : null;
    c.covering_checkpoint = typeof cp === 'string' ? null : cp;
  }
  const only = Object.values(chains).length === 1 ? Object.values(chains)[0] : null;
  return {
    format: o.format,
    count,
    first_seq: only?.first_seq ?? null,
    last_seq: only?.last_seq ?? null,
    bytes,
    sha256,
    filters: { ...filter, ...(o.chain !== undefined ? { chain: o.chain } : {}) },
    generated_at: new Date().toISOString(),
    covering_checkpoint: only?.covering_checkpoint ?? null,
    ...(preference && { preference }),
    chains,
  };
}
