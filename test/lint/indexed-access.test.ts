import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const checker = fileURLToPath(new URL('../../../scripts/check-indexed-access.mjs', import.meta.url));

/** A two-folder project: `held/` indexes an array safely, `loose/` does not. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'indexed-'));
  mkdirSync(join(dir, 'held'));
  mkdirSync(join(dir, 'loose'));
  writeFileSync(join(dir, 'held', 'ok.ts'), 'export const first = (xs: number[]): number => xs[0] ?? 0;\n');
  writeFileSync(join(dir, 'loose', 'bad.ts'), 'export const first = (xs: number[]): number => xs[0];\n');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, types: [] }, include: ['held', 'loose'] }),
  );
  return dir;
}

const check = (dir: string, folders: string[]) =>
  spawnSync(process.execPath, [checker, ...folders], { cwd: dir, encoding: 'utf8', timeout: 60_000 });

describe('npm run lint:indexed (noUncheckedIndexedAccess for chosen folders)', () => {
  const dir = project();
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fails on an unchecked index in an enforced folder, naming the file and line', { timeout: 60_000 }, () => {
    const run = check(dir, ['loose/']);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /^loose\/bad\.ts\(1,\d+\): error TS2322/m);
  });

  it('passes when the enforced folders are clean, whatever the others hold', { timeout: 60_000 }, () => {
    const run = check(dir, ['held/']);
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /clean in held\/ \(1 elsewhere, not yet enforced\)/);
  });
});
