/**
 * Does int8 cost the heads anything? Embeds the validation split (scripts/train/data.ts, seed 7, the split the
 * shipped heads were calibrated on, never trained on) with the fp32 and the int8 encoder, scores it with the
 * model's heads (its own fine-tuned encoder where the model folder has one), and prints each label's average
 * precision (AUPRC, ranked on the Platt logit) under both, and each head's (the mean over its
 * labels for the 13-label categories head). int8 is acceptable as the default when no head drops by more than
 * `--max-drop` (0.005). Exit code 3 when one does.
 *
 *   node dist/scripts/quantize-check.js [--data ../shared/data] [--model default] [--seed 7] [--max-drop 0.005]
 */
import { join } from 'node:path';
import { existingPath, intOption, parseCli, runCli } from '../cli/args.js';
import { Encoder } from '../classifiers/encoder/index.js';
import type { Precision } from '../classifiers/encoder/precision.js';
import { averagePrecision } from '../classifiers/heads/metrics.js';
import { ensureFineTunedModel } from '../classifiers/encoder/finetuned.js';
import { logits, pairFeatures, sigmoid } from '../classifiers/heads/linear.js';
import { HEAD_NAMES, encoderWeightsPath, headOf, loadModel, modelDir, modelsRoot } from '../classifiers/heads/model.js';
import { loadRecords } from './train/data.js';
import type { Item } from './train/heads-data.js';
import { plans } from './train/specs.js';

const root = join(modelsRoot(), '..', '..');
const USAGE = `usage: node dist/scripts/quantize-check.js [--data DIR] [--model NAME] [--seed N] [--max-drop X]

  Validation AUPRC of every shipped head's labels with the fp32 and the int8 encoder, side by side.
  --data DIR      the labelled JSONL sets (default ../shared/data beside the repository)
  --model NAME    the heads (default: default, under classifiers/models)
  --seed N        the split seed the heads were trained with (default 7)
  --max-drop X    the largest acceptable AUPRC drop per label (default 0.005)
  exit codes: 0 within the bound, 3 a label dropped more, 1 internal error, 2 usage or I/O error`;

