/**
 * Refits a fine-tuned model folder's Platt constants and head thresholds on the validation split, as the served
 * encoder (int8 by default) embeds it, and rewrites its heads (`*.onnx`, `heads.json`) in place.
 *
 * Why: the Python trainer's Platt fit has no smoothed targets, so on a nearly separable validation set its slope ran
 * off (unsafe a ≈ 5.7e7, injection a ≈ 4.7e7): the probabilities were exactly 0 or 1, and no level could be
 * calibrated between them. It also stored thresholds chosen on the calibrated logit where the runtime reads
 * probabilities. Here Platt is fitted by classifiers/heads/calibrate.ts (Platt's smoothed targets, as `npm run
 * train` does for the default model) on the raw head logits, and each threshold is chosen on the probability by
 * the trainer's rules: unsafe, jailbreak, injection and `disallowed` flag at most 2% of the validation negatives;
 * categories and `refusal` at the maximum of TPR − FPR. The head weights are not touched.
 *
 *   node dist/scripts/train-encoder/recalibrate.js [--model intent] [--data ../shared/data] [--seed 7]
 *     [--reference test/encoder-finetuned/reference.json [--reference-only]]
 *
 * Run it once on a freshly exported folder (a second run would take σ of the one-class thresholds again).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { existingPath, intOption, parseCli, runCli, UsageError } from '../../cli/args.js';
import { Encoder } from '../../classifiers/encoder/index.js';
import { ensureFineTunedModel } from '../../classifiers/encoder/finetuned.js';
import { chooseThreshold, fitPlatt } from '../../classifiers/heads/calibrate.js';
import { exportHead } from '../../classifiers/heads/export-head.js';
import { logits, pairFeatures, probabilities, sigmoid, type Platt } from '../../classifiers/heads/linear.js';
import { encoderWeightsPath, loadModel, modelDir, modelsRoot } from '../../classifiers/heads/model.js';
import { loadRecords } from '../train/data.js';
import { plans } from '../train/specs.js';

const root = join(modelsRoot(), '..', '..');
const USAGE = `usage: node dist/scripts/train-encoder/recalibrate.js [--model NAME] [--data DIR] [--seed N]

  Refits Platt constants and thresholds of a fine-tuned model folder on the validation split (served precision).
  Run once per exported folder. --reference FILE also rescores the parity reference (PyTorch embeddings) with the
  refitted heads; --reference-only does only that.
  exit codes: 0 done, 1 internal error, 2 usage or I/O error`;

/** Labels thresholded at a benign rate; the others at the maximum of TPR − FPR (as scripts/train-encoder/py). */
const RATE_LABELS = new Set(['unsafe', 'jailbreak', 'injection', 'disallowed']);
const BENIGN_RATE = 0.02;

/** The lowest threshold flagging at most `rate` of the negatives (the trainer's threshold_at_rate). */
function thresholdAtRate(p: number[], y: number[], rate: number): number {
  const neg = p.filter((_, i) => y[i] === 0).sort((a, b) => b - a);
  const k = Math.floor(rate * neg.length);
  return k < neg.length ? Math.min(1, neg[k] + 1e-9) : 0;
}

/**
 * The parity reference (test/encoder-finetuned/reference.json) holds PyTorch's embeddings of fixed texts and the
 * heads' scores of them; the scores are recomputed from those embeddings with the refitted heads, so the parity
 * test still compares onnxruntime-node's scores with the scores of PyTorch's embeddings.
 */
