/**
 * `GATEWAY_AUDIT_SINK=postgres`: the decision log in PostgreSQL (audit/pg/), one chain per replica, its events in
 * the operational log with the database URL's password scrubbed.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type winston from 'winston';
import { PgChainLog, type PgAuditEvent } from '../audit/pg/sink.js';
import { scrubDatabaseUrl } from '../audit/pg/url.js';
import type { Config } from './config.js';

/**
 * This replica's chain id: GATEWAY_INSTANCE when set; otherwise an id generated on first start and kept in
 * `<audit.dir>/chain-id`, so that a restart continues its chain and two processes on one host never share one.
 */
export function chainIdFor(config: Config): string {
  if (config.instance) return config.instance;
  const file = join(config.audit.dir, 'chain-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // first start: generate below
  }
  const id = `${hostname()}-${randomBytes(4).toString('hex')}`;
  mkdirSync(config.audit.dir, { recursive: true, mode: 0o750 });
  writeFileSync(file, `${id}\n`, { flag: 'wx' });
  return id;
}

/** Opens the PostgreSQL log the configuration asks for. Throws when another live replica holds the chain. */
export async function openPgAudit(config: Config, logger: winston.Logger): Promise<PgChainLog> {
  const { databaseUrl, durability, masks, keyFile, checkpointEvery, checkpointIntervalMs, retention } = config.audit;
  if (!databaseUrl) throw new Error('audit.sink postgres needs GATEWAY_DATABASE_URL');
  const chain = chainIdFor(config);
  const database = scrubDatabaseUrl(databaseUrl);
  const onEvent = (e: PgAuditEvent): void => {
    if (e.type === 'key-generated')
      logger.warn('generated an audit checkpoint signing key; keep the public key to verify the log', {
        fingerprint: e.fingerprint,
        public_key_file: e.publicKeyFile,
        public_key: e.publicPem,
      });
    else if (e.type === 'unavailable')
      logger.error('audit database unavailable: answering 503 audit_unavailable until it returns', {
        database,
        chain,
        error: e.error.message,
      });
    else if (e.type === 'recovered')
      logger.warn('audit database available again', { database, chain, seq: e.head.seq });
    else if (e.type === 'retention')
      logger.info('audit log: retention deleted records', { chain, first_seq: e.first_seq, last_seq: e.last_seq });
    else if (e.type === 'error') logger.error('audit log failure', { chain, error: e.error.message });
  };
  const log = await PgChainLog.open({
    databaseUrl,
    chain,
    instance: config.instance ?? hostname(),
    keyFile: keyFile ?? join(config.audit.dir, 'checkpoint-key.pem'),
    durability,
    masks,
    checkpointEvery,
    checkpointIntervalMs,
    retention: retention?.maxAgeMs ? { maxAgeMs: retention.maxAgeMs } : undefined,
    onEvent,
  });
  logger.info('audit log in PostgreSQL', { database, chain, ready: log.status().ready });
  return log;
}
