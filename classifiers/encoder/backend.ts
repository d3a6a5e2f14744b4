/**
 * Where inference runs. onnxruntime-node's `session.run` is synchronous underneath (its promise wraps a
 * blocking call in `setImmediate`), so on the main thread a 128-token batch would stall the event loop
 * for tens of milliseconds. The default backend therefore owns the session in a worker thread; the
 * inline one exists for tools and tests that do not care.
 */
import { Worker } from 'node:worker_threads';
import { closeWorker } from '../worker-close.js';
import { EncoderError, toEncoderError } from './errors.js';
import { createSession, runSession } from './session.js';
import type { BatchInput, SessionSettings } from './session.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export interface InferenceBackend {
  readonly kind: 'worker' | 'inline';
  readonly provider: 'cuda' | 'cpu';
  /** Runs one padded batch; resolves to [batch, dim] embeddings, row-major. */
  run(input: BatchInput): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Runs the session on the calling thread. */
export async function startInlineBackend(modelPath: string, settings: SessionSettings): Promise<InferenceBackend> {
  const { session, provider } = await createSession(modelPath, settings).catch((error: unknown) => {
    throw toEncoderError(error, 'LOAD_FAILED');
  });
  return {
    kind: 'inline',
    provider,
    run: (input) => runSession(session, input).catch((error: unknown) => Promise.reject(toEncoderError(error))),
    close: () => session.release(),
  };
}

interface Pending {
  resolve(data: Float32Array): void;
  reject(error: unknown): void;
}

class WorkerBackend implements InferenceBackend {
  readonly kind = 'worker';
  provider: 'cuda' | 'cpu' = 'cpu';
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly modelPath: string,
    private readonly settings: SessionSettings,
  ) {}

  /** Starts (or restarts, after a crash) the worker and waits until its session is loaded. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { modelPath: this.modelPath, settings: this.settings },
    });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          this.provider = reply.provider;
          worker.unref();
          resolve();
        } else if (reply.type === 'load-error') {
          reject(new EncoderError('LOAD_FAILED', `the encoder model could not be loaded: ${reply.message}`));
        } else {
          const job = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          if (this.pending.size === 0 && !this.closed) worker.unref();
          if (reply.type === 'result') job?.resolve(reply.data);
          else job?.reject(new EncoderError('INFERENCE_FAILED', `the encoder model failed to run: ${reply.message}`));
        }
      });
      const crashed = (error: unknown) => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        this.ready = undefined;
        const failure = toEncoderError(error, 'INFERENCE_FAILED');
        reject(failure);
        for (const job of this.pending.values()) job.reject(failure);
        this.pending.clear();
      };
      worker.on('error', crashed);
      worker.on('exit', (code) => crashed(new Error(`encoder worker exited with code ${code}`)));
    });
    return this.ready;
  }

  async run(input: BatchInput): Promise<Float32Array> {
    if (this.closed) throw new EncoderError('CLOSED');
    await this.start();
    const worker = this.worker;
    if (!worker) throw new EncoderError('INFERENCE_FAILED', 'the encoder worker is not running');
    const id = this.nextId++;
    const result = new Promise<Float32Array>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    worker.ref();
    const request: WorkerRequest = { type: 'run', id, input };
    worker.postMessage(request, [input.ids.buffer as ArrayBuffer, input.mask.buffer as ArrayBuffer]);
    return result;
  }

  /**
   * Asks the worker to finish its current batch, release the session and exit. It is never terminated
   * mid-run (that aborts the process); if it has not exited after `graceMs`, it is unref'd and left to finish.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    for (const job of this.pending.values()) job.reject(new EncoderError('CLOSED'));
    this.pending.clear();
    if (!worker) return;
    const request: WorkerRequest = { type: 'close' };
    await closeWorker(worker, request, graceMs);
  }
}

/**
 * Runs the session in a worker thread; a crashed worker is restarted on the next batch.
 * @example
 * const backend = await startWorkerBackend(modelPath, { intraOpThreads: 2 });
 * const vectors = await backend.run({ ids, mask, batch: 1, sequence: ids.length }); // Float32Array(512)
 */
export async function startWorkerBackend(modelPath: string, settings: SessionSettings): Promise<InferenceBackend> {
  const backend = new WorkerBackend(modelPath, settings);
  try {
    await backend.start();
  } catch (error) {
    await backend.close();
    throw toEncoderError(error, 'LOAD_FAILED');
  }
  return backend;
}
