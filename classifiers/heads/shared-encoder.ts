/**
 * One sentence encoder per process, shared by the `onnx` and `rbrm-local` classifiers: reference-counted,
 * created on first use, closed when the last user releases it. A failed start is not cached, so the next call
 * retries. `EncoderLease` is one classifier's hold on it.
 */
import type { Encoder } from '../encoder/index.js';
import { DEFAULT_PRECISION, type Precision } from '../encoder/precision.js';

/**
 * `GATEWAY_ENCODER_PRECISION` (`int8` or `fp32`) picks the shared encoder's precision; unset, the encoder's default
 * (int8). A bad value fails the encoder's start, so the classifiers fail closed and say why.
 */
function precisionFromEnv(): Precision | undefined {
  const value = process.env.GATEWAY_ENCODER_PRECISION;
  return value === undefined || value === '' ? undefined : (value as Precision);
}

/**
 * The precision the gateway's shared encoder serves at: `GATEWAY_ENCODER_PRECISION`, else the encoder's default.
 * `npm run calibrate` scores at this precision, so levels are chosen on the embeddings the gateway serves.
 */
export const servedPrecision = (): Precision => precisionFromEnv() ?? DEFAULT_PRECISION;

/**
 * How long a lone text waits for company before it runs (`GATEWAY_ENCODER_MAX_WAIT_MS`); unset, the encoder's
 * default (2 ms). It waits only when calls arrived while the previous batch ran (encoder/batcher.ts), so one caller
 * at a time never pays it. bench/learned-path.ts sets 0 beside 2: 0 lowered the latency at concurrency 1, 2 gave more
 * throughput at 32, on a shared box where neither difference was clear of the noise.
 */
function maxWaitFromEnv(): number | undefined {
  const value = process.env.GATEWAY_ENCODER_MAX_WAIT_MS;
  return value === undefined || value === '' ? undefined : Number(value);
}

interface Shared {
  pending: Promise<Encoder>;
  users: number;
}
/** One encoder per encoder file: '' is the npm-package encoder, otherwise a fine-tuned weights index (finetuned.ts). */
const shared = new Map<string, Shared>();

/** Returns the shared encoder, starting it if needed; pair every call with `releaseEncoder()` (same `weights`). */
export async function acquireEncoder(weights = ''): Promise<Encoder> {
  let entry = shared.get(weights);
  // Imported on first use, so loading the classifier registry does not load onnxruntime.
  if (!entry) {
    const settings = { precision: precisionFromEnv(), maxWaitMs: maxWaitFromEnv() };
    const pending = import('../encoder/index.js').then(async ({ Encoder }) =>
      weights
        ? Encoder.create({
            ...settings,
            model: await (await import('../encoder/finetuned.js')).ensureFineTunedModel(weights),
          })
        : Encoder.create(settings),
    );
    entry = { pending, users: 0 };
    shared.set(weights, entry);
  }
  entry.users++;
  const { pending } = entry;
  try {
    return await pending;
  } catch (error) {
    entry.users--;
    if (shared.get(weights)?.pending === pending) shared.delete(weights);
    throw error;
  }
}

/** Drops one reference; the last one closes the encoder. */
export async function releaseEncoder(weights = ''): Promise<void> {
  const entry = shared.get(weights);
  if (!entry || entry.users === 0) return;
  entry.users--;
  if (entry.users > 0) return;
  shared.delete(weights);
  await (await entry.pending.catch(() => undefined))?.close();
}

/** Where a classifier's encoder comes from: the shared one by default; tests pass their own. */
export interface EncoderSource {
  acquire(): Promise<Encoder>;
  release(): Promise<void>;
}
export const SHARED_ENCODER: EncoderSource = { acquire: () => acquireEncoder(), release: () => releaseEncoder() };

/** The shared encoder for a model folder's fine-tuned weights (`heads.json` `encoderWeights`), or the default one. */
export function sharedEncoderFor(weights?: string): EncoderSource {
  if (!weights) return SHARED_ENCODER;
  return { acquire: () => acquireEncoder(weights), release: () => releaseEncoder(weights) };
}

/**
 * One classifier's hold on an encoder: acquired on first use and checked against the encoder the heads were
 * trained on; released on close, or at once when the start fails (so the next call retries with a fresh
 * reference). After close, `get` rejects.
 *
 * @example
 * const lease = new EncoderLease(SHARED_ENCODER, model.manifest.encoder);
 * const encoder = await lease.get();
 * await lease.close();
 */
export class EncoderLease {
  private encoder?: Promise<Encoder>;
  private acquired = false;
  private closed = false;

  constructor(
    private readonly source: EncoderSource,
    private readonly trainedOn: string,
  ) {}

  get(): Promise<Encoder> {
    if (this.closed) return Promise.reject(new Error('classifier is closed'));
    this.encoder ??= (async () => {
      const encoder = await this.source.acquire();
      this.acquired = true;
      if (encoder.version !== this.trainedOn)
        throw new Error(`heads were trained on encoder ${this.trainedOn}, but ${encoder.version} is loaded`);
      return encoder;
    })().catch(async (error: unknown) => {
      this.encoder = undefined;
      await this.release();
      throw error;
    });
    return this.encoder;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const starting = this.encoder;
    this.encoder = undefined;
    await starting?.catch(() => undefined);
    await this.release();
  }

  private async release(): Promise<void> {
    if (!this.acquired) return;
    this.acquired = false;
    await this.source.release();
  }
}

/**
 * Texts run through the model so far by every shared encoder this process has started (the npm-package one and one
 * per fine-tuned weights file): what test/heads/encodes-per-request.test.ts counts.
 */
export async function encodedTexts(): Promise<number> {
  let total = 0;
  for (const entry of shared.values())
    total += (await entry.pending.catch(() => undefined))?.stats().batcher.items ?? 0;
  return total;
}
