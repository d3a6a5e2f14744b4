import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { levelsReport } from '../../scripts/eval/levels.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const DATA = join(root, '..', 'shared', 'data');
const EVAL = join(root, 'dist', 'scripts', 'eval.js');

describe('npm run eval -- --levels', () => {
  it('refuses --data files: the levels are read on the validation split of --data-dir', async () => {
    const r = await promisify(execFile)(process.execPath, [EVAL, '--levels', '--data', 'x.jsonl']).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--levels reads the validation split of --data-dir/);
  });

  it('takes --split val or test, and only with --levels', async () => {
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [EVAL, ...args]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => e,
      );
    const bad = await run(['--levels', '--split', 'train']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--split must be val or test, not train/);
    const alone = await run(['--data', 'x.jsonl', '--split', 'test']);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--split goes with --levels/);
  });

  it(
    'reads the test split with split: test',
    { skip: !existsSync(DATA) && 'no ../shared/data beside the repository' },
    async () => {
      const report = await levelsReport({
        dataDir: DATA,
        policy: join(root, 'policies', 'default'),
        split: 'test',
        limit: 20,
      });
      assert.match(report.data, /^test split \(seed 7/);
      assert.deepEqual(Object.keys(report.columns), ['strict', 'balanced', 'permissive']);
    },
  );

  it(
    'reports the rules-only pack and each level of the default pack on the validation split, both stages',
    { skip: !existsSync(DATA) && 'no ../shared/data beside the repository' },
    async () => {
      const report = await levelsReport({
        dataDir: DATA,
        policy: join(root, 'policies', 'default'),
        rulesOnly: join(root, 'policies', 'rules-only'),
        limit: 30,
      });
      assert.match(report.data, /^validation split \(seed 7/);
      assert.deepEqual(Object.keys(report.columns), ['rules-only', 'strict', 'balanced', 'permissive']);
      const recall = (c: string) => report.columns[c]?.recall ?? 0;
      assert.ok(recall('balanced') >= recall('rules-only'), JSON.stringify(report.columns));
      assert.ok(recall('strict') >= recall('permissive'));
      // The output stage: the graded answers of the same split through each column's output stage.
      assert.deepEqual(Object.keys(report.answers), ['rules-only', 'strict', 'balanced', 'permissive']);
      const blocked = (c: string) => report.answers[c]?.recall ?? 0;
      assert.ok(blocked('strict') >= blocked('permissive'), JSON.stringify(report.answers));
    },
  );
});
