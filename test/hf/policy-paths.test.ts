import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadPolicy, PolicyError } from '../../policies/load.js';
import { modelFolder } from './fixture.js';

const policy = (extra: object) => ({
  apiVersion: 'gateway/v1',
  rules: [{ id: 'r', stage: 'input', when: { classifier: 'pi', label: 'threat', threshold: 0.5 }, action: 'refuse' }],
  ...extra,
});

describe('relative model paths in a policy file', () => {
  test('resolve against the folder of the file that declares the classifier, also through extends', (t) => {
    const root = mkdtempSync(join(tmpdir(), 'hf-paths-'));
    const model = modelFolder();
    t.after(() => {
      model.dispose();
      rmSync(root, { recursive: true, force: true });
    });
    // base/ holds the model as ./model; child/ extends base/policy.json and has no model folder of its own.
    mkdirSync(join(root, 'base'));
    mkdirSync(join(root, 'child'));
    symlinkSync(model.dir, join(root, 'base', 'model'));
    const declares = { classifiers: [{ id: 'pi', type: 'hf-sequence', params: { dir: './model' } }] };
    writeFileSync(join(root, 'base', 'policy.json'), JSON.stringify(policy({ id: 'base', ...declares })));
    writeFileSync(
      join(root, 'child', 'policy.json'),
      JSON.stringify(policy({ id: 'child', extends: '../base/policy.json' })),
    );
    assert.deepEqual(loadPolicy(join(root, 'base')).classifiers.get('pi')?.labels, ['neutral', 'greeting', 'threat']);
    assert.deepEqual(loadPolicy(join(root, 'child')).classifiers.get('pi')?.labels, ['neutral', 'greeting', 'threat']);
    // Declared in the child itself, the same relative path means child/model, which does not exist.
    writeFileSync(
      join(root, 'child', 'policy.json'),
      JSON.stringify(policy({ id: 'child', extends: '../base/policy.json', ...declares })),
    );
    assert.throws(
      () => loadPolicy(join(root, 'child')),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.message.includes(`${join(root, 'child', 'model')}: the model folder does not exist`),
    );
  });
});
