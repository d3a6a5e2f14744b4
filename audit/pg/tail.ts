/**
 * `audit tail --database-url`: the last N records of every chain, merged by time; with `follow`, then every
 * record committed after them, polled once a second and printed by time.
 */
import type pg from 'pg';
import type { StoredRecord } from '../types.js';

export interface DatabaseTailOptions {
  lines: number;
  follow?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
}

/** @example for await (const rec of tailDatabase(client, { lines: 5 })) console.log(rec.decision_id); */
export async function* tailDatabase(client: pg.ClientBase, o: DatabaseTailOptions): AsyncGenerator<StoredRecord> {
  type Row = { time: Date; chain: string; seq: string; line: string };
  // Followed per chain by seq, not by time: a replica may commit a record whose time is before another's last.
  // The heads are read first, so that nothing committed while the last N are read is skipped.
  const seen: Record<string, number> = {};
  if (o.follow) {
    const heads = await client.query<{ chain: string; seq: string }>(
      'SELECT chain, max(seq) AS seq FROM audit_records GROUP BY chain',
    );
    for (const h of heads.rows) seen[h.chain] = Number(h.seq);
  }
  const last = await client.query<Row>(
    'SELECT * FROM (SELECT time, chain, seq, line FROM audit_records ORDER BY time DESC, chain DESC, seq DESC LIMIT $1) r ORDER BY time, chain, seq',
    [o.lines],
  );
  for (const r of last.rows) {
    yield JSON.parse(r.line) as StoredRecord;
    seen[r.chain] = Math.max(seen[r.chain] ?? 0, Number(r.seq));
  }
  while (o.follow && !o.signal?.aborted) {
    await new Promise((resolve) => setTimeout(resolve, o.pollMs ?? 1000));
    const { rows } = await client.query<Row>(
      `SELECT time, chain, seq, line FROM audit_records WHERE seq > COALESCE(($1::jsonb ->> chain)::bigint, 0)
        ORDER BY time, chain, seq LIMIT 10000`,
      [JSON.stringify(seen)],
    );
    for (const r of rows) {
      if (o.signal?.aborted) return;
      yield JSON.parse(r.line) as StoredRecord;
      seen[r.chain] = Math.max(seen[r.chain] ?? 0, Number(r.seq));
    }
  }
}
