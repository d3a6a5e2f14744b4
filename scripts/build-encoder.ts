/**
 * Builds (or confirms the cache of) the sentence encoder's ONNX model from the installed npm package.
 *
 *   node dist/scripts/build-encoder.js [--force] [--cache-dir .cache/encoder]
 *
 * The gateway does the same on first start when the file is missing, so running this is optional; it is
 * useful in a Docker build step or CI cache warm-up.
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_CACHE_DIR, ensureEncoderModel } from '../classifiers/encoder/build.js';

const { values } = parseArgs({
  options: {
    force: { type: 'boolean', default: false },
    'cache-dir': { type: 'string', default: DEFAULT_CACHE_DIR },
  },
});

const start = performance.now();
const artifact = await ensureEncoderModel({ cacheDir: values['cache-dir'], force: values.force });
const { size } = await stat(artifact.modelPath);
const ms = Math.round(performance.now() - start);
console.log(
  `${artifact.built ? 'built' : 'cached'} ${artifact.version} → ${artifact.modelPath} ` +
    `(${(size / 2 ** 20).toFixed(1)} MiB, ${ms} ms)`,
);
