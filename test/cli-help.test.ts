import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The compiled output (this file runs from dist/test/). */
const DIST = fileURLToPath(new URL('..', import.meta.url));
const MISSING = '/nonexistent/rbrm-gateway-test';

/**
 * Every command line `npm run …` starts, with arguments that point it at a data path that does not exist (where it
 * reads one; the benches and fuzz generate their data).
 */
const CLIS: { name: string; file: string; missing?: string[] }[] = [
  { name: 'start', file: 'gateway/main.js', missing: ['--config', `${MISSING}/gateway.json`] },
  { name: 'policy', file: 'policies/cli/main.js', missing: ['validate', MISSING] },
  { name: 'audit', file: 'audit/cli.js', missing: ['verify', '--dir', MISSING] },
  { name: 'train', file: 'scripts/train.js', missing: ['--data', MISSING] },
  { name: 'eval', file: 'scripts/eval.js', missing: ['--data', `${MISSING}/x.jsonl`] },
  { name: 'eval:evasion', file: 'scripts/eval-evasion.js', missing: ['--data', MISSING] },
  { name: 'rbrm-local-eval', file: 'scripts/rbrm-local-eval.js', missing: ['--data', MISSING] },
  { name: 'fuzz', file: 'scripts/fuzz.js' },
  { name: 'build:encoder', file: 'scripts/build-encoder.js' },
  ...['proxy', 'audit', 'pipeline', 'stream', 'classifier', 'overload', 'soak'].map((b) => ({
    name: `bench:${b}`,
    file: `bench/${b}.js`,
  })),
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // An empty working directory: nothing here may be read or written by a command that fails early.
    const cwd = mkdtempSync(join(tmpdir(), 'cli-help-'));
    execFile(process.execPath, [join(DIST, file), ...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stdout, stderr }),
    );
  });
}

/** A stack frame as node prints it: `    at fn (file:line:col)` or `    at node:internal/…`. */
const STACK = /^\s+at .*(:\d+:\d+\)?$|node:internal)/m;

describe('every command line: --help, one-line errors, exit codes', () => {
  for (const cli of CLIS) {
    it(`${cli.name}: --help exits 0 with the usage; an unknown option${cli.missing ? ' and a missing path exit' : ' exits'} 2 without a stack trace`, async () => {
      const [help, unknown, missing] = await Promise.all([
        run(cli.file, ['--help']),
        run(cli.file, ['--no-such-option']),
        cli.missing ? run(cli.file, cli.missing) : undefined,
      ]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /usage: /);
      assert.equal(unknown.code, 2, unknown.stderr);
      assert.match(unknown.stderr, /no-such-option/);
      if (missing) {
        assert.equal(missing.code, 2, `${cli.missing?.join(' ')}: ${missing.stderr}`);
        assert.ok(missing.stderr.trim().length > 0, 'says what went wrong');
      }
      for (const r of [help, unknown, missing]) if (r) assert.doesNotMatch(r.stderr, STACK, r.stderr);
    });
  }
});

describe('npm run train', () => {
  it('never writes over the heads the repository ships without --overwrite-shipped', async () => {
    const shipped = join(DIST, '..', 'classifiers', 'models', 'default');
    const before = statSync(join(shipped, 'heads.json')).mtimeMs;
    const r = await run('scripts/train.js', ['--out', shipped, '--no-held-out']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /holds heads the repository ships; pass --overwrite-shipped to replace them/);
    assert.equal(statSync(join(shipped, 'heads.json')).mtimeMs, before);
    const help = await run('scripts/train.js', ['--help']);
    assert.match(help.stdout, /--out DIR +where to write \(default \.data\/heads\)/);
  });
});
