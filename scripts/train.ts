/**
 * Trains the classifier heads on the shared public data and writes them, with calibration, thresholds,
 * metrics and a model card, to `.data/heads/` (or `--out DIR`). Replacing heads the repository ships in
 * `classifiers/models/` takes `--overwrite-shipped`.
 *
 *   npm run train [-- --seed 7] [--heads unsafe,refusal] [--no-held-out] [--out .data/heads]
 *   npm run train -- --card-only --out DIR    (re-render MODEL_CARD.md from heads.json and metrics.json)
 *
 * Embeddings are cached under `.cache/train/`, so a rerun only trains (about a minute without held-out
 * refits). Deterministic for a given seed, data and encoder.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existingPath, intOption, parseCli, runCli, UsageError } from '../cli/args.js';
import { Encoder } from '../classifiers/encoder/index.js';
import { pairFeatures } from '../classifiers/heads/linear.js';
import { HEAD_NAMES } from '../classifiers/heads/model.js';
import { rewriteCard, writeArtifacts, type HeadResult } from './train/artifacts.js';
import { loadRecords } from './train/data.js';
import { EmbeddingCache } from './train/embed-cache.js';
import { evaluate, heldOut } from './train/evaluate.js';
import { fitHead, type Features } from './train/fit.js';
import { plans, type HeadPlan } from './train/specs.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

const root = repoRoot();
const SHIPPED = join(root, 'classifiers', 'models');

const USAGE = `usage: npm run train -- [--out DIR] [--seed N] [--heads ${HEAD_NAMES.join(',')}] [--no-held-out]
                       [--data DIR] [--cache-dir DIR] [--card-only] [--overwrite-shipped]

  Trains the classifier heads and writes them, with calibration, thresholds, metrics and a model card.
  --out DIR            where to write (default .data/heads); a policy uses it as {"model": "<path>"}
  --overwrite-shipped  allow --out to replace heads under classifiers/models/ (the ones the repository ships)
  --seed N             split and initialisation seed (default 7)
  --heads LIST         which heads, comma-separated (default: all)
  --no-held-out        skip the held-out refits (faster)
  --data DIR           the labelled JSONL sets (default ../shared/data beside the repository)
  --cache-dir DIR      embedding cache (default .cache/train)
  --card-only          only re-render MODEL_CARD.md in --out from its heads.json and metrics.json
  exit codes: 0 done, 1 internal error, 2 usage or I/O error`;

async function features(cache: EmbeddingCache, plan: HeadPlan): Promise<Features> {
  const feats: Features = new Map();
  const progress = (what: string, total: number) => (done: number) =>
    process.stdout.write(`\r  embedding ${what}: ${done}/${total}   `);
  if (plan.input === 'prompt+response') {
    const texts = plan.items.flatMap((it) => [it.prompt ?? '', it.text]);
    const vectors = await cache.embed(texts, progress(`${plan.name} pairs`, texts.length));
    plan.items.forEach((it, i) => feats.set(it, [pairFeatures(vectors[2 * i], vectors[2 * i + 1])]));
  } else if (plan.windows) {
    const texts = plan.items.map((it) => it.text);
    const windows = await cache.windows(texts, 4, progress(`${plan.name} windows`, texts.length));
    plan.items.forEach((it, i) => feats.set(it, windows[i]));
  } else {
    const texts = plan.items.map((it) => it.text);
    const vectors = await cache.embed(texts, progress(plan.name, texts.length));
    plan.items.forEach((it, i) => feats.set(it, [vectors[i]]));
  }
  process.stdout.write('\n');
  return feats;
}

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), {
    seed: { type: 'string', default: '7' },
    data: { type: 'string', default: join(root, '..', 'shared', 'data') },
    out: { type: 'string', default: join(root, '.data', 'heads') },
    heads: { type: 'string', default: HEAD_NAMES.join(',') },
    'no-held-out': { type: 'boolean', default: false },
    'card-only': { type: 'boolean', default: false },
    'cache-dir': { type: 'string', default: join(root, '.cache', 'train') },
    'overwrite-shipped': { type: 'boolean', default: false },
  });
  const out = resolve(values.out);
  // A model already under classifiers/models/ is one the repository ships; a new folder there is not.
  const shipped = !relative(SHIPPED, out).startsWith('..') && existsSync(join(out, 'heads.json'));
  if (shipped && !values['overwrite-shipped'])
    throw new UsageError(
      `--out ${relative(root, out)} holds heads the repository ships; pass --overwrite-shipped to replace them`,
    );
  const seed = intOption('seed', values.seed);
  const wanted = values.heads.split(',').map((h) => h.trim());
  for (const h of wanted)
    if (!(HEAD_NAMES as readonly string[]).includes(h))
      throw new UsageError(`unknown head ${h}; heads are ${HEAD_NAMES.join(', ')}`);
  const log = (s: string) => console.log(s);
  const started = performance.now();
  if (values['card-only']) {
    log(`wrote ${relative(root, rewriteCard(existingPath(out, 'train into it first'), root, values.data))}`);
    return 0;
  }
  existingPath(values.data, 'the labelled sets live in ../shared/data beside the repository; pass --data DIR');

  const records = loadRecords(values.data, seed);
  log(`read ${records.length} records from ${relative(root, values.data) || values.data}`);
  const selected = plans(records, values.data, seed).filter((p) => wanted.includes(p.name));

  // fp32: heads are fitted on the reference embeddings (the embedding cache is keyed by the network's version).
  const encoder = await Encoder.create({
    precision: 'fp32',
    backend: 'inline',
    maxBatchSize: 64,
    cacheSize: 0,
    timeoutMs: 600_000,
  });
  const cache = new EmbeddingCache(encoder, values['cache-dir']);
  log(`encoder ${encoder.version}; ${cache.size} cached embeddings`);

  const results: HeadResult[] = [];
  for (const plan of selected) {
    const t0 = performance.now();
    const counts = { train: 0, val: 0, test: 0 };
    for (const it of plan.items) counts[it.split]++;
    log(
      `\n== ${plan.name}: ${plan.items.length} items (train ${counts.train}, val ${counts.val}, test ${counts.test})`,
    );
    const feats = await features(cache, plan);
    const fit = fitHead({ ...plan, train: { ...plan.train, seed } }, plan.items, feats);
    const test = evaluate(
      fit,
      plan,
      plan.items.filter((it) => it.split === 'test'),
      feats,
    );
    for (const r of test) {
      const p = r.pooled;
      log(
        `  test ${r.label}: n ${p.n} pos ${p.positives} AUC ${p.rocAuc.toFixed(3)} AP ${p.averagePrecision.toFixed(3)} P ${p.precision.toFixed(3)} R ${p.recall.toFixed(3)} flagged-safe ${p.flaggedSafe.toFixed(3)} @ ${r.threshold.toFixed(3)}`,
      );
    }
    const held = values['no-held-out']
      ? []
      : heldOut({ ...plan, train: { ...plan.train, seed } }, plan.items, feats, plan.heldOut, log);
    results.push({ plan, fit, test, heldOut: held, counts });
    log(`  ${plan.name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  await encoder.close();

  await writeArtifacts({
    out,
    root,
    dataDir: values.data,
    seed,
    encoderVersion: encoder.version,
    results,
    heldOutRun: !values['no-held-out'],
  });
  log(`\nwrote ${relative(root, out)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

await runCli({ name: 'train', usage: USAGE }, main);
