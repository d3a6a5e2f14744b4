/**
 * A PostgreSQL database of its own for one test: `gw_test_<pid>_<random>` on the local server (or the server of
 * $TEST_DATABASE_ADMIN_URL), dropped after the test with every session still on it. When no server answers, the
 * test is skipped with the reason; CI starts one first (scripts/ci-services.sh), so there the tests always run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The URL of the new database. */
  url: string;
  name: string;
  /** A connection for the test's own SQL (tampering, checks); closed before the database is dropped. */
  sql: pg.Client;
  /** Ends every session connected to the database (as a server restart would), except the test's own. */
  terminateSessions(filter?: string): Promise<number>;
}

interface TestContext {
  after(fn: () => Promise<void>): void;
  skip(message?: string): void;
}

let unreachable: string | null = null;

/**
 * Creates the database, or skips the test (returning null) when no PostgreSQL server is reachable.
 * @example const db = await testDatabase(t); if (!db) return;
 */
export async function testDatabase(t: TestContext): Promise<TestDatabase | null> {
  if (unreachable) {
    t.skip(unreachable);
    return null;
  }
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    unreachable = `no PostgreSQL server at ${new URL(ADMIN_URL).host} (${(err as Error).message}); start one (scripts/ci-services.sh)`;
    t.skip(unreachable);
    return null;
  }
  const name = `gw_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const sql = new pg.Client({ connectionString: url.toString() });
  await sql.connect();
  t.after(async () => {
    await sql.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  return {
    url: url.toString(),
    name,
    sql,
    async terminateSessions(filter = '%') {
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> $2 AND application_name LIKE $3`,
        [name, (sql as unknown as { processID: number }).processID, filter],
      );
      return rowCount ?? 0;
    },
  };
}
