/**
 * The decision log's tables, created and upgraded by numbered migrations at start. Several replicas may start
 * at once: a transaction-level advisory lock serialises them, and each migration commits together with its row
 * in `audit_schema_migrations`, so it runs exactly once. A database migrated by newer code is refused.
 */
import type pg from 'pg';

/** The advisory-lock class of the audit tables; the second key picks the lock (0: migrations; else a chain). */
export const LOCK_CLASS = 0x4155_4454; // "AUDT"

interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'decision records, checkpoints, chains and keys',
    sql: `
      -- One row per stored line. line is the canonical JSON that was hashed; the other columns are copies of its
      -- fields for the export filters, and verify checks that they agree with it.
      CREATE TABLE audit_records (
        chain text NOT NULL,
        seq bigint NOT NULL,
        hash text NOT NULL,
        prev_hash text NOT NULL,
        kind text NOT NULL,
        time timestamptz NOT NULL,
        decision_id text,
        tenant text,
        action text,
        policy_revision text,
        rules text[] NOT NULL DEFAULT '{}',
        categories text[] NOT NULL DEFAULT '{}',
        line text NOT NULL,
        PRIMARY KEY (chain, seq)
      );
      CREATE INDEX audit_records_time ON audit_records (time, chain, seq);
      CREATE INDEX audit_records_tenant ON audit_records (tenant, time);
      CREATE INDEX audit_records_action ON audit_records (action, time);
      CREATE INDEX audit_records_revision ON audit_records (policy_revision, time);
      CREATE INDEX audit_records_decision ON audit_records (decision_id);
      CREATE INDEX audit_records_rules ON audit_records USING gin (rules);
      CREATE INDEX audit_records_categories ON audit_records USING gin (categories);
      -- One signed checkpoint per row, line as in checkpoints.ndjson.
      CREATE TABLE audit_checkpoints (
        chain text NOT NULL,
        first_seq bigint NOT NULL,
        last_seq bigint NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (chain, last_seq)
      );
      -- One row per chain (per replica), signed when the chain starts, so a chain made up in SQL shows.
      CREATE TABLE audit_chains (
        chain text PRIMARY KEY,
        line text NOT NULL
      );
      -- The public keys replicas signed with, for verify without --pubkey (not an independent check).
      CREATE TABLE audit_keys (
        fingerprint text PRIMARY KEY,
        public_pem text NOT NULL,
        first_seen timestamptz NOT NULL DEFAULT now()
      );`,
  },
  {
    version: 2,
    name: 'checkpoints of file logs anchored here',
    sql: `
      CREATE TABLE audit_anchor_checkpoints (
        log text NOT NULL,
        checkpoint_hash text NOT NULL,
        last_seq bigint NOT NULL,
        line text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (log, checkpoint_hash)
      );
      CREATE INDEX audit_anchor_checkpoints_seq ON audit_anchor_checkpoints (log, last_seq);`,
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION; a no-op when it is there. Throws when it is newer than this code.
 * @example await migrate(client); // at every start, by every replica
 */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  // Up to date already (every start but the first): read only, so that a role without CREATE (an anchor
  // writer granted INSERT and SELECT) can start, and replicas do not queue on the lock.
  const present = await client.query<{ found: boolean }>(
    "SELECT to_regclass('audit_schema_migrations') IS NOT NULL AS found",
  );
  if (present.rows[0]?.found) {
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM audit_schema_migrations',
    );
    if (rows[0]?.version === SCHEMA_VERSION) return applied;
  }
  await client.query('BEGIN');
  try {
    // Held to the end of this transaction: replicas starting together migrate one after another.
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS audit_schema_migrations (
         version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM audit_schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > SCHEMA_VERSION)
      throw new Error(
        `the audit schema is at version ${newest}, newer than this gateway's ${SCHEMA_VERSION}: upgrade the gateway`,
      );
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO audit_schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return applied;
}
