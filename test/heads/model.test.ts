import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HEAD_NAMES, loadModel, ManifestSchema, modelDir } from '../../classifiers/heads/model.js';

const dir = modelDir('default');

describe('the committed model directory', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'heads-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('heads.json has every head, with a calibration pair and a threshold in (0, 1) per label', () => {
    const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'heads.json'), 'utf8')));
    assert.deepEqual(Object.keys(manifest.heads).sort(), [...HEAD_NAMES].sort());
    for (const [name, e] of Object.entries(manifest.heads)) {
      assert.ok(e, name);
      assert.deepEqual(Object.keys(e.calibration).sort(), [...e.labels].sort());
      assert.deepEqual(Object.keys(e.thresholds).sort(), [...e.labels].sort());
      for (const label of e.labels) {
        assert.ok(
          e.thresholds[label] > 0 && e.thresholds[label] < 1,
          `${name}/${label} threshold ${e.thresholds[label]}`,
        );
        assert.ok(e.calibration[label].a > 0, `${name}/${label}: calibration slope must be positive`);
      }
    }
    assert.equal(manifest.heads.refusal?.input, 'prompt+response');
    assert.equal(manifest.heads.injection?.pooling, 'max');
  });

  test('loads, with weights of the declared shape', () => {
    const model = loadModel(dir);
    assert.equal(model.heads.size, HEAD_NAMES.length);
    assert.equal(model.heads.get('unsafe')!.head.dim, 512);
    assert.equal(model.heads.get('refusal')!.head.dim, 1536);
    assert.match(model.hash, /^[0-9a-f]{64}$/);
  });

  test('refuses a head file that does not match its hash', () => {
    cpSync(dir, join(tmp, 'tampered'), { recursive: true });
    const file = join(tmp, 'tampered', 'unsafe.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(file, bytes);
    assert.throws(() => loadModel(join(tmp, 'tampered'), ['unsafe']), /does not match the SHA-256/);
    assert.doesNotThrow(() => loadModel(join(tmp, 'tampered'), ['jailbreak']));
  });

  test('refuses calibration in heads.json that differs from the graph', () => {
    cpSync(dir, join(tmp, 'drifted'), { recursive: true });
    const path = join(tmp, 'drifted', 'heads.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8'));
    manifest.heads.jailbreak.calibration.jailbreak.a += 0.5;
    writeFileSync(path, JSON.stringify(manifest));
    assert.throws(() => loadModel(join(tmp, 'drifted'), ['jailbreak']), /Platt constants/);
  });
});
