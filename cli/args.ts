/**
 * What every command line of the project shares: `--help`, one-line errors instead of stack traces, and one set of
 * exit codes. 0 done; 1 the command ran and found a problem (a failed check, an internal error); 2 a usage error
 * (unknown option, missing or bad value) or an I/O error (a file that is missing or unreadable).
 *
 * It imports nothing of the project, so every entry point (the gateway, the policy and audit CLIs, scripts,
 * benches) can use it without an import pointing up.
 */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Writable } from 'node:stream';

export const EXIT_USAGE = 2;

/** A mistake in the command line, or an input the command cannot use; exits 2 with one line and the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An input that is missing or unusable (a data folder, a file): exits 2 with one line, without the usage. */
export class InputError extends Error {
  override name = 'InputError';
}

/**
 * The path, if it exists; otherwise an InputError naming it and saying what to do.
 *
 * @example
 * const data = existingPath(values.data, 'the shared data sets live in ../shared/data; pass --data DIR');
 */
export function existingPath(path: string, hint: string): string {
  if (!existsSync(path)) throw new InputError(`${path} does not exist: ${hint}`);
  return path;
}

/** Thrown by parseCli for `--help` / `-h`; the runner prints the usage and exits 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** True when `--help` or `-h` comes before any `--`, so help wins over every other mistake on the line. */
const wantsHelp = (args: readonly string[]): boolean => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
};

/**
 * `parseArgs` in strict mode that also understands `--help`: throws HelpRequested for `--help` or `-h`, and node's
 * ERR_PARSE_ARGS_* errors (reported as usage errors) for unknown options or missing values.
 *
 * @example
 * const { values } = parseCli(process.argv.slice(2), { out: { type: 'string' } });
 */
export function parseCli<const O extends Options>(args: string[], options: O, { positionals = false } = {}) {
  if (wantsHelp(args)) throw new HelpRequested();
  return parseArgs({ args, options, allowPositionals: positionals as true, strict: true });
}

/** A whole number at least `min` from a string option, or a usage error naming the option. */
export function intOption(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(
      `--${name} must be an integer${min > 0 ? ` of at least ${min}` : ''}, got ${JSON.stringify(value)}`,
    );
  return n;
}

/** A number at least `min` from a string option, or a usage error naming the option. */
export function numberOption(name: string, value: string, min = 0): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} must be a number of at least ${min}, got ${JSON.stringify(value)}`);
  return n;
}

/** Checks that each named option, where given, is a number of at least `min`; a usage error otherwise. */
export function checkNumbers(values: Record<string, unknown>, names: readonly string[], min = 0): void {
  for (const name of names) {
    const v = values[name];
    if (typeof v === 'string') numberOption(name, v, min);
  }
}

/** Node's codes for a file that is missing, unreadable or unwritable: the user's to fix, not a bug. */
const IO_CODES = new Set([
  'ENOENT',
  'EACCES',
  'EPERM',
  'EISDIR',
  'ENOTDIR',
  'EEXIST',
  'EROFS',
  'ENOSPC',
  'ELOOP',
  'ENAMETOOLONG',
  'EMFILE',
]);

export type CliErrorKind = 'help' | 'usage' | 'io' | 'internal';

/** What kind of failure a thrown value is, for the exit code and for whether a stack trace helps. */
export function errorKind(e: unknown): CliErrorKind {
  if (e instanceof HelpRequested) return 'help';
  if (e instanceof UsageError) return 'usage';
  if (e instanceof InputError) return 'io';
  const code = typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return 'usage';
  if (typeof code === 'string' && IO_CODES.has(code)) return 'io';
  return 'internal';
}

export interface CliReport {
  name: string;
  usage: string;
  stdout?: Writable;
  stderr?: Writable;
  /** The exit code of an unexpected error (a bug); the stack trace is printed only then. Default 1. */
  internalExit?: number;
}

/**
 * Prints a thrown value the way a command line should (usage for --help, one line for a user's mistake, the stack
 * only for a bug) and returns the exit code.
 */
export function reportCliError(
  e: unknown,
  { name, usage, stdout = process.stdout, stderr = process.stderr, internalExit = 1 }: CliReport,
): number {
  const message = e instanceof Error ? e.message : String(e);
  switch (errorKind(e)) {
    case 'help':
      stdout.write(`${usage}\n`);
      return 0;
    case 'usage':
      stderr.write(`${name}: ${message}\n\n${usage}\n`);
      return EXIT_USAGE;
    case 'io':
      stderr.write(`${name}: ${message}\n`);
      return EXIT_USAGE;
    case 'internal':
      stderr.write(`${name}: internal error: ${e instanceof Error ? (e.stack ?? message) : message}\n`);
      return internalExit;
  }
}

/**
 * Runs a script's main function and sets the exit code from what it returns or throws.
 *
 * @example
 * await runCli({ name: 'fuzz', usage: USAGE }, async () => { const { values } = parseCli(process.argv.slice(2), OPTIONS); … return 0; });
 */
export async function runCli(report: CliReport, main: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? 0;
  } catch (e) {
    process.exitCode = reportCliError(e, report);
  }
}

/**
 * For scripts that run at the top level (the benches): runs `parse`, and on --help or a mistake prints what
 * reportCliError prints and exits at once, before any work starts.
 *
 * @example
 * const { seconds } = parseOrExit({ name: 'bench:proxy', usage: USAGE }, () => {
 *   const { values } = parseCli(process.argv.slice(2), { seconds: { type: 'string', default: '4' } });
 *   return { seconds: numberOption('seconds', values.seconds, 0.1) };
 * });
 */
export function parseOrExit<T>(report: CliReport, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    process.exit(reportCliError(e, report));
  }
}
