import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelDir } from '../../classifiers/heads/model.js';
import { compilePolicy, loadPolicy, PolicyError } from '../../policies/load.js';
import { levelFor } from '../../policies/levels.js';
import type { Rule } from '../../policies/schema.js';

const LEVELS = JSON.parse(readFileSync(join(modelDir('default'), 'levels.json'), 'utf8')) as {
  levels: Record<string, { thresholds: Record<string, number> }>;
};
const at = (level: string, label: string) => LEVELS.levels[level].thresholds[label];

const heads = (model = 'default') => ({
  id: 'heads',
  type: 'onnx',
  params: { heads: ['unsafe', 'categories'], model },
});
const rule = (id: string, label: string, threshold: unknown, category?: string) => ({
  id,
  stage: 'input',
  when: { classifier: 'heads', label, threshold },
  action: 'refuse',
  ...(category && { category }),
});
const doc = (extra: object) => ({
  apiVersion: 'gateway/v1',
  id: 'levels',
  taxonomy: [{ id: 'S2' }, { id: 'malware', parent: 'S2' }, { id: 'S9' }],
  classifiers: [heads()],
  ...extra,
});
const issues = (d: unknown) => {
  try {
    compilePolicy(d);
  } catch (e) {
    if (e instanceof PolicyError) return e.issues.map((i) => `${i.path}: ${i.message}`);
    throw e;
  }
  return [];
};
const thresholdOf = (r: Rule) => ('classifier' in r.when ? r.when.threshold : undefined);

describe('operating levels in policies', () => {
  it('resolves "level" per rule category (through parents), a named level, and keeps raw numbers', () => {
    const p = compilePolicy(
      doc({
        level: 'strict',
        categoryLevels: { S2: 'permissive' },
        rules: [
          rule('any', 'unsafe', 'level'),
          rule('crime', 'S2', 'level', 'S2'),
          rule('malware', 'unsafe', 'level', 'malware'),
          rule('named', 'S9', 'balanced', 'S9'),
          rule('raw', 'unsafe', 0.42),
        ],
      }),
    );
    const t = Object.fromEntries(p.rules.map((c) => [c.rule.id, thresholdOf(c.rule)]));
    assert.equal(t.any, at('strict', 'unsafe'));
    assert.equal(t.crime, at('permissive', 'S2'));
    assert.equal(t.malware, at('permissive', 'unsafe'), 'malware inherits its parent S2 level');
    assert.equal(t.named, at('balanced', 'S9'));
    assert.equal(t.raw, 0.42);
    assert.equal(levelFor(p.policy, undefined), 'strict');
  });

  it('defaults to balanced, and a policy that extends another keeps its level unless it sets one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'levels-'));
    try {
      writeFileSync(
        join(dir, 'base.json'),
        JSON.stringify(doc({ level: 'permissive', rules: [rule('r', 'unsafe', 'level')] })),
      );
      writeFileSync(
        join(dir, 'child.json'),
        JSON.stringify({ apiVersion: 'gateway/v1', id: 'c', extends: 'base.json' }),
      );
      const child = loadPolicy(join(dir, 'child.json'));
      assert.equal(thresholdOf(child.rules[0].rule), at('permissive', 'unsafe'));
      const plain = compilePolicy(doc({ rules: [rule('r', 'unsafe', 'level')] }));
      assert.equal(thresholdOf(plain.rules[0].rule), at('balanced', 'unsafe'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad levels with a JSON path and a reason', () => {
    assert.match(
      issues(doc({ rules: [rule('r', 'unsafe', 'medium')] }))[0],
      /^rules\[0\]\.when\.threshold: expected a number between 0 and 1, a level/,
    );
    assert.match(issues(doc({ level: 'lax', rules: [] }))[0], /^level: /);
    assert.deepEqual(issues(doc({ categoryLevels: { S99: 'strict' }, rules: [] })), [
      'categoryLevels.S99: no category "S99" in the taxonomy',
    ]);
    const rules = {
      id: 'words',
      type: 'rules',
      params: { patterns: [{ label: 'w', regex: 'x' }] },
    };
    const noLevels = issues({
      ...doc({ rules: [] }),
      classifiers: [rules],
      rules: [
        { id: 'r', stage: 'input', when: { classifier: 'words', label: 'w', threshold: 'level' }, action: 'flag' },
      ],
    });
    assert.equal(noLevels.length, 1);
    assert.match(noLevels[0], /^rules\[0\]\.when\.threshold: classifier "words" has no calibrated levels/);
  });

  it('fails at load when levels.json was calibrated for other heads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'levels-model-'));
    try {
      cpSync(modelDir('default'), join(dir, 'm'), { recursive: true });
      const file = join(dir, 'm', 'levels.json');
      const levels = JSON.parse(readFileSync(file, 'utf8'));
      levels.heads = '0'.repeat(64);
      writeFileSync(file, JSON.stringify(levels));
      writeFileSync(join(dir, 'policy.json'), JSON.stringify({ ...doc({ rules: [] }), classifiers: [heads('./m')] }));
      assert.throws(() => loadPolicy(dir), /classifiers\[0\]: .*levels\.json was calibrated for other heads/);
      writeFileSync(file, '{"format": "rbrm-levels/1"');
      assert.throws(() => loadPolicy(dir), /levels\.json: not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
