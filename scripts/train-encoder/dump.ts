/**
 * The TypeScript half of `npm run train:encoder`, step 1: everything the PyTorch trainer needs, written to
 * `.cache/train-encoder/` so that Python never tokenizes, splits or labels anything itself.
 *  - `data.json`: token ids (the project's tokenizer, ≤ 128 ids) of every distinct text, and per head its items
 *    (text, prompt, targets, source, split). Splits are `scripts/train/data.ts`'s seeded hash splits, so the test
 *    split stays unseen; contrast pairs and augmented copies are added on top (see README.md).
 *  - `weights.bin` + `weights.json`: the shipped encoder's TF.js tensors (float32), by TF name.
 *  - `parity.json`: fixed texts, their ids and the current ONNX encoder's embeddings (the PyTorch port must match).
 *  - `shipped-heads.json`: the shipped linear heads (weights, bias, Platt, threshold), the frozen baseline.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureEncoderModel } from '../../classifiers/encoder/build.js';
import { Encoder } from '../../classifiers/encoder/index.js';
import { Tokenizer } from '../../classifiers/encoder/tokenizer.js';
import { loadTfWeights, loadVocabulary } from '../../classifiers/encoder/weights.js';
import { loadModel, modelDir } from '../../classifiers/heads/model.js';
import { loadRecords } from '../train/data.js';
import type { Item } from '../train/heads-data.js';
import { plans } from '../train/specs.js';
import { augment, contrastItems, readContrast } from './extra-data.js';
import { embedToFile } from './embed-file.js';
import { PARITY_TEXTS } from './parity-texts.js';

const MAX_TOKENS = 128;

/** Items as compact rows: [text index, prompt index or -1, targets (null = unknown), source index, split]. */
type Row = [number, number, Array<number | null>, number, 'train' | 'val' | 'test'];

export async function dumpTrainingData(root: string, dataDir: string, out: string, seed: number): Promise<void> {
  mkdirSync(out, { recursive: true });
  const tokenizer = new Tokenizer(await loadVocabulary());
  const ids: number[][] = [];
  const textIndex = new Map<string, number>();
  const sources: string[] = [];
  const sourceIndex = new Map<string, number>();
  const intern = (text: string): number => {
    let i = textIndex.get(text);
    if (i === undefined) {
      i = ids.length;
      ids.push(tokenizer.encode(text, { maxTokens: MAX_TOKENS }));
      textIndex.set(text, i);
    }
    return i;
  };
  const source = (s: string): number => {
    let i = sourceIndex.get(s);
    if (i === undefined) sourceIndex.set(s, (i = sources.push(s) - 1));
    return i;
  };
  const rows = (items: Item[]): Row[] =>
    items.map((it) => [
      intern(it.text),
      it.prompt === undefined ? -1 : intern(it.prompt),
      it.y.map((v) => (Number.isNaN(v) ? null : v)),
      source(it.source),
      it.split,
    ]);

  const records = loadRecords(dataDir, seed);
  const contrast = readContrast(join(root, 'scripts', 'train-encoder', 'contrast'));
  const heads: Record<string, { labels: string[]; input: string; rows: Row[] }> = {};
  for (const plan of plans(records, dataDir, seed)) {
    let items = plan.items;
    let labels = [...plan.labels];
    if (plan.name === 'refusal') {
      // The output stage's second label: the answer itself carries disallowed content (rubric grade C).
      labels = ['refusal', 'disallowed'];
      const grade = new Map(records.filter((r) => r.stage === 'output').map((r) => [r.text, r.rbrm]));
      items = items.map((it) => ({ ...it, y: [it.y[0], grade.get(it.text) === 'C' ? 1 : 0] }));
    } else items = [...items, ...contrastItems(contrast, plan.name, plan.labels, seed)];
    if (plan.name === 'unsafe' || plan.name === 'categories') items = [...items, ...augment(items, seed)];
    heads[plan.name] = { labels, input: plan.input, rows: rows(items) };
  }
  writeFileSync(join(out, 'data.json'), JSON.stringify({ seed, maxTokens: MAX_TOKENS, sources, ids, heads }));

  // The shipped weights, by TF name, as one float32 blob with an index.
  const weights = await loadTfWeights();
  const index: Array<{ name: string; shape: number[]; dtype: string; offset: number }> = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const w of weights.values()) {
    const bytes = Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    index.push({ name: w.name, shape: w.shape, dtype: w.data instanceof Float32Array ? 'float32' : 'int32', offset });
    chunks.push(bytes);
    offset += bytes.length;
  }
  writeFileSync(join(out, 'weights.bin'), Buffer.concat(chunks));
  writeFileSync(join(out, 'weights.json'), JSON.stringify(index));

  // Parity texts embedded by the ONNX encoder the gateway runs today.
  // fp32: the PyTorch port is checked against the float network, not the int8 copy the gateway serves by default.
  const encoder = await Encoder.create({ backend: 'inline', cacheSize: 0, timeoutMs: 600_000, precision: 'fp32' });
  try {
    const vectors = await encoder.embed(PARITY_TEXTS);
    writeFileSync(
      join(out, 'parity.json'),
      JSON.stringify({
        encoder: encoder.version,
        texts: PARITY_TEXTS,
        ids: PARITY_TEXTS.map((t) => tokenizer.encode(t, { maxTokens: MAX_TOKENS })),
        embeddings: vectors.map((v) => [...v]),
      }),
    );
  } finally {
    await encoder.close();
  }

  // Every text under the shipped (frozen) encoder: the frozen baselines' features.
  await embedToFile((await ensureEncoderModel()).modelPath, ids, join(out, 'frozen.f32'));

  const shipped = loadModel(modelDir('default'));
  writeFileSync(
    join(out, 'shipped-heads.json'),
    JSON.stringify({
      encoder: shipped.manifest.encoder,
      heads: Object.fromEntries(
        [...shipped.heads].map(([name, h]) => [
          name,
          {
            labels: h.head.labels,
            dim: h.head.dim,
            weights: [...h.head.weights],
            bias: [...h.head.bias],
            platt: h.platt,
            thresholds: h.thresholds,
          },
        ]),
      ),
    }),
  );
  const counts = Object.entries(heads).map(([n, h]) => `${n} ${h.rows.length}`);
  console.log(`dumped ${ids.length} texts; items per head: ${counts.join(', ')}`);
}
