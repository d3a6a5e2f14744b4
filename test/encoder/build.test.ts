import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWorkerBackend } from '../../classifiers/encoder/backend.js';
import { BUILDER_VERSION, ensureEncoderModel } from '../../classifiers/encoder/index.js';

describe('ensureEncoderModel', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'encoder-build-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('builds the model once, then serves it from the cache', async () => {
    const first = await ensureEncoderModel({ cacheDir: dir });
    assert.equal(first.built, true);
    assert.match(first.version, new RegExp(`^use-lite@0\\.2\\.0\\+b${BUILDER_VERSION}$`));
    assert.equal(first.maxLength, 128);
    assert.ok((await stat(first.modelPath)).size > 20 * 2 ** 20);
    const second = await ensureEncoderModel({ cacheDir: dir });
    assert.deepEqual({ ...second, built: true }, first);
    assert.equal(second.built, false);
  });

  test('shares one build between concurrent callers', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'encoder-build-'));
    try {
      const results = await Promise.all([
        ensureEncoderModel({ cacheDir: fresh }),
        ensureEncoderModel({ cacheDir: fresh }),
      ]);
      assert.deepEqual(
        results.map((r) => r.built),
        [true, true],
      );
      assert.equal(results[0], results[1]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  test('rebuilds when the cached model came from another package version, or when forced', async () => {
    const { modelPath } = await ensureEncoderModel({ cacheDir: dir });
    const metaPath = modelPath.replace(/\.onnx$/, '.json');
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Record<string, unknown>;
    await writeFile(metaPath, JSON.stringify({ ...meta, packageVersion: '0.1.0' }));
    assert.equal((await ensureEncoderModel({ cacheDir: dir })).built, true);
    assert.equal((await ensureEncoderModel({ cacheDir: dir })).built, false);
    assert.equal((await ensureEncoderModel({ cacheDir: dir, force: true })).built, true);
  });

  test('rebuilds when the model file has gone', async () => {
    const { modelPath } = await ensureEncoderModel({ cacheDir: dir });
    await rm(modelPath);
    assert.equal((await ensureEncoderModel({ cacheDir: dir })).built, true);
  });

  test('reports a model that cannot be loaded as LOAD_FAILED', async () => {
    const bogus = join(dir, 'not-a-model.onnx');
    await writeFile(bogus, 'not an onnx model');
    await assert.rejects(startWorkerBackend(bogus, {}), { name: 'EncoderError', code: 'LOAD_FAILED' });
  });
});
