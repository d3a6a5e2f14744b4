import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dist = fileURLToPath(new URL('../../', import.meta.url));
const lister = fileURLToPath(new URL('../support/list-modules.js', import.meta.url));

/** Every module URL (ESM and CommonJS) that importing `modulePath` loads, in a fresh process. */
async function modulesLoadedBy(modulePath: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'modules-'));
  try {
    const log = join(dir, 'modules.log');
    await run(process.execPath, [lister, join(dist, modulePath), log], { timeout: 30_000 });
    return (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Building and training code, and the libraries only they need. */
const TRAINING_ONLY = [
  '/node_modules/onnx-proto/',
  '/node_modules/protobufjs/',
  '/classifiers/heads/train.js',
  '/classifiers/heads/calibrate.js',
  '/classifiers/heads/metrics.js',
  '/classifiers/heads/export-head.js',
  '/classifiers/encoder/onnx-graph.js',
  '/classifiers/encoder/use-lite-graph.js',
  '/dist/scripts/',
  '/dist/bench/',
];

const matching = (urls: string[], fragments: string[]) =>
  urls.filter((url) => fragments.some((fragment) => url.includes(fragment)));

describe("the server's module graph", () => {
  it('loads the heads classifier but no training or ONNX-building code', { timeout: 60_000 }, async () => {
    const loaded = await modulesLoadedBy('gateway/server.js');
    // The log is real: the server and the runtime half of the heads are in it.
    assert.ok(
      loaded.some((url) => url.endsWith('/dist/gateway/server.js')),
      'the hook logged nothing',
    );
    assert.ok(loaded.some((url) => url.endsWith('/classifiers/heads/classifier.js')));
    assert.ok(loaded.some((url) => url.endsWith('/classifiers/heads/read-head.js')));
    assert.deepEqual(matching(loaded, TRAINING_ONLY), []);
  });

  it('would see them: the head writer loads the graph builder and onnx-proto', { timeout: 60_000 }, async () => {
    const loaded = await modulesLoadedBy('classifiers/heads/export-head.js');
    assert.ok(loaded.some((url) => url.endsWith('/classifiers/encoder/onnx-graph.js')));
    assert.ok(loaded.some((url) => url.includes('/node_modules/onnx-proto/')));
  });
});
