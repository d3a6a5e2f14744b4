/**
 * The TypeScript half of `npm run train:encoder`, after PyTorch:
 *  - `embedForEval`: builds the fine-tuned encoder's ONNX exactly as the gateway will (encoder/finetuned.ts) and
 *    embeds the validation and test texts with onnxruntime-node, for evaluate.py;
 *  - `writeModelFolder`: the committed model folder (fine-tuned weights, heads in the `rbrm-heads/1` format,
 *    metrics), plus the parity references the test in test/encoder-finetuned/ checks against.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFineTunedModel } from '../../classifiers/encoder/finetuned.js';
import { exportHead } from '../../classifiers/heads/export-head.js';
import type { Manifest } from '../../classifiers/heads/model.js';
import { embedToFile } from './embed-file.js';

interface DumpData {
  ids: number[][];
  heads: Record<string, { rows: Array<[number, number, unknown, number, string]> }>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

/** Embeds every validation and test text (and prompt) with the run's fine-tuned encoder: run/ft.f32 + ft-index.json. */
export async function embedForEval(
  cacheDir: string,
  runDir: string,
  splits: readonly string[] = ['val', 'test'],
): Promise<string> {
  const data = readJson<DumpData>(join(cacheDir, 'data.json'));
  const wanted = new Set<number>();
  for (const head of Object.values(data.heads))
    for (const [t, p, , , split] of head.rows)
      if (splits.includes(split)) {
        wanted.add(t);
        if (p >= 0) wanted.add(p);
      }
  const index = [...wanted].sort((a, b) => a - b);
  const { modelPath, version } = await ensureFineTunedModel(join(runDir, 'encoder.json'), {
    cacheDir: join(runDir, 'onnx'),
  });
  await embedToFile(
    modelPath,
    index.map((i) => data.ids[i]),
    join(runDir, 'ft.f32'),
  );
  writeFileSync(join(runDir, 'ft-index.json'), JSON.stringify(index));
  return version;
}

interface RawHead {
  labels: string[];
  weights: number[][];
  bias: number[];
}
type Calibration = Record<string, Record<string, { a: number; c: number; threshold: number }>>;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes the model folder from a finished run (heads-raw.json, calibration.json, metrics.json, parity-ref.json).
 * @example
 * await writeModelFolder('.cache/train-encoder/run2', 'classifiers/models/intent', 'test/encoder-finetuned', 7);
 */
export async function writeModelFolder(runDir: string, outDir: string, refDir: string, seed: number): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(runDir, 'encoder.json'), join(outDir, 'encoder.json'));
  copyFileSync(join(runDir, 'encoder.f16'), join(outDir, 'encoder.f16'));
  const { version } = await ensureFineTunedModel(join(outDir, 'encoder.json'));
  const raw = readJson<Record<string, RawHead>>(join(runDir, 'heads-raw.json'));
  const cal = readJson<Calibration>(join(runDir, 'calibration.json'));
  const heads: Manifest['heads'] = {};
  for (const [name, h] of Object.entries(raw)) {
    const dim = h.weights[0].length;
    const head = {
      dim,
      labels: h.labels,
      weights: Float32Array.from(h.weights.flat()),
      bias: Float32Array.from(h.bias),
    };
    const platt = h.labels.map((l) => ({ a: cal[name][l].a, c: cal[name][l].c }));
    const bytes = exportHead(name, head, platt);
    const file = `${name}.onnx`;
    writeFileSync(join(outDir, file), bytes);
    heads[name as keyof Manifest['heads']] = {
      file,
      sha256: sha256(bytes),
      input: name === 'refusal' ? 'prompt+response' : 'text',
      pooling: name === 'injection' ? 'max' : 'first',
      labels: h.labels,
      calibration: Object.fromEntries(h.labels.map((l) => [l, { a: cal[name][l].a, c: cal[name][l].c }])),
      thresholds: Object.fromEntries(h.labels.map((l) => [l, cal[name][l].threshold])),
    };
  }
  const manifest: Manifest = { format: 'rbrm-heads/1', encoder: version, encoderWeights: 'encoder.json', seed, heads };
  writeFileSync(join(outDir, 'heads.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(runDir, 'metrics.json'), join(outDir, 'metrics.json'));
  copyFileSync(join(runDir, 'train-log.json'), join(outDir, 'train-log.json'));

  // PyTorch's embeddings and calibrated scores of the fixed texts, under the float16 weights that ship.
  const ref = readJson<{ texts: string[]; embeddings: number[][]; logits: Record<string, number[][]> }>(
    join(runDir, 'parity-ref.json'),
  );
  const scores = Object.fromEntries(
    Object.entries(ref.logits).map(([name, rows]) => [
      name,
      rows.map((z) =>
        z.map((v, j) => sigmoid(cal[name][raw[name].labels[j]].a * v + cal[name][raw[name].labels[j]].c)),
      ),
    ]),
  );
  mkdirSync(refDir, { recursive: true });
  writeFileSync(
    join(refDir, 'reference.json'),
    `${JSON.stringify({ encoder: version, texts: ref.texts, pairPrompt: ref.texts[0], embeddings: ref.embeddings, scores })}\n`,
  );
}
