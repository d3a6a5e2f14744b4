import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Golden files live in the source tree (test/judge/golden), not in dist. */
export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'judge', 'golden');

/**
 * Compares text with a committed golden file. `UPDATE_GOLDEN=1` rewrites the file instead (review the diff).
 * @example matchesGolden('llama-guard-3.output.txt', prompt)
 */
export function matchesGolden(name: string, actual: string): void {
  const file = join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (!existsSync(file) && process.env.UPDATE_GOLDEN !== '1')
      assert.fail(`missing golden file ${file}; run with UPDATE_GOLDEN=1 to write it`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `prompt differs from ${file}`);
}
