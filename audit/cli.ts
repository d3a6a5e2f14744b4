/**
 * The audit CLI: `npm run audit -- <verify|export|tail> [options]`.
 * Exit codes: 0 verified / done, 1 tampering found, 2 usage or I/O error.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import { HelpRequested } from '../cli/args.js';
import { fileAnchorReader } from './anchor.js';
import { pgAnchorReader } from './pg/anchor.js';
import { databaseMain, databaseUrlFor, DatabaseUsageError } from './pg/cli.js';
import { isDatabaseUrl } from './pg/url.js';
import { exportLog } from './export.js';
import { reportManifest, reportPreference } from './export-manifest.js';
import { EXPORT_CLI_OPTIONS, parseExportQuery } from './export-query.js';
import { loadPublicKey, publicKeyPathFor } from './keys.js';
import { tailLog } from './tail.js';
import { verifyLog } from './verify.js';
import { RecordVersionError } from './version.js';

export const EXIT = { ok: 0, tampered: 1, usage: 2 } as const;

const USAGE = `usage: npm run audit -- <command> [options]

  verify  [--dir D] [--from SEQ] [--to SEQ] [--pubkey FILE]... [--anchor FILE|postgres://…] [--anchor-log NAME] [--json]
          Recompute every hash, walk the chain, check every checkpoint signature; with --anchor, check that
          the log holds every checkpoint of the anchor (a file anchor, an operational log's lines, or the
          postgres anchor's table, for the log NAME: default the only one there).
  export  --format jsonl|csv|rbrm|dpo|kto [--dir D] [--from SEQ|ISO] [--to SEQ|ISO] [--tenant T] [--action A]
          [--rule ID] [--category LABEL] [--revision REV] [--decision-id ID] [--refusal TEXT] [--out FILE] [--json]
          Stream matching decisions; the manifest goes to FILE.manifest.json (or stderr without --out).
          rbrm: reward-labelled JSONL of the graded answers; dpo, kto: TRL preference data from them
          (--refusal: the desired-style refusal paired with rejected answers to unsafe prompts).
  tail    [--dir D] [-n N] [--follow]

  With --database-url postgres://… instead of --dir (default: $GATEWAY_DATABASE_URL when
  $GATEWAY_AUDIT_SINK=postgres), the three commands read the PostgreSQL log: verify walks every replica's
  chain and its checkpoints, export and tail merge the replicas by time; --chain ID narrows to one replica.

  --dir defaults to $GATEWAY_AUDIT_DIR, then to .data/audit (where the gateway writes by default).
  --pubkey defaults to $GATEWAY_AUDIT_PUBKEY, then to the key file in the log directory (not an independent
  check: pin the key elsewhere).
  exit codes: 0 ok, 1 tampering found, 2 usage or I/O error`;

class UsageError extends Error {}

export interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** What a relative --dir (and the default .data/audit) is resolved against; default process.cwd(). */
  cwd?: string;
}

/** Where the gateway writes its decision log unless configured otherwise (gateway/config.ts, audit.dir). */
const DEFAULT_DIR = '.data/audit';

const say = (w: Writable, text: string): void => void w.write(`${text}\n`);

