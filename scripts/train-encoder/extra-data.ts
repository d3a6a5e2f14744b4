/**
 * Data the encoder fine-tuning adds to the heads' data (`scripts/train/specs.ts`):
 *  - hand-written contrast pairs (`contrast/*.jsonl`): a safe look-alike and the harmful request it resembles,
 *    kept in one split together (hashed by pair id with the same seed), so the model is taught the difference,
 *    not the topic;
 *  - augmentation: copies of training-split texts under the evasion transformations of `scripts/evasion`, with
 *    their labels unchanged, for harmful and safe texts alike (so an obfuscation is not itself the signal).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { prng, TRANSFORMS } from '../evasion/transforms.js';
import { splitOf, type Split } from '../train/data.js';
import type { Item } from '../train/heads-data.js';

const PairSchema = z.strictObject({
  pair: z.string().min(1),
  kind: z.enum(['homonym', 'figurative', 'fiction', 'history', 'definition', 'public-figure', 'safe-context']),
  benign: z.string().min(1),
  harmful: z.string().min(1),
  /** The MLCommons hazard code of the harmful side. */
  category: z.string().regex(/^S(?:1[0-4]|[1-9])$/),
});
export type ContrastPair = z.infer<typeof PairSchema> & { file: string };

/** Reads every `*.jsonl` in the contrast folder; a bad line names its file and line. */
export function readContrast(dir: string): ContrastPair[] {
  const out: ContrastPair[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        const parsed = PairSchema.safeParse(JSON.parse(line));
        if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.message}`);
        out.push({ ...parsed.data, file });
      });
  }
  return out;
}

/** The contrast pairs as items of one head: both sides are negatives for jailbreak and injection. */
export function contrastItems(pairs: ContrastPair[], head: string, labels: readonly string[], seed: number): Item[] {
  const out: Item[] = [];
  for (const p of pairs) {
    const split: Split = splitOf(seed, `contrast:${p.pair}`);
    const zeros = labels.map(() => 0);
    const harmful =
      head === 'unsafe' ? [1] : head === 'categories' ? labels.map((l) => (l === p.category ? 1 : 0)) : zeros;
    out.push({ text: p.benign, y: zeros, source: 'contrast_benign', split });
    out.push({ text: p.harmful, y: harmful, source: 'contrast_harmful', split });
  }
  return out;
}

/** Obfuscations a text classifier meets that the tokenizer sees differently (encodings are left to the normaliser). */
const AUGMENTATIONS = [
  'mixed case',
  'homoglyphs',
  'leetspeak',
  'zero-width',
  'dotted letters',
  'leet + zero-width + case',
];
const RATE = 0.12;

/** Transformed copies of about 12% of the training-split items (source `aug`), labels unchanged. */
export function augment(items: Item[], seed: number): Item[] {
  const random = prng(seed ^ 0x5eed);
  const out: Item[] = [];
  for (const it of items) {
    if (it.split !== 'train' || it.prompt !== undefined || random() >= RATE) continue;
    const name = AUGMENTATIONS[Math.floor(random() * AUGMENTATIONS.length)];
    out.push({ ...it, text: TRANSFORMS[name](it.text, random), source: 'aug' });
  }
  return out;
}