function rescoreReference(path: string, model: ReturnType<typeof loadModel>): void {
  const ref = JSON.parse(readFileSync(path, 'utf8')) as {
    texts: string[];
    pairPrompt: string;
    embeddings: number[][];
    scores: Record<string, number[][]>;
  };
  const prompt = Float32Array.from(ref.embeddings[ref.texts.indexOf(ref.pairPrompt)]);
  for (const [name, h] of model.heads)
    ref.scores[name] = ref.embeddings.map((e) => {
      const v = Float32Array.from(e);
      return Array.from(
        probabilities(h.head, h.platt, h.entry.input === 'prompt+response' ? pairFeatures(prompt, v) : v),
      );
    });
  writeFileSync(path, `${JSON.stringify(ref)}\n`);
  console.log(`rescored ${path}`);
}

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), {
    data: { type: 'string', default: join(root, '..', 'shared', 'data') },
    model: { type: 'string', default: 'intent' },
    seed: { type: 'string', default: '7' },
    reference: { type: 'string' },
    'reference-only': { type: 'boolean', default: false },
  });
  const dataDir = existingPath(values.data, 'the labelled sets live in ../shared/data beside the repository');
  const seed = intOption('seed', values.seed);
  const dir = modelDir(values.model);
  const model = loadModel(dir);
  if (values['reference-only']) {
    // Refitting twice would convert the one-class thresholds twice: only the reference is rescored.
    if (!values.reference) throw new UsageError('--reference-only needs --reference FILE');
    rescoreReference(values.reference, model);
    return 0;
  }
  const weights = encoderWeightsPath(model);
  if (!weights) throw new Error(`${dir} has no fine-tuned encoder; the default model is fitted by npm run train`);
  const selected = plans(loadRecords(dataDir, seed), dataDir, seed).filter((p) => model.heads.has(p.name));

  const encoder = await Encoder.create({
    model: await ensureFineTunedModel(weights),
    backend: 'inline',
    maxBatchSize: 64,
    cacheSize: 0,
    timeoutMs: 600_000,
  });
  console.log(`encoder ${encoder.version} at ${encoder.precision}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'heads.json'), 'utf8')) as {
    heads: Record<
      string,
      { file: string; sha256: string; calibration: Record<string, Platt>; thresholds: Record<string, number> }
    >;
  };
  try {
    for (const plan of selected) {
      const h = model.heads.get(plan.name);
      if (!h) continue;
      const items = plan.items.filter((it) => it.split === 'val');
      const z: number[][] = [];
      for (let i = 0; i < items.length; i += 64) {
        const batch = items.slice(i, i + 64);
        const rows = await Promise.all(
          batch.map(async (it) => {
            if (h.entry.input === 'prompt+response') {
              const [p, r] = await encoder.embed([it.prompt ?? '', it.text]);
              return Array.from(logits(h.head, pairFeatures(p, r)));
            }
            const windows =
              h.entry.pooling === 'max'
                ? await encoder.embedChunks(it.text, { maxChunks: 4 })
                : await encoder.embed([it.text]);
            const out = new Array<number>(h.head.labels.length).fill(-Infinity);
            for (const w of windows) logits(h.head, w).forEach((v, j) => (out[j] = Math.max(out[j], v)));
            return out;
          }),
        );
        z.push(...rows);
        process.stderr.write(`\r  ${plan.name}: ${z.length}/${items.length}   `);
      }
      process.stderr.write('\n');
      const platt = h.head.labels.map((label, j) => {
        const keep = items.map((_, i) => i).filter((i) => !Number.isNaN(items[i].y[j]));
        const zz = keep.map((i) => z[i][j]);
        const yy = keep.map((i) => items[i].y[j]);
        const entry = manifest.heads[plan.name];
        if (new Set(yy).size < 2) {
          // No validation data of both classes here (the trainer's output-stage pairs are its own): Platt stays,
          // and the threshold the trainer chose on the calibrated logit becomes its probability.
          const t = sigmoid(entry.thresholds[label]);
          console.log(`${plan.name}/${label}: one class in validation; Platt kept, threshold → σ(t) = ${t.toFixed(6)}`);
          entry.thresholds[label] = Number(t.toFixed(6));
          return h.platt[j];
        }
        const fit = fitPlatt(zz, yy);
        const p = zz.map((v) => sigmoid(fit.a * v + fit.c));
        const t = RATE_LABELS.has(label) ? thresholdAtRate(p, yy, BENIGN_RATE) : chooseThreshold(p, yy);
        console.log(
          `${plan.name}/${label}: n ${keep.length}, Platt a ${entry.calibration[label].a.toPrecision(4)} → ` +
            `${fit.a.toPrecision(4)}, c ${entry.calibration[label].c.toPrecision(4)} → ${fit.c.toPrecision(4)}; ` +
            `threshold ${entry.thresholds[label]} → ${t.toFixed(6)}`,
        );
        entry.calibration[label] = { a: fit.a, c: fit.c };
        entry.thresholds[label] = Number(t.toFixed(6));
        return fit;
      });
      const bytes = exportHead(plan.name, h.head, platt);
      writeFileSync(join(dir, h.entry.file), bytes);
      manifest.heads[plan.name].sha256 = createHash('sha256').update(bytes).digest('hex');
    }
  } finally {
    await encoder.close();
  }
  writeFileSync(join(dir, 'heads.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const rewritten = loadModel(dir); // verifies the rewritten folder
  console.log(`rewrote ${dir}/heads.json and its heads`);
  if (values.reference) rescoreReference(values.reference, rewritten);
  return 0;
}

await runCli({ name: 'recalibrate', usage: USAGE }, main);
