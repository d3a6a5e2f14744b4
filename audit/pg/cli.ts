/**
 * The audit CLI's database half: `verify`, `export` and `tail` with `--database-url postgres://…` (or
 * GATEWAY_DATABASE_URL with GATEWAY_AUDIT_SINK=postgres) read the PostgreSQL log. Same exit codes and options as
 * the directory commands, plus `--chain` (one replica's chain).
 */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { reportManifest, reportPreference } from '../export-manifest.js';
import { EXPORT_CLI_OPTIONS, parseExportQuery } from '../export-query.js';
import { loadPublicKey } from '../keys.js';
import { exportDatabase } from './export.js';
import { tailDatabase } from './tail.js';
import { scrubError } from './url.js';
import { verifyDatabase } from './verify.js';

interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** Thrown for a usage mistake: the caller prints the usage and exits 2. */
export class DatabaseUsageError extends Error {}

const say = (w: Writable, text: string): void => void w.write(`${text}\n`);

/** The database the command reads, or undefined for a log directory. */
export function databaseUrlFor(args: string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = args.findIndex((a) => a === '--database-url' || a.startsWith('--database-url='));
  if (i >= 0) return args[i].includes('=') ? args[i].slice(args[i].indexOf('=') + 1) : args[i + 1];
  if (args.includes('--dir')) return undefined;
  return env.GATEWAY_AUDIT_SINK === 'postgres' ? env.GATEWAY_DATABASE_URL : undefined;
}

const common = { 'database-url': { type: 'string' }, chain: { type: 'string' } } as const;

async function verify(client: pg.Client, args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      from: { type: 'string' },
      to: { type: 'string' },
      pubkey: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
    },
  });
  const seq = (v: string | undefined, name: string) => {
    if (v !== undefined && !/^\d+$/.test(v)) throw new DatabaseUsageError(`--${name} must be a seq number`);
    return v === undefined ? undefined : Number(v);
  };
  const keyFiles = values.pubkey ?? (io.env.GATEWAY_AUDIT_PUBKEY ? [io.env.GATEWAY_AUDIT_PUBKEY] : []);
  const report = await verifyDatabase(client, {
    publicKeys: keyFiles.length ? await Promise.all(keyFiles.map(loadPublicKey)) : undefined,
    chain: values.chain,
    from: seq(values.from, 'from'),
    to: seq(values.to, 'to'),
  });
  if (values.json) say(io.stdout, JSON.stringify(report, null, 2));
  else {
    for (const w of report.warnings) say(io.stderr, `warning: ${w}`);
    for (const { chain, report: r } of report.chains)
      say(
        io.stdout,
        `${r.ok ? 'OK' : 'TAMPERED'} chain ${chain}: ${r.records} records (seq ${r.first_seq ?? '-'}..${r.last_seq ?? '-'}), ${r.checkpoints.total} checkpoints (covering up to seq ${r.checkpoints.last_covered_seq ?? '-'})`,
      );
    const b = report.first_bad;
    if (b)
      say(
        io.stdout,
        `TAMPERED: chain ${b.chain}: first bad seq ${b.seq}: ${b.reason}: ${b.detail}${b.at ? ` (${b.at})` : ''}`,
      );
    for (const p of report.problems.slice(1, 20))
      say(io.stdout, `  also chain ${p.chain} seq ${p.seq}: ${p.reason}: ${p.detail}${p.at ? ` (${p.at})` : ''}`);
    if (report.ok) say(io.stdout, `OK: ${report.chains.length} chains`);
  }
  return report.ok ? 0 : 1;
}

async function exportCommand(client: pg.Client, args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      ...EXPORT_CLI_OPTIONS,
    },
  });
  if (values.format === undefined) throw new DatabaseUsageError('--format jsonl|csv|rbrm|dpo|kto is required');
  const { 'decision-id': decision_id, ...rest } = values;
  const query = parseExportQuery({ ...rest, decision_id });
  if (!query.ok) throw new DatabaseUsageError(query.error);
  const out = values.out ? createWriteStream(resolve(values.out), { flags: 'wx' }) : io.stdout;
  const manifest = await exportDatabase(client, {
    format: query.format,
    filter: query.filter,
    out,
    chain: values.chain,
    rewards: query.rewards,
  });
  const chains = Object.keys(manifest.chains).length;
  const summary = `exported ${manifest.count} records from ${chains} chains sha256 ${manifest.sha256}`;
  await reportManifest(manifest, { out: values.out, json: values.json, summary }, io);
  if (Object.values(manifest.chains).some((c) => !c.covering_checkpoint))
    say(io.stderr, 'warning: the last exported record of some chain is not yet covered by a signed checkpoint');
  return reportPreference(manifest, io.stderr) ? 0 : 2;
}

async function tail(client: pg.Client, args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      n: { type: 'string', short: 'n', default: '10' },
      follow: { type: 'boolean', short: 'f', default: false },
    },
  });
  if (!/^\d+$/.test(values.n)) throw new DatabaseUsageError('-n must be a number');
  for await (const rec of tailDatabase(client, { lines: Number(values.n), follow: values.follow, signal }))
    say(io.stdout, JSON.stringify(rec));
  return 0;
}

/**
 * Runs `verify`, `export` or `tail` against the database; null for another command. Connection errors are
 * thrown with the URL's password scrubbed.
 * @example const code = await databaseMain('verify', ['--database-url', url], io);
 */
export async function databaseMain(
  command: string | undefined,
  args: string[],
  url: string,
  io: Io,
  signal?: AbortSignal,
): Promise<number | null> {
  const run = { verify, export: exportCommand, tail }[command as 'verify' | 'export' | 'tail'];
  if (!run) return null;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await run(client, args, io, signal);
  } catch (err) {
    if (err instanceof DatabaseUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw err;
    const e = scrubError(err, url);
    if ((err as Error).name === 'RecordVersionError') throw err;
    throw e;
  } finally {
    await client.end().catch(() => undefined);
  }
}
