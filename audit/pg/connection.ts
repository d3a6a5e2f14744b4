/**
 * The writer's connection: one PostgreSQL session per replica, which holds the chain's advisory lock for as long
 * as it lives. Every batch goes through it, so when the session dies (database restart, network cut) the lock
 * goes with it, and the writer must reconnect, take the lock again and re-read the head before writing more.
 */
import pg from 'pg';
import { canonicalJson } from '../canonical.js';
import { parseCheckpoint } from '../checkpoints.js';
import type { SigningKey } from '../keys.js';
import { GENESIS_HASH } from '../canonical.js';
import type { Checkpoint } from '../types.js';
import { signRegistration } from './registration.js';
import { LOCK_CLASS, migrate } from './schema.js';
import { scrubError } from './url.js';

/** Another live session holds this chain's lock: two writers would fork it. */
export class ChainHeldError extends Error {
  constructor(chain: string) {
    super(
      `audit chain ${JSON.stringify(chain)} is being written by another live gateway: give every replica its own GATEWAY_INSTANCE`,
    );
  }
}

export interface ConnectOptions {
  databaseUrl: string;
  chain: string;
  instance: string;
  key: SigningKey;
  /** Durability `none`: commits return before PostgreSQL's WAL flush (synchronous_commit off). */
  asyncCommit: boolean;
  connectTimeoutMs: number;
  /** A statement that takes longer fails its batch (503s) instead of holding requests forever. */
  queryTimeoutMs: number;
  /** Called once when the session fails while idle (the database went away between batches). */
  onLost: (err: Error, client: pg.Client) => void;
}

export interface ChainState {
  client: pg.Client;
  head: { seq: number; hash: string };
  lastCheckpoint: Checkpoint | null;
}

/**
 * Connects, migrates, takes the chain's lock, registers the chain (and the key) if new, and reads its head.
 * @example const { client, head } = await connectChain(opts);
 */
export async function connectChain(opts: ConnectOptions): Promise<ChainState> {
  const client = new pg.Client({
    connectionString: opts.databaseUrl,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    query_timeout: opts.queryTimeoutMs,
    keepAlive: true,
    application_name: `rbrm-gateway audit ${opts.chain}`.slice(0, 63),
  });
  let lost = false;
  client.on('error', (err) => {
    if (lost) return;
    lost = true;
    opts.onLost(scrubError(err, opts.databaseUrl), client);
  });
  try {
    await client.connect();
    await migrate(client);
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [
      LOCK_CLASS,
      opts.chain,
    ]);
    if (!rows[0]?.ok) throw new ChainHeldError(opts.chain);
    if (opts.asyncCommit) await client.query('SET synchronous_commit = off');
    await client.query(
      'INSERT INTO audit_keys (fingerprint, public_pem) VALUES ($1, $2) ON CONFLICT (fingerprint) DO NOTHING',
      [opts.key.fingerprint, opts.key.publicPem],
    );
    await client.query('INSERT INTO audit_chains (chain, line) VALUES ($1, $2) ON CONFLICT (chain) DO NOTHING', [
      opts.chain,
      canonicalJson(signRegistration(opts.chain, opts.instance, opts.key)),
    ]);
    const head = await client.query<{ seq: string; hash: string }>(
      'SELECT seq, hash FROM audit_records WHERE chain = $1 ORDER BY seq DESC LIMIT 1',
      [opts.chain],
    );
    const cp = await client.query<{ line: string }>(
      'SELECT line FROM audit_checkpoints WHERE chain = $1 ORDER BY last_seq DESC LIMIT 1',
      [opts.chain],
    );
    const row = head.rows[0];
    const state: ChainState = {
      client,
      head: row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS_HASH },
      lastCheckpoint: null,
    };
    if (cp.rows[0]) {
      const parsed = parseCheckpoint(cp.rows[0].line);
      if (typeof parsed === 'string') throw new Error(`the last checkpoint of chain ${opts.chain} is unreadable`);
      // As the file log refuses to start on a tail it cannot explain: records would be chained onto a gap.
      if (parsed.last_seq > state.head.seq)
        throw new Error(
          `chain ${opts.chain}: a checkpoint covers up to seq ${parsed.last_seq} but the records end at ${state.head.seq}; run npm run audit -- verify --database-url`,
        );
      state.lastCheckpoint = parsed;
    }
    return state;
  } catch (err) {
    lost = true;
    await client.end().catch(() => undefined);
    throw err instanceof ChainHeldError ? err : scrubError(err, opts.databaseUrl);
  }
}
