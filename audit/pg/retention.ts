/**
 * Retention for the PostgreSQL log: whole ranges, oldest first, each ending at a signed checkpoint. The writer
 * first commits a `retention` marker naming the range and the hash of its last record, then deletes it, so that
 * verify can link the first surviving record across the gap (as it does for deleted segments). Checkpoints are
 * kept: they are small, and the checkpoint chain stays whole.
 */
import type pg from 'pg';
import { parseCheckpoint } from '../checkpoints.js';

export interface PgRetention {
  /** Delete records whose whole checkpoint range was signed longer ago than this. */
  maxAgeMs?: number;
  /** Keep at least this many of the newest records; older whole ranges go. */
  maxRecords?: number;
}

export interface RetentionCut {
  first_seq: number;
  last_seq: number;
  last_hash: string;
}

/**
 * The oldest records of `chain` that the policy lets go, up to the newest checkpoint that qualifies; null when
 * nothing does.
 * @example const cut = await planRetention(client, 'gw-1', { maxAgeMs: 30 * 86400_000 });
 */
export async function planRetention(
  client: pg.ClientBase,
  chain: string,
  policy: PgRetention,
): Promise<RetentionCut | null> {
  if (policy.maxAgeMs === undefined && policy.maxRecords === undefined) return null;
  const span = await client.query<{ first: string | null; last: string | null }>(
    'SELECT min(seq) AS first, max(seq) AS last FROM audit_records WHERE chain = $1',
    [chain],
  );
  const first = Number(span.rows[0]?.first ?? 0);
  const head = Number(span.rows[0]?.last ?? 0);
  if (!first) return null;
  const { rows } = await client.query<{ line: string }>(
    'SELECT line FROM audit_checkpoints WHERE chain = $1 AND last_seq >= $2 AND last_seq < $3 ORDER BY last_seq DESC',
    [chain, first, head],
  );
  const now = Date.now();
  for (const { line } of rows) {
    const cp = parseCheckpoint(line);
    if (typeof cp === 'string') continue;
    const old = policy.maxAgeMs !== undefined && now - Date.parse(cp.time) > policy.maxAgeMs;
    const many = policy.maxRecords !== undefined && head - cp.last_seq >= policy.maxRecords;
    if (old || many) return { first_seq: first, last_seq: cp.last_seq, last_hash: cp.head_hash };
  }
  return null;
}
