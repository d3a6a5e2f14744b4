/**
 * Builds (or confirms the cache of) the sentence encoder's ONNX model from the installed npm package.
 *
 *   npm run build:encoder -- [--force] [--cache-dir .cache/encoder]
 *
 * The gateway does the same on first start when the file is missing, so running this is optional; it is
 * useful in a Docker build step or CI cache warm-up.
 */
import { stat } from 'node:fs/promises';
import { parseCli, parseOrExit } from '../cli/args.js';
import { DEFAULT_CACHE_DIR, ensureEncoderModel } from '../classifiers/encoder/build.js';

const USAGE = `usage: npm run build:encoder -- [--force] [--cache-dir DIR]

  Builds (or confirms the cache of) the sentence encoder's ONNX model from the installed npm package.
  --force          rebuild even when the cached model is current
  --cache-dir DIR  where the model goes (default ${DEFAULT_CACHE_DIR})
  exit codes: 0 done, 1 failed, 2 usage or I/O error`;

const { values } = parseOrExit({ name: 'build:encoder', usage: USAGE }, () =>
  parseCli(process.argv.slice(2), {
    force: { type: 'boolean', default: false },
    'cache-dir': { type: 'string', default: DEFAULT_CACHE_DIR },
  }),
);

const start = performance.now();
const artifact = await ensureEncoderModel({ cacheDir: values['cache-dir'], force: values.force });
const { size } = await stat(artifact.modelPath);
const ms = Math.round(performance.now() - start);
console.log(
  `${artifact.built ? 'built' : 'cached'} ${artifact.version} → ${artifact.modelPath} ` +
    `(${(size / 2 ** 20).toFixed(1)} MiB, ${ms} ms)`,
);
