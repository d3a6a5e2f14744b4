/**
 * Builds the encoder's `.onnx` from the installed model package and caches it on disk.
 * The cache key is the model package version plus this builder's version, so upgrading either rebuilds.
 * Building takes about a second, so it runs on first start when the cached file is missing.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MODEL_PACKAGE, loadTfWeights, locateModelPackage } from './weights.js';

/** Bump whenever the graph builder changes in a way that changes the emitted model. */
export const BUILDER_VERSION = '1';
export const DEFAULT_CACHE_DIR = '.cache/encoder';

export interface EncoderArtifact {
  /** Absolute path of the `.onnx` file. */
  modelPath: string;
  /** `use-lite@<package version>+b<builder version>`, recorded with each classifier result. */
  version: string;
  /** The reference clips sequences to this many tokens. */
  maxLength: number;
  /** True when this call wrote the file, false when it was already cached. */
  built: boolean;
}

export interface EnsureEncoderOptions {
  /** Where to keep the built model; relative paths resolve against the working directory. */
  cacheDir?: string;
  /** Rebuild even if a cached file exists. */
  force?: boolean;
}

interface CacheMeta {
  modelPackage: string;
  packageVersion: string;
  builderVersion: string;
  maxLength: number;
}

async function readMeta(path: string): Promise<CacheMeta | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as CacheMeta;
  } catch {
    return undefined;
  }
}

/**
 * Returns the cached encoder model, building it first if it is missing or stale.
 * Concurrent callers in one process share one build; across processes the write is atomic (rename).
 * @example
 * const { modelPath, version } = await ensureEncoderModel({ cacheDir: '.cache/encoder' });
 */
/** Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a model. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
}

export async function ensureEncoderModel({
  cacheDir = DEFAULT_CACHE_DIR,
  force = false,
}: EnsureEncoderOptions = {}): Promise<EncoderArtifact> {
  const dir = resolve(cacheDir);
  const key = `${dir}|${force}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = ensure(dir, force).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

const inFlight = new Map<string, Promise<EncoderArtifact>>();

async function ensure(dir: string, force: boolean): Promise<EncoderArtifact> {
  const pkg = await locateModelPackage();
  const version = `use-lite@${pkg.version}+b${BUILDER_VERSION}`;
  const base = `use-lite-${pkg.version}-b${BUILDER_VERSION}`;
  const modelPath = join(dir, `${base}.onnx`);
  const metaPath = join(dir, `${base}.json`);
  const meta = await readMeta(metaPath);
  if (!force && meta && meta.packageVersion === pkg.version && meta.builderVersion === BUILDER_VERSION) {
    const size = await stat(modelPath).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0) return { modelPath, version, maxLength: meta.maxLength, built: false };
  }
  // The graph builder (and onnx-proto) is loaded only when a build is due, not by every process that encodes.
  const { buildUseLiteGraph, readShape } = await import('./use-lite-graph.js');
  const weights = await loadTfWeights(pkg);
  const { maxLength } = readShape(weights);
  const bytes = buildUseLiteGraph(
    weights,
    { name: 'rbrm-gateway/encoder', version: BUILDER_VERSION },
    {
      source_package: `${MODEL_PACKAGE}@${pkg.version}`,
      builder_version: BUILDER_VERSION,
    },
  );
  await writeFileAtomic(modelPath, bytes);
  const newMeta: CacheMeta = {
    modelPackage: MODEL_PACKAGE,
    packageVersion: pkg.version,
    builderVersion: BUILDER_VERSION,
    maxLength,
  };
  await writeFile(metaPath, `${JSON.stringify(newMeta, null, 2)}\n`);
  return { modelPath, version, maxLength, built: true };
}
