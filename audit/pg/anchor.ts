/**
 * The `postgres` anchor: every checkpoint of a file log is also inserted into `audit_anchor_checkpoints`, in a
 * database the log's host cannot rewrite (grant the gateway's role INSERT and SELECT on that table, nothing more),
 * and `audit verify --dir D --anchor postgres://…` reads them back as witnesses.
 */
import pg from 'pg';
import type { AnchorSink } from '../anchor.js';
import type { AnchorRead, AnchorReader } from '../anchor-check.js';
import { canonicalJson } from '../canonical.js';
import { checkpointHash, parseCheckpoint } from '../checkpoints.js';
import type { Checkpoint } from '../types.js';
import { assertVersion } from '../version.js';
import { migrate } from './schema.js';
import { scrubDatabaseUrl, scrubError } from './url.js';

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, query_timeout: 10_000 });
  client.on('error', () => undefined); // reported by the query that fails
  try {
    await client.connect();
    return await fn(client);
  } catch (err) {
    throw scrubError(err, url);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * One row per checkpoint, under the name of the log it came from (the gateway instance by default). Checkpoints
 * come once a minute or per thousand records, so each is sent on a connection of its own: nothing to keep alive.
 * @example new PgAnchor('postgres://witness@db/audit', 'gw-1').publish(checkpoint);
 */
export class PgAnchor implements AnchorSink {
  readonly name: string;
  private migrated = false;

  constructor(
    private readonly url: string,
    readonly log: string,
  ) {
    this.name = `postgres:${scrubDatabaseUrl(url)}#${log}`;
  }

  publish(checkpoint: Checkpoint): Promise<void> {
    return withClient(this.url, async (client) => {
      if (!this.migrated) await migrate(client);
      this.migrated = true;
      await client.query(
        `INSERT INTO audit_anchor_checkpoints (log, checkpoint_hash, last_seq, line) VALUES ($1, $2, $3, $4)
         ON CONFLICT (log, checkpoint_hash) DO NOTHING`,
        [this.log, checkpointHash(checkpoint), checkpoint.last_seq, canonicalJson(checkpoint)],
      );
    });
  }
}

/**
 * Reads back the checkpoints anchored for `log`; without `log`, the only log the table holds (or an error naming
 * the logs to choose from).
 * @example await verifyLog({ dir, publicKeys, anchor: pgAnchorReader(url, 'gw-1') });
 */
export function pgAnchorReader(url: string, log?: string): AnchorReader {
  return {
    name: `postgres:${scrubDatabaseUrl(url)}${log ? `#${log}` : ''}`,
    read: () =>
      withClient(url, async (client): Promise<AnchorRead> => {
        let name = log;
        if (name === undefined) {
          const logs = await client.query<{ log: string }>('SELECT DISTINCT log FROM audit_anchor_checkpoints');
          if (logs.rows.length !== 1)
            throw new Error(
              `the anchor holds ${logs.rows.length ? `the logs ${logs.rows.map((r) => r.log).join(', ')}` : 'no log'}: name one with --anchor-log`,
            );
          name = logs.rows[0].log;
        }
        const { rows } = await client.query<{ last_seq: string; line: string }>(
          'SELECT last_seq, line FROM audit_anchor_checkpoints WHERE log = $1 ORDER BY last_seq, received_at',
          [name],
        );
        const out: AnchorRead = { source: `postgres:${scrubDatabaseUrl(url)}#${name}`, entries: [], skipped: 0 };
        for (const r of rows) {
          const at = `audit_anchor_checkpoints[log=${name} last_seq=${r.last_seq}]`;
          const cp = parseCheckpoint(r.line);
          if (typeof cp === 'string') out.skipped++;
          else {
            assertVersion(cp, at);
            out.entries.push({ checkpoint: cp, at });
          }
        }
        return out;
      }),
  };
}