function seqOnly(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a seq number`);
  return Number(v);
}

async function verifyCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      pubkey: { type: 'string', multiple: true },
      anchor: { type: 'string' },
      'anchor-log': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const dir = dirOf(values.dir, io);
  const anchor = values.anchor
    ? isDatabaseUrl(values.anchor)
      ? pgAnchorReader(values.anchor, values['anchor-log'])
      : fileAnchorReader(values.anchor)
    : undefined;
  const warnings: string[] = [];
  let keyFiles = values.pubkey ?? (io.env.GATEWAY_AUDIT_PUBKEY ? [io.env.GATEWAY_AUDIT_PUBKEY] : []);
  if (keyFiles.length === 0) {
    keyFiles = [publicKeyPathFor(join(dir, 'checkpoint-key.pem'))];
    warnings.push(
      'public key taken from the log directory: anyone who can rewrite the log can replace it; pass --pubkey',
    );
  }
  const publicKeys = await Promise.all(keyFiles.map(loadPublicKey));
  const report = await verifyLog({
    dir,
    publicKeys,
    from: seqOnly(values.from, 'from'),
    to: seqOnly(values.to, 'to'),
    anchor,
  });
  report.warnings.unshift(...warnings);
  if (values.json) say(io.stdout, JSON.stringify(report, null, 2));
  else {
    for (const w of report.warnings) say(io.stderr, `warning: ${w}`);
    if (report.ok) {
      say(
        io.stdout,
        `OK: ${report.records} records (seq ${report.first_seq ?? '-'}..${report.last_seq ?? '-'}), ${report.checkpoints.total} checkpoints (covering up to seq ${report.checkpoints.last_covered_seq ?? '-'}), head ${report.head_hash ?? '-'}${report.anchor ? `, anchored up to seq ${report.anchor.last_anchored_seq ?? '-'}` : ''}`,
      );
    } else {
      const b = report.first_bad;
      if (b) say(io.stdout, `TAMPERED: first bad seq ${b.seq}: ${b.reason}: ${b.detail}${b.at ? ` (${b.at})` : ''}`);
      for (const p of report.problems.slice(1, 20))
        say(io.stdout, `  also seq ${p.seq}: ${p.reason}: ${p.detail}${p.at ? ` (${p.at})` : ''}`);
      if (report.problems.length > 20) say(io.stdout, `  … ${report.problems.length - 20} more`);
    }
  }
  return report.ok ? EXIT.ok : EXIT.tampered;
}

async function exportCommand(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      ...EXPORT_CLI_OPTIONS,
    },
  });
  if (values.format === undefined) throw new UsageError('--format jsonl|csv|rbrm|dpo|kto is required');
  const dir = dirOf(values.dir, io);
  const query = parseExportQuery({
    format: values.format,
    from: values.from,
    to: values.to,
    tenant: values.tenant,
    action: values.action,
    rule: values.rule,
    category: values.category,
    revision: values.revision,
    decision_id: values['decision-id'],
    refusal: values.refusal,
  });
  if (!query.ok) throw new UsageError(query.error);
  const { format, filter, rewards } = query;
  const out = values.out ? createWriteStream(resolve(values.out), { flags: 'wx' }) : io.stdout;
  const manifest = await exportLog({ dir, format, filter, out, rewards });
  const range = `seq ${manifest.first_seq ?? '-'}..${manifest.last_seq ?? '-'}`;
  const summary = `exported ${manifest.count} records (${range}) sha256 ${manifest.sha256}`;
  await reportManifest(manifest, { out: values.out, json: values.json, summary }, io);
  if (!manifest.covering_checkpoint && manifest.count)
    say(io.stderr, 'warning: the last exported record is not yet covered by a signed checkpoint');
  return reportPreference(manifest, io.stderr) ? EXIT.ok : EXIT.usage;
}

async function tailCommand(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: 'string' },
      n: { type: 'string', short: 'n', default: '10' },
      follow: { type: 'boolean', short: 'f', default: false },
    },
  });
  const lines = seqOnly(values.n, 'n') ?? 10;
  for await (const rec of tailLog(dirOf(values.dir, io), { lines, follow: values.follow, signal }))
    say(io.stdout, JSON.stringify(rec));
  return EXIT.ok;
}

function dirOf(dir: string | undefined, io: Io): string {
  const given = dir ?? io.env.GATEWAY_AUDIT_DIR;
  const d = resolve(io.cwd ?? process.cwd(), given ?? DEFAULT_DIR);
  if (!existsSync(d))
    throw new UsageError(
      given === undefined
        ? `no decision log in ${DEFAULT_DIR} here: pass --dir or set GATEWAY_AUDIT_DIR`
        : `no decision log at ${d}`,
    );
  return d;
}

/**
 * Runs one CLI command and returns its exit code; never throws.
 * @example process.exitCode = await main(['verify', '--dir', 'audit-log', '--pubkey', 'audit.pub.pem']);
 */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  signal?: AbortSignal,
): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (args.includes('--help') || args.includes('-h')) throw new HelpRequested();
    const databaseUrl = databaseUrlFor(args, io.env);
    if (databaseUrl !== undefined) {
      const code = await databaseMain(command, args, databaseUrl, io, signal);
      if (code !== null) return code;
    }
    switch (command) {
      case 'verify':
        return await verifyCommand(args, io);
      case 'export':
        return await exportCommand(args, io);
      case 'tail':
        return await tailCommand(args, io, signal);
      case 'help':
      case '--help':
      case '-h':
        say(io.stdout, USAGE);
        return EXIT.ok;
      default:
        throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : 'no command');
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof HelpRequested) {
      say(io.stdout, USAGE);
      return EXIT.ok;
    }
    say(io.stderr, `audit ${command ?? ''}: ${e.message}`);
    // A line of a format version this tool does not read: for verify the log is not good (1), else an I/O error (2).
    if (err instanceof RecordVersionError) return command === 'verify' ? EXIT.tampered : EXIT.usage;
    if (
      err instanceof UsageError ||
      err instanceof DatabaseUsageError ||
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      e.code?.startsWith('ERR_PARSE_ARGS')
    )
      say(io.stderr, USAGE);
    return EXIT.usage;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.exitCode = await main(process.argv.slice(2), undefined, ac.signal);
}