/** Every text a validation item needs embedded: its text's windows (max pooling) or first window, and its prompt. */
async function embedAll(
  precision: Precision,
  texts: { first: Set<string>; windowed: Set<string> },
  weights: string | undefined,
): Promise<{ first: Map<string, Float32Array>; windows: Map<string, Float32Array[]>; seconds: number }> {
  const encoder = await Encoder.create({
    precision,
    // A model folder with fine-tuned encoder weights (heads.json `encoderWeights`) is embedded with that encoder.
    ...(weights ? { model: await ensureFineTunedModel(weights) } : {}),
    backend: 'inline',
    maxBatchSize: 64,
    cacheSize: 0,
    timeoutMs: 600_000,
  });
  const started = performance.now();
  try {
    const first = new Map<string, Float32Array>();
    const list = [...texts.first];
    for (let i = 0; i < list.length; i += 64) {
      const batch = list.slice(i, i + 64);
      (await encoder.embed(batch)).forEach((v, k) => first.set(batch[k] ?? '', v));
      process.stderr.write(`\r  ${precision}: ${Math.min(i + 64, list.length)}/${list.length} texts   `);
    }
    const windows = new Map<string, Float32Array[]>();
    const windowed = [...texts.windowed];
    for (let i = 0; i < windowed.length; i += 64) {
      // Concurrent calls, so the encoder batches their windows.
      const batch = windowed.slice(i, i + 64);
      const vectors = await Promise.all(batch.map((t) => encoder.embedChunks(t, { maxChunks: 4 })));
      vectors.forEach((v, k) => windows.set(batch[k] ?? '', v));
    }
    process.stderr.write('\n');
    return { first, windows, seconds: (performance.now() - started) / 1000 };
  } finally {
    await encoder.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), {
    data: { type: 'string', default: join(root, '..', 'shared', 'data') },
    model: { type: 'string', default: 'default' },
    seed: { type: 'string', default: '7' },
    'max-drop': { type: 'string', default: '0.005' },
  });
  const dataDir = existingPath(values.data, 'the labelled sets live in ../shared/data beside the repository');
  const seed = intOption('seed', values.seed);
  const maxDrop = Number(values['max-drop']);
  const model = loadModel(modelDir(values.model), [...HEAD_NAMES]);
  const selected = plans(loadRecords(dataDir, seed), dataDir, seed).filter((p) => model.heads.has(p.name));
  const val = new Map(selected.map((p) => [p, p.items.filter((it) => it.split === 'val')]));
  const texts = { first: new Set<string>(), windowed: new Set<string>() };
  for (const [plan, items] of val)
    for (const it of items) {
      (plan.windows ? texts.windowed : texts.first).add(it.text);
      if (plan.input === 'prompt+response') texts.first.add(it.prompt ?? '');
    }
  console.log(`validation split (seed ${seed}): ${texts.first.size} texts, ${texts.windowed.size} windowed`);

  const weights = encoderWeightsPath(model);
  const embedded = { fp32: await embedAll('fp32', texts, weights), int8: await embedAll('int8', texts, weights) };
  // Agreement of the vectors themselves: the cosine of each text's int8 embedding with its fp32 one.
  const cosines = [...embedded.fp32.first].map(([t, f]) => {
    const q = embedded.int8.first.get(t) ?? new Float32Array(f.length);
    return f.reduce((acc, v, j) => acc + v * (q[j] ?? 0), 0);
  });
  console.log(
    `cosine int8 · fp32 over ${cosines.length} texts (first window, batches of 64): min ${Math.min(...cosines).toFixed(4)}, ` +
      `mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(5)}`,
  );
  /**
   * Each label's Platt logit (a·z + c). Ranked on the logit rather than the probability: a head whose Platt slope is
   * very steep (the fine-tuned model's unsafe and injection heads) saturates to exactly 0 or 1 in float64, and ties
   * would make the AUPRC meaningless. The ranking is the probability's wherever it does not saturate.
   */
  const score = (precision: Precision, name: (typeof HEAD_NAMES)[number], it: Item): Float64Array => {
    const { first, windows } = embedded[precision];
    const { head, platt, entry } = headOf(model, name);
    const get = (t: string) => first.get(t) ?? new Float32Array(512);
    const calibrated = (x: ArrayLike<number>) => logits(head, x).map((z, j) => platt[j].a * z + platt[j].c);
    if (entry.input === 'prompt+response') return calibrated(pairFeatures(get(it.prompt ?? ''), get(it.text)));
    if (entry.pooling !== 'max') return calibrated(get(it.text));
    const out = new Float64Array(head.labels.length).fill(-Infinity);
    for (const w of windows.get(it.text) ?? []) calibrated(w).forEach((z, j) => (out[j] = Math.max(out[j], z)));
    return out;
  };

  console.log(
    `\n${'head/label'.padEnd(22)} ${'n'.padStart(6)} ${'pos'.padStart(5)} ${'AUPRC fp32'.padStart(11)} ${'int8'.padStart(8)} ${'Δ'.padStart(8)}  max |Δp|`,
  );
  /** Per head: its AUPRC under each precision, the mean over its labels (macro) where it has several. */
  const heads: { name: string; fp32: number; int8: number }[] = [];
  let worstLabel = 0;
  const row = (name: string, n: string, pos: string, f: number, q: number, extra: string) =>
    console.log(
      `${name.padEnd(22)} ${n.padStart(6)} ${pos.padStart(5)} ${f.toFixed(4).padStart(11)} ${q.toFixed(4).padStart(8)} ` +
        `${(q - f).toFixed(4).padStart(8)}  ${extra}`,
    );
  for (const [plan, items] of val) {
    const scored = {
      fp32: items.map((it) => score('fp32', plan.name, it)),
      int8: items.map((it) => score('int8', plan.name, it)),
    };
    const perLabel = plan.labels.map((label, j) => {
      const keep = items.map((_, i) => i).filter((i) => !Number.isNaN(items[i]?.y[j]));
      const y = keep.map((i) => items[i]?.y[j] ?? 0);
      const ap = (p: Precision) =>
        averagePrecision(
          keep.map((i) => scored[p][i]?.[j] ?? 0),
          y,
        );
      const [f, q] = [ap('fp32'), ap('int8')];
      const maxDiff = Math.max(
        0,
        ...keep.map((i) => Math.abs(sigmoid(scored.fp32[i]?.[j] ?? 0) - sigmoid(scored.int8[i]?.[j] ?? 0))),
      );
      if (!Number.isNaN(f - q)) worstLabel = Math.max(worstLabel, f - q);
      const name = plan.labels.length > 1 ? `${plan.name}/${label}` : plan.name;
      row(name, String(keep.length), String(y.filter((v) => v === 1).length), f, q, maxDiff.toFixed(4));
      return { f, q };
    });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const head = { name: plan.name, fp32: mean(perLabel.map((l) => l.f)), int8: mean(perLabel.map((l) => l.q)) };
    if (perLabel.length > 1) row(`${plan.name} (mean)`, '', '', head.fp32, head.int8, `over ${perLabel.length} labels`);
    heads.push(head);
  }
  const seconds = { fp32: embedded.fp32.seconds, int8: embedded.int8.seconds };
  console.log(
    `\nembedding time: fp32 ${seconds.fp32.toFixed(1)} s, int8 ${seconds.int8.toFixed(1)} s (inline, batches of 64)`,
  );
  // The gate is per head, as the acceptance rule states; a multi-label head's labels with few positives move by
  // more than their head does (one item changing rank moves the AUPRC of a label with 12 positives by ~0.01–0.02).
  const worst = Math.max(0, ...heads.map((h) => h.fp32 - h.int8));
  console.log(`largest drop of one label's AUPRC: ${worstLabel.toFixed(4)}`);
  console.log(
    `largest drop of one head's AUPRC ${worst.toFixed(4)} (bound ${maxDrop}): ` +
      `${worst <= maxDrop ? 'int8 within it' : 'int8 OUT of it'}`,
  );
  return worst <= maxDrop ? 0 : 3;
}

await runCli({ name: 'quantize-check', usage: USAGE }, main);
