import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../../policies/load.js';
import { mainScoreRefs, refName } from '../../scripts/eval/score.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HEADS_POLICY = join(root, 'scripts', 'eval', 'policies', 'default-with-heads.json');
const trained = existsSync(join(root, 'classifiers', 'models', 'default', 'heads.json'));

describe('the evaluation policies', () => {
  it(
    'default-with-heads extends the rules-only pack with the local heads',
    { skip: !trained && 'no trained heads in classifiers/models/default' },
    async () => {
      const p = loadPolicy(HEADS_POLICY);
      try {
        assert.equal(p.policy.id, 'default-with-heads');
        assert.ok(p.classifiers.has('hazards') && p.classifiers.has('heads'));
        const refs = mainScoreRefs(p, 'input').map(refName);
        for (const r of ['hazards.S9', 'heads.unsafe', 'heads.jailbreak', 'heads.injection'])
          assert.ok(refs.includes(r), r);
      } finally {
        for (const c of p.classifiers.values()) await c.close?.();
      }
    },
  );
});
