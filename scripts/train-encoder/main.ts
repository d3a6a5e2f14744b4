/**
 * `npm run train:encoder`: fine-tunes the sentence encoder end to end with its heads and writes a model folder
 * the gateway serves like any other (`"model": "intent"`). See README.md beside this file.
 *
 *   npm run train:encoder [-- --out classifiers/models/intent] [--epochs 4] [--fresh] [--skip-train]
 *
 * Steps: dump (TypeScript: tokenize, split, label, shipped weights, frozen embeddings) → train.py (PyTorch) →
 * embed validation/test with the exported ONNX encoder → evaluate.py (calibration, baselines) → model folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existingPath, intOption, parseCli, runCli, UsageError } from '../../cli/args.js';
import { dumpTrainingData } from './dump.js';
import { embedForEval, writeModelFolder } from './export-model.js';
import { writeCard } from './card.js';

const PYTHON = '/usr/bin/python3';
const INSTALL = 'apt-get install -y python3-torch libopenblas0-pthread   (Debian; training only, never at run time)';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

const USAGE = `usage: npm run train:encoder -- [--out DIR] [--epochs N] [--texts N] [--patience N] [--seed N] [--data DIR]
                               [--cache-dir DIR] [--fresh] [--skip-train] [--freeze-layer0]
  --out DIR        model folder to write (default classifiers/models/intent)
  --epochs N       most epochs (default 4; early stopping on the validation split)
  --texts N        training texts sampled per epoch (default 5000)
  --patience N     epochs without a validation gain before stopping (default 2)
  --fresh          redo the dump even if .cache/train-encoder holds one
  --skip-train     reuse the last run's weights (re-export, re-evaluate, rewrite the folder)
  --freeze-layer0  train layer 1, pooling dense and heads only (about a third cheaper per step)
  needs ${PYTHON} with torch: ${INSTALL}`;

/** Fails with the install line when Python or torch is missing. */
function checkPython(): void {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0)
    throw new UsageError(`training needs ${PYTHON} with PyTorch and NumPy; install them with:\n  ${INSTALL}`);
  console.log(`python torch ${r.stdout.trim()}`);
}

function python(script: string, args: string[]): void {
  // One OpenMP thread: on a shared 2-core box two threads mostly wait for each other (20 s vs 1.2 s per step).
  const r = spawnSync(PYTHON, [script, ...args], { stdio: 'inherit', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
}

/** Runs one of the compiled scripts beside this one (dist/scripts/train-encoder/). */
function node(root: string, script: string, args: string[]): void {
  const path = join(root, 'dist', 'scripts', 'train-encoder', script);
  const r = spawnSync(process.execPath, [path, ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
}

async function main(): Promise<number> {
  const root = repoRoot();
  const { values } = parseCli(process.argv.slice(2), {
    out: { type: 'string', default: join(root, 'classifiers', 'models', 'intent') },
    epochs: { type: 'string', default: '4' },
    texts: { type: 'string', default: '5000' },
    patience: { type: 'string', default: '2' },
    seed: { type: 'string', default: '7' },
    data: { type: 'string', default: join(root, '..', 'shared', 'data') },
    'cache-dir': { type: 'string', default: join(root, '.cache', 'train-encoder') },
    fresh: { type: 'boolean', default: false },
    'skip-train': { type: 'boolean', default: false },
    'freeze-layer0': { type: 'boolean', default: false },
  });
  checkPython();
  const seed = intOption('seed', values.seed);
  const cache = resolve(values['cache-dir']);
  const run = join(cache, 'run');
  const py = join(root, 'scripts', 'train-encoder', 'py');
  if (values.fresh || !existsSync(join(cache, 'frozen.f32'))) {
    existingPath(values.data, 'the labelled sets live in ../shared/data beside the repository; pass --data DIR');
    await dumpTrainingData(root, values.data, cache, seed);
  }
  if (!values['skip-train']) {
    const extra = values['freeze-layer0'] ? ['--freeze-layer0'] : [];
    python(join(py, 'train.py'), [
      '--cache',
      cache,
      '--out',
      run,
      '--epochs',
      `${intOption('epochs', values.epochs)}`,
      '--texts',
      `${intOption('texts', values.texts)}`,
      '--patience',
      `${intOption('patience', values.patience)}`,
      '--seed',
      `${seed}`,
      ...extra,
    ]);
  }
  console.log(`fine-tuned encoder ${await embedForEval(cache, run)}`);
  python(join(py, 'evaluate.py'), ['--cache', cache, '--run', run]);
  await writeModelFolder(run, resolve(values.out), join(root, 'test', 'encoder-finetuned'), seed);
  // Refit Platt and thresholds as the served (int8) encoder scores (recalibrate.ts says why), then the levels.
  const reference = join(root, 'test', 'encoder-finetuned', 'reference.json');
  const dataArgs = ['--data', values.data, '--seed', `${seed}`];
  node(root, 'recalibrate.js', ['--model', resolve(values.out), '--reference', reference, ...dataArgs]);
  node(root, '../calibrate.js', ['--model', resolve(values.out), '--data-dir', values.data]);
  writeCard(resolve(values.out), relative(root, resolve(values.data)) || values.data);
  console.log(`wrote ${values.out}`);
  return 0;
}

await runCli({ name: 'train:encoder', usage: USAGE }, main);
