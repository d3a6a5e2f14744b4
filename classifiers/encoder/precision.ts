/**
 * The encoder's numeric precision. `fp32` serves the float model as built; `int8` serves a copy whose MatMul
 * weights are quantized (quantize.ts), written once next to the float model and reused. The int8 file is
 * named by the SHA-256 of the float file it came from and by QUANTIZER_VERSION, so any encoder ONNX (the
 * built one or a fine-tuned one) gets its own, and a changed source or quantizer makes a new one.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from './build.js';

export const PRECISIONS = ['int8', 'fp32'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** What serves when nothing is asked: int8 (README.md: validation AUPRC and speed, fp32 against int8). */
export const DEFAULT_PRECISION: Precision = 'int8';

/** Bump whenever quantize.ts changes the emitted model; it is part of the cached file's name. */
export const QUANTIZER_VERSION = '3';

const inFlight = new Map<string, Promise<string>>();

/**
 * The path of `modelPath` at `precision`: itself for fp32, else its cached int8 copy, quantized now when missing.
 * Concurrent callers in one process share one quantization; across processes the write is atomic (rename).
 * @example
 * const path = await modelAtPrecision('/repo/.cache/encoder/use-lite-0.2.0-b1.onnx', 'int8', '.cache/encoder');
 */
export async function modelAtPrecision(modelPath: string, precision: Precision, cacheDir: string): Promise<string> {
  if (precision === 'fp32') return modelPath;
  if (precision !== 'int8')
    throw new Error(`precision must be one of ${PRECISIONS.join(', ')}, got ${String(precision)}`);
  const key = `${resolve(modelPath)}|${resolve(cacheDir)}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = quantized(modelPath, resolve(cacheDir)).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function quantized(modelPath: string, dir: string): Promise<string> {
  const source = await readFile(modelPath);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const target = join(dir, `${basename(modelPath).replace(/\.onnx$/, '')}-${hash}-int8-q${QUANTIZER_VERSION}.onnx`);
  const size = await stat(target).then(
    (s) => s.size,
    () => 0,
  );
  if (size > 0) return target;
  // The rewrite (and onnx-proto) is loaded only when a quantization is due.
  const { quantizeMatMulWeights } = await import('./quantize.js');
  const { bytes } = quantizeMatMulWeights(source);
  await writeFileAtomic(target, bytes);
  return target;
}
