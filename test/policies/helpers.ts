import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI (this file runs from dist/test/policies/). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'policies', 'cli', 'main.js');
/** The default pack (rules and the local model) in the source tree. */
export const DEFAULT_PACK = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'policies', 'default');
/** The rules-only pack, which the default pack extends. */
export const RULES_ONLY_PACK = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'policies',
  'rules-only',
);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/policies/cli/main.js …args` in a child process. */
export function cli(
  args: string[],
  { cwd = process.cwd(), env = {} as Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd, env: { ...process.env, ...env }, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Parses the CLI's JSON output, with the raw text in the failure message. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- output of six commands, read field by field by the assertions
export function json(r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

export const tempDir = (prefix = 'gw-policy-') => mkdtempSync(join(tmpdir(), prefix));

/** Writes files (name → JSON value or text) into a new temp folder and returns its path. */
export function folder(files: Record<string, unknown>): string {
  const dir = tempDir();
  for (const [name, v] of Object.entries(files))
    writeFileSync(join(dir, name), typeof v === 'string' ? v : `${JSON.stringify(v, null, 2)}\n`);
  return dir;
}

/** A small valid policy: one rules classifier with labels a and b, and the rules given. */
export const small = (rules: object[] = [], extra: object = {}) => ({
  apiVersion: 'gateway/v1',
  id: 'small',
  taxonomy: [{ id: 'cat' }],
  classifiers: [
    {
      id: 'c',
      type: 'rules',
      params: {
        patterns: [
          { label: 'a', regex: 'aaa' },
          { label: 'b', regex: 'bbb' },
        ],
      },
    },
  ],
  rules,
  ...extra,
});

export const rule = (id: string, label: string, action: string, extra: object = {}) => ({
  id,
  stage: 'input',
  when: { classifier: 'c', label, threshold: 0.5 },
  action,
  ...extra,
});
