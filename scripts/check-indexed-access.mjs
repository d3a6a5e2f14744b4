#!/usr/bin/env node
// noUncheckedIndexedAccess where it is held: tsc applies the flag to a whole program, so this runs tsc over the
// project with the flag on and fails only on errors in the enforced folders. Add a folder once it is clean, and
// turn the flag on in tsconfig.json (and delete this script) once every folder is.
//
//   node scripts/check-indexed-access.mjs [--project tsconfig.json] [folder/ ...]
//
// Paths are matched as tsc prints them: relative to the working directory.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import process from 'node:process';
import { parseArgs } from 'node:util';

// classifiers/heads, encoder and rbrm-local are numeric code over typed arrays, where every index is a loop bound.
const ENFORCED = ['gateway/', 'policies/', 'classifiers/'];
const EXEMPT = ['classifiers/heads/', 'classifiers/encoder/', 'classifiers/rbrm-local/'];

const { values, positionals } = parseArgs({
  options: { project: { type: 'string', default: 'tsconfig.json' } },
  allowPositionals: true,
});
const enforced = positionals.length ? positionals : ENFORCED;
const exempt = positionals.length ? [] : EXEMPT;

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const args = [tsc, '-p', values.project, '--noEmit', '--noUncheckedIndexedAccess', '--pretty', 'false'];
const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
if (run.error) throw run.error;

const errors = run.stdout.split('\n').filter((line) => /^\S.*\(\d+,\d+\): error TS\d+/.test(line));
if (run.status !== 0 && errors.length === 0) {
  process.stderr.write(`tsc failed without reporting an error in a file:\n${run.stdout}${run.stderr}`);
  process.exit(2);
}
const held = (line) => enforced.some((f) => line.startsWith(f)) && !exempt.some((f) => line.startsWith(f));
const failing = errors.filter(held);
if (failing.length) {
  process.stderr.write(`${failing.join('\n')}\n`);
  process.stderr.write(
    `\n${failing.length} noUncheckedIndexedAccess error(s) in ${enforced.join(', ')}` +
      `${exempt.length ? ` (not counting ${exempt.join(', ')})` : ''}; ${errors.length} in the whole project.\n`,
  );
  process.exit(1);
}
process.stdout.write(
  `noUncheckedIndexedAccess: clean in ${enforced.join(', ')} (${errors.length} elsewhere, not yet enforced)\n`,
);
