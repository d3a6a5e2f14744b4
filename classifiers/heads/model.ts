/**
 * A trained model directory: `heads.json` (labels, calibration, thresholds, file hashes) plus one `.onnx`
 * per head. Loading checks every file's SHA-256 against the manifest and the Platt constants inside each
 * graph against the manifest, so a half-updated directory fails at load, not at request time.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { LinearHead, Platt } from './linear.js';
import { readHead } from './read-head.js';

export const HEAD_NAMES = ['unsafe', 'categories', 'jailbreak', 'injection', 'refusal'] as const;
export type HeadName = (typeof HEAD_NAMES)[number];
export const MANIFEST_FORMAT = 'rbrm-heads/1';

const HeadEntrySchema = z.strictObject({
  file: z.string().regex(/^[\w.-]+\.onnx$/),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** `text`: one embedding of the text; `prompt+response`: `[p, r, p⊙r]` of the prompt and the text. */
  input: z.enum(['text', 'prompt+response']),
  /** `first`: the first 128-token window; `max`: the highest score over the windows of the text. */
  pooling: z.enum(['first', 'max']),
  labels: z.array(z.string().min(1)).min(1),
  calibration: z.record(z.string(), z.strictObject({ a: z.number(), c: z.number() })),
  thresholds: z.record(z.string(), z.number().min(0).max(1)),
});

export const ManifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  /** The encoder version the heads were trained on; a different encoder is refused at load. */
  encoder: z.string(),
  /** A fine-tuned encoder in this folder: its weights index (`encoder.json` + `encoder.f16`, see encoder/finetuned.ts). */
  encoderWeights: z
    .string()
    .regex(/^[\w.-]+\.json$/)
    .optional(),
  seed: z.number().int(),
  heads: z.partialRecord(z.enum(HEAD_NAMES), HeadEntrySchema),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type HeadEntry = z.infer<typeof HeadEntrySchema>;

export interface LoadedHead {
  name: HeadName;
  entry: HeadEntry;
  head: LinearHead;
  platt: Platt[];
  thresholds: number[];
}

export interface LoadedModel {
  dir: string;
  manifest: Manifest;
  /** SHA-256 over the manifest bytes, which name every head file's hash: the artifact's identity. */
  hash: string;
  heads: Map<HeadName, LoadedHead>;
}

/** A head the model was loaded with; asking for one it was not loaded with is a bug, and says so. */
export function headOf(model: LoadedModel, name: HeadName): LoadedHead {
  const head = model.heads.get(name);
  if (!head) throw new Error(`model ${model.dir} was not loaded with head ${name}`);
  return head;
}

/** The fine-tuned encoder weights the heads were trained with, or undefined for the npm-package encoder. */
export const encoderWeightsPath = (model: LoadedModel): string | undefined =>
  model.manifest.encoderWeights ? join(model.dir, model.manifest.encoderWeights) : undefined;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The repository's `classifiers/models`, found from this module whether it runs from `dist/` or not. */
export function modelsRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'classifiers', 'models')))
      return join(dir, 'classifiers', 'models');
    dir = dirname(dir);
  }
  throw new Error('cannot find classifiers/models above the heads module');
}

/**
 * A model name (`default`) is a folder under `classifiers/models`; a path (it has a slash) is resolved
 * against `baseDir` (the declaring policy's folder), or the working directory.
 */
export function modelDir(model: string, baseDir?: string): string {
  if (!model.includes('/')) return join(modelsRoot(), model);
  return baseDir ? resolve(baseDir, model) : resolve(model);
}

/**
 * Loads and verifies the heads of a model directory (all of them, or those named). Synchronous: the files
 * are small, and a classifier reads them at construction so that a bad model fails at policy load.
 * @example
 * const model = loadModel(modelDir('default'), ['unsafe', 'jailbreak']);
 */
export function loadModel(dir: string, only?: readonly HeadName[]): LoadedModel {
  const raw = readFileSync(join(dir, 'heads.json'));
  const manifest = ManifestSchema.parse(JSON.parse(raw.toString('utf8')));
  const heads = new Map<HeadName, LoadedHead>();
  for (const name of only ?? HEAD_NAMES) {
    const entry = manifest.heads[name];
    if (!entry) {
      if (only)
        throw new Error(`model ${dir} has no head "${name}" (it has ${Object.keys(manifest.heads).join(', ')})`);
      continue;
    }
    const bytes = readFileSync(join(dir, entry.file));
    if (sha256(bytes) !== entry.sha256)
      throw new Error(`head ${name}: ${entry.file} does not match the SHA-256 in heads.json`);
    const { head, platt } = readHead(bytes);
    if (head.labels.join('\n') !== entry.labels.join('\n'))
      throw new Error(`head ${name}: labels in ${entry.file} differ from heads.json`);
    const thresholds = entry.labels.map((label, j) => {
      const cal = entry.calibration[label];
      const t = entry.thresholds[label];
      if (!cal || t === undefined) throw new Error(`head ${name}: no calibration or threshold for ${label}`);
      if (
        Math.abs(cal.a - platt[j].a) > 1e-5 * Math.max(1, Math.abs(cal.a)) ||
        Math.abs(cal.c - platt[j].c) > 1e-5 * Math.max(1, Math.abs(cal.c))
      ) {
        throw new Error(`head ${name}: Platt constants for ${label} in ${entry.file} differ from heads.json`);
      }
      return t;
    });
    heads.set(name, { name, entry, head, platt, thresholds });
  }
  return { dir, manifest, hash: sha256(raw), heads };
}
