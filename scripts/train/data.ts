/**
 * Reads the labelled JSONL files in `../shared/data` (never copied into the repository) and assigns each
 * record to a train / validation / test split by a seeded hash of its group key, so that the same text, or a
 * prompt and its responses, always land in the same split.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const RecordSchema = z.object({
  id: z.string(),
  text: z.string(),
  label: z.enum(['safe', 'unsafe']),
  stage: z.enum(['input', 'output']),
  kind: z.enum(['request', 'content', 'jailbreak', 'injection', 'response']),
  source: z.string(),
  // cyberseceval_interpreter nests its own labels in an inner array; flatten them.
  categories: z
    .array(z.union([z.string(), z.array(z.string())]))
    .default([])
    .transform((c) => c.flat()),
  prompt: z.string().optional(),
  rbrm: z.enum(['A', 'B', 'C', 'D']).optional(),
});
export type DataRecord = z.infer<typeof RecordSchema> & { file: string; split: Split };
export type Split = 'train' | 'val' | 'test';

/** Lower-cased, whitespace-collapsed text: the key for duplicates across sources. */
export const normalise = (text: string): string => text.toLowerCase().replace(/\s+/g, ' ').trim();

/** A deterministic number in [0, 1) from a seed and a key. */
export function unit(seed: number, key: string): number {
  return createHash('sha256').update(`${seed}:${key}`).digest().readUInt32BE(0) / 2 ** 32;
}

export function splitOf(seed: number, key: string, fractions = { train: 0.7, val: 0.15 }): Split {
  const u = unit(seed, key);
  return u < fractions.train ? 'train' : u < fractions.train + fractions.val ? 'val' : 'test';
}

/**
 * Loads every `*.jsonl` under `dir` (validated with zod; a bad line names its file and line).
 * @example
 * const records = loadRecords(join(repoRoot, '..', 'shared', 'data'), 7);
 */
export function loadRecords(dir: string, seed: number): DataRecord[] {
  const out: DataRecord[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (!line.trim()) return;
        const parsed = RecordSchema.safeParse(JSON.parse(line));
        if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.message}`);
        const r = parsed.data;
        const group = normalise(r.stage === 'output' ? (r.prompt ?? r.text) : r.text);
        out.push({ ...r, file, split: splitOf(seed, group) });
      });
  }
  return out;
}

/** SHA-256 of a file's bytes, for the model card's record of what was trained on. */
export const fileHash = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
