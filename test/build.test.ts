import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/test/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function build(root: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(root, 'scripts', 'build.mjs'), ...args],
      { timeout: 120_000 },
      (err, _out, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, stderr }),
    );
  });
}

describe('scripts/build.mjs (npm start and the CLIs run dist/ without recompiling)', () => {
  it('with --if-stale, builds only when a source is newer than the last build', async (t) => {
    // A one-file project laid out like this one: its own scripts/build.mjs, tsconfig.json and node_modules.
    const root = mkdtempSync(join(tmpdir(), 'build-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    mkdirSync(join(root, 'scripts'));
    mkdirSync(join(root, 'src'));
    copyFileSync(join(ROOT, 'scripts', 'build.mjs'), join(root, 'scripts', 'build.mjs'));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    writeFileSync(
      join(root, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { outDir: 'dist', rootDir: '.', types: [], skipLibCheck: true },
        include: ['src'],
      }),
    );
    const source = join(root, 'src', 'a.ts');
    writeFileSync(source, 'export const a: number = 1;\n');

    const first = await build(root, ['--if-stale']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /rebuilding dist\//);
    assert.ok(existsSync(join(root, 'dist', 'src', 'a.js')));

    const fresh = await build(root, ['--if-stale']);
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(fresh.stderr, '', 'nothing changed: no tsc run, nothing said');

    const later = new Date(Date.now() + 5_000);
    utimesSync(source, later, later);
    const edited = await build(root, ['--if-stale']);
    assert.match(edited.stderr, /sources changed since the last build/);

    writeFileSync(source, 'export const a: number = "not a number";\n');
    const broken = await build(root, []);
    assert.notEqual(broken.code, 0, 'a type error fails the build');
    assert.match(broken.stderr, /tsc failed/);
  });
});
