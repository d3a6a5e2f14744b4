import type { Writable } from 'node:stream';
import { issueText, loadPolicy, PolicyError, PolicyReadError, type LoadedPolicy } from '../load.js';

/**
 * Exit codes of `npm run policy`: 0 success; 1 the policy or its tests failed (invalid policy, a FAIL or
 * ERROR case, a stale schema file); 2 usage or I/O error (bad arguments, unreadable input); 3 internal error.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, internal: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in the command line or an input file the command cannot read; exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where a command writes, so tests can run commands in process. */
export interface Io {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const say = (w: Writable, text = ''): void => void w.write(`${text}\n`);
export const sayJson = (io: Io, value: unknown): void => say(io.stdout, JSON.stringify(value, null, 2));

/** Every issue of a PolicyError as `path: message` lines. */
export const issueLines = (e: PolicyError): string[] => e.issues.map(issueText);

export type Loaded<T = LoadedPolicy> = { ok: true; policy: T } | { ok: false; error: PolicyError };

/**
 * Loads a policy (or, with `loadBundle`, a bundle), turning a PolicyError into data. A file that cannot be read at
 * all is a usage error (exit 2); anything else is a bug and propagates.
 */
export function tryLoad(path: string): Loaded;
export function tryLoad<T>(path: string, load: (path: string) => T): Loaded<T>;
export function tryLoad<T>(path: string, load?: (path: string) => T): Loaded<T | LoadedPolicy> {
  try {
    return { ok: true, policy: load ? load(path) : loadPolicy(path) };
  } catch (e) {
    if (e instanceof PolicyReadError) throw new UsageError(e.issues.map((i) => i.message).join('; '));
    if (e instanceof PolicyError) return { ok: false, error: e };
    throw e;
  }
}

/** Prints a policy that did not load (human or JSON) and returns exit 1. */
export function reportInvalid(
  io: Io,
  error: PolicyError,
  json: boolean,
  extra: Record<string, unknown> = {},
): ExitCode {
  if (json) sayJson(io, { ok: false, source: error.source, issues: error.issues, ...extra });
  else {
    say(io.stdout, `INVALID ${error.source}: ${error.issues.length} issue${error.issues.length === 1 ? '' : 's'}`);
    for (const line of issueLines(error)) say(io.stdout, `  ${line}`);
  }
  return EXIT.failed;
}

/** One positional argument, or a usage error naming it. */
export function positional(args: string[], i: number, name: string): string {
  const v = args[i];
  if (v === undefined) throw new UsageError(`missing ${name}`);
  return v;
}

/** Pads a table of rows into aligned columns. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}
