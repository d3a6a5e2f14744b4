/**
 * Scores calibration items with a model folder's text heads exactly as the `onnx` classifier serves them: the
 * same encoder at the same precision (int8 scores differ from fp32 ones by enough to move a borderline case
 * across a threshold), the same windows (up to `maxChunks` of 128 tokens), the same Platt-calibrated heads. Both poolings
 * are kept (first window, and the maximum over windows), so the effect of max pooling can be measured.
 */
import { Encoder, type Precision } from '../../classifiers/encoder/index.js';
import { probabilities } from '../../classifiers/heads/linear.js';
import { ensureFineTunedModel } from '../../classifiers/encoder/finetuned.js';
import { encoderWeightsPath, loadModel, type LoadedModel } from '../../classifiers/heads/model.js';
import { EmbeddingCache } from '../train/embed-cache.js';
import type { CalItem } from './items.js';

export interface Scored {
  item: CalItem;
  /** Per label: the first window's score and the maximum over the windows. */
  first: Record<string, number>;
  max: Record<string, number>;
  windows: number;
}

export type Pooling = Record<string, 'first' | 'max'>;

/** Loads the model's text heads (those that read one text, not a prompt and a response). */
export function textHeadsOf(dir: string): LoadedModel {
  const all = loadModel(dir);
  return { ...all, heads: new Map([...all.heads].filter(([, h]) => h.entry.input === 'text')) };
}

/** Per head, how it pools as served; `override` replaces some (`{ unsafe: 'max' }`). */
export function poolingOf(model: LoadedModel, override: Pooling = {}): Pooling {
  return Object.fromEntries([...model.heads].map(([name, h]) => [name, override[name] ?? h.entry.pooling]));
}

/**
 * A gate: the labels of one head count only where another label reaches a threshold, as a policy rule
 * `all: [{label ≥ level}, {gate label ≥ threshold}]` reads them. The hazard categories are gated by the unsafe head
 * at its validation threshold: the category head reads topic (a question about heart-attack symptoms scores high
 * on S6), the unsafe head reads whether the request is harmful.
 */
export interface Gate {
  head: string;
  label: string;
  threshold: number;
}

/** The default gate: categories behind unsafe at the unsafe head's own threshold, when the model has both. */
export function defaultGates(model: LoadedModel, threshold?: number): Gate[] {
  const unsafe = model.heads.get('unsafe');
  if (!unsafe || !model.heads.has('categories')) return [];
  return [{ head: 'categories', label: 'unsafe', threshold: threshold ?? unsafe.thresholds[0] }];
}

/** The served score of a label under a pooling, 0 for a gated label whose gate is closed. */
export function scoreUnder(
  s: Scored,
  model: LoadedModel,
  pooling: Pooling,
  gates: Gate[] = [],
): Record<string, number> {
  const out: Record<string, number> = {};
  const at = (name: string, label: string) => (pooling[name] === 'max' ? s.max[label] : s.first[label]);
  for (const [name, h] of model.heads) for (const label of h.head.labels) out[label] = at(name, label);
  for (const g of gates) {
    if ((out[g.label] ?? 0) >= g.threshold) continue;
    for (const label of model.heads.get(g.head as never)?.head.labels ?? []) out[label] = 0;
  }
  return out;
}

/**
 * The model's encoder for scoring: a model folder with fine-tuned encoder weights (heads.json `encoderWeights`) is
 * scored with that encoder, at the precision the gateway serves, as the classifier serves it. Close it when done.
 */
export async function openEncoder(model: LoadedModel, precision: Precision): Promise<Encoder> {
  const weights = encoderWeightsPath(model);
  const encoder = await Encoder.create({
    precision,
    backend: 'inline',
    maxBatchSize: 64,
    cacheSize: 0,
    timeoutMs: 600_000,
    ...(weights ? { model: await ensureFineTunedModel(weights) } : {}),
  });
  if (encoder.version !== model.manifest.encoder) {
    await encoder.close();
    throw new Error(`the heads were trained on encoder ${model.manifest.encoder}, this one is ${encoder.version}`);
  }
  return encoder;
}

/**
 * Embeds (through the training embedding cache, so reruns are quick) and scores every item.
 * @example
 * const scored = await scoreItems(textHeadsOf(dir), items, { maxChunks: 4, cacheDir: '.cache/train', precision: 'int8' });
 */
export async function scoreItems(
  model: LoadedModel,
  items: readonly CalItem[],
  {
    maxChunks,
    cacheDir,
    precision,
    progress,
  }: { maxChunks: number; cacheDir: string; precision: Precision; progress?: (s: string) => void },
): Promise<Scored[]> {
  const encoder = await openEncoder(model, precision);
  try {
    const cache = new EmbeddingCache(encoder, cacheDir);
    const texts = items.map((i) => i.text);
    const windows = await cache.windows(texts, maxChunks, (done) => progress?.(`embedded ${done}/${texts.length}`));
    return items.map((item, i) => {
      const first: Record<string, number> = {};
      const max: Record<string, number> = {};
      for (const h of model.heads.values()) {
        windows[i].forEach((w, k) => {
          probabilities(h.head, h.platt, w).forEach((p, j) => {
            const label = h.head.labels[j];
            if (k === 0) first[label] = p;
            max[label] = Math.max(max[label] ?? 0, p);
          });
        });
      }
      return { item, first, max, windows: windows[i].length };
    });
  } finally {
    await encoder.close();
  }
}
