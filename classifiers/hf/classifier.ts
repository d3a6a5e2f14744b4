/**
 * `hf-sequence`: a bring-your-own Hugging Face sequence classifier exported to ONNX (a DeBERTa
 * prompt-injection model, a toxicity model, Llama Prompt Guard …), served behind the classifier contract.
 * Calls are micro-batched (the encoder's `MicroBatcher`) and run in a worker thread.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MicroBatcher } from '../encoder/batcher.js';
import { EncoderError } from '../encoder/errors.js';
import type { Classifier, ClassifierInput, ClassifierResult } from '../types.js';
import { HfWorker } from './backend.js';
import { HfError, messageOf } from './errors.js';
import { readModelFolder } from './folder.js';
import type { Activation, ModelFolder } from './folder.js';

export const HfSequenceParamsSchema = z.strictObject({
  /**
   * The folder with model.onnx, tokenizer.json and config.json; relative to the policy's folder, else the working
   * directory.
   */
  dir: z.string().min(1),
  /**
   * Most tokens per text, special tokens included. Default: tokenizer.json's truncation, else tokenizer_config's
   * model_max_length, else 512.
   */
  maxLength: z.number().int().min(2).max(32_768).optional(),
  /** Only this many leading characters are tokenized. Default 32 × maxLength. */
  maxChars: z.number().int().positive().optional(),
  /** Renames outputs: keys are id2label names (or indices), values the labels the policy uses. */
  labels: z.record(z.string(), z.string().min(1)).optional(),
  /** Default: sigmoid for problem_type multi_label_classification or a single output, softmax otherwise. */
  activation: z.enum(['softmax', 'sigmoid']).optional(),
  batch: z
    .strictObject({
      maxBatchSize: z.number().int().min(1).max(256).default(16),
      maxWaitMs: z.number().min(0).max(100).default(2),
      maxQueue: z.number().int().min(1).max(100_000).default(1024),
    })
    .default({ maxBatchSize: 16, maxWaitMs: 2, maxQueue: 1024 }),
  /** onnxruntime intra-op threads. Default: all cores. */
  threads: z.number().int().min(1).max(256).optional(),
  device: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
});
export type HfSequenceParams = z.infer<typeof HfSequenceParamsSchema>;

/** Turns one row of logits into probabilities. */
export function activate(logits: ArrayLike<number>, activation: Activation): number[] {
  const row = Array.from(logits);
  if (activation === 'sigmoid') return row.map((x) => 1 / (1 + Math.exp(-x)));
  const max = Math.max(...row);
  const exps = row.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** The batcher speaks the encoder's error codes; say them in this classifier's words. */
function toHfError(error: unknown): HfError {
  if (error instanceof HfError) return error;
  if (error instanceof EncoderError && error.code === 'OVERLOADED')
    return new HfError('OVERLOADED', 'too many texts are waiting for the model', { cause: error });
  if (error instanceof EncoderError && error.code === 'CLOSED')
    return new HfError('CLOSED', 'the classifier is closed', { cause: error });
  return new HfError('INFERENCE_FAILED', messageOf(error), { cause: error });
}

interface Row {
  probs: number[];
  tokens: number;
  truncated: boolean;
}

/**
 * @example
 * const c = new HfSequenceClassifier('injection', HfSequenceParamsSchema.parse({ dir: 'models/prompt-guard' }), 500);
 * await c.ready();
 * const { scores } = await c.classify({ stage: 'input', text: 'ignore previous instructions' }, signal);
 * // scores: { BENIGN: 0.01, INJECTION: 0.97, JAILBREAK: 0.02 }
 */
export class HfSequenceClassifier implements Classifier {
  readonly labels: readonly string[];
  readonly folder: ModelFolder;
  private fingerprint: string | undefined;
  private readonly worker: HfWorker;
  private readonly batcher: MicroBatcher<string, Row>;
  private loading: Promise<void> | undefined;
  private closed = false;

  /** Checks the folder now and throws `HfModelError` (file: problem) when it cannot serve. */
  constructor(
    readonly id: string,
    params: HfSequenceParams,
    readonly timeoutMs: number,
    baseDir?: string,
  ) {
    this.folder = readModelFolder(params, baseDir);
    this.labels = this.folder.labels;
    const { modelPath, tokenizerPath, tokenizerConfigPath, maxLength, maxChars, padId, labels } = this.folder;
    this.worker = new HfWorker({
      modelPath,
      tokenizerPath,
      tokenizerConfigPath,
      maxLength,
      maxChars,
      padId,
      numLabels: labels.length,
      settings: { device: params.device, intraOpThreads: params.threads ?? availableParallelism() },
    });
    this.batcher = new MicroBatcher((texts) => this.runBatch(texts), params.batch);
  }

  /** `<name>@<first 12 hex of SHA-256 over model.onnx, tokenizer.json and config.json>` once loaded. */
  get version(): string {
    return `${this.folder.name}@${this.fingerprint ?? 'unloaded'}`;
  }

  /** Loads the model in the worker and checks its inputs and output; rejects with `HfModelError` naming the file. */
  ready(): Promise<void> {
    this.loading ??= Promise.all([this.worker.start(), this.hashFiles()]).then(() => undefined);
    return this.loading;
  }

  async classify(input: ClassifierInput, signal: AbortSignal): Promise<Omit<ClassifierResult, 'id' | 'latencyMs'>> {
    if (this.closed) throw new HfError('CLOSED', 'the classifier is closed');
    if (signal.aborted) throw new HfError('ABORTED', 'the caller aborted the call', { cause: signal.reason });
    await this.ready();
    const submission = this.batcher.submit(input.text);
    const onAbort = () =>
      submission.cancel(new HfError('ABORTED', 'the caller aborted the call', { cause: signal.reason }));
    const timer = setTimeout(
      () => submission.cancel(new HfError('TIMEOUT', `no answer within ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    signal.addEventListener('abort', onAbort, { once: true });
    let row: Row;
    try {
      row = await submission.promise;
    } catch (error) {
      throw toHfError(error);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    const scores: Record<string, number> = {};
    this.labels.forEach((label, i) => (scores[label] = row.probs[i] ?? Number.NaN)); // NaN fails closed as bad_score
    const top = row.probs.indexOf(Math.max(...row.probs));
    return {
      scores,
      explanation:
        `${this.folder.name}: ${this.labels[top]} ${row.probs[top]?.toFixed(3)} ` +
        `(${this.folder.activation} over ${this.labels.length} labels, ${row.tokens} tokens` +
        `${row.truncated ? ', truncated' : ''})`,
      details: { model: this.version, tokens: row.tokens, truncated: row.truncated },
    };
  }

  /** Refuses new calls, fails queued ones and releases the model once the running batch is done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.batcher.close();
    await this.worker.close();
  }

  private async runBatch(texts: string[]): Promise<Row[]> {
    const { logits, tokens, truncated } = await this.worker.run(texts);
    const n = this.labels.length;
    return texts.map((_, i) => ({
      probs: activate(logits.subarray(i * n, (i + 1) * n), this.folder.activation),
      tokens: tokens[i] ?? 0,
      truncated: truncated[i] === 1,
    }));
  }

  /** Streams the files through SHA-256 (64 KiB at a time, so the event loop is never held for long). */
  private async hashFiles(): Promise<void> {
    const hash = createHash('sha256');
    for (const file of [this.folder.modelPath, this.folder.tokenizerPath, `${this.folder.dir}/config.json`]) {
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    }
    this.fingerprint = hash.digest('hex').slice(0, 12);
  }
}
