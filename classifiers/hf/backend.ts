/**
 * The main thread's handle on the `hf-sequence` worker: starts it (and waits for the model to load),
 * sends batches of texts, and restarts it on the next batch if it crashed.
 */
import { Worker } from 'node:worker_threads';
import { closeWorker } from '../worker-close.js';
import { HfError, HfModelError } from './errors.js';
import type { HfBatchResult, HfWorkerData, HfWorkerReply, HfWorkerRequest } from './worker.js';

interface Pending {
  resolve(result: HfBatchResult): void;
  reject(error: unknown): void;
}

/**
 * @example
 * const worker = new HfWorker(workerData);
 * await worker.start();                       // rejects with HfModelError when model.onnx cannot serve
 * const { logits } = await worker.run(['hello world']);
 */
export class HfWorker {
  provider: 'cuda' | 'cpu' = 'cpu';
  inputs: string[] = [];
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private loadFailed = false;

  constructor(private readonly data: HfWorkerData) {}

  /** Starts the worker (again, after a crash) and resolves once the model is loaded and checked. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new HfError('CLOSED', 'the classifier is closed'));
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: this.data });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: HfWorkerReply) => {
        if (reply.type === 'ready') {
          this.provider = reply.provider;
          this.inputs = reply.inputs;
          worker.unref();
          resolve();
        } else if (reply.type === 'load-error') {
          this.loadFailed = true; // the same folder would fail the same way: later calls get this error at once
          reject(new HfModelError(reply.file, reply.problem));
        } else {
          const job = this.pending.get(reply.id);
          this.pending.delete(reply.id);
          if (this.pending.size === 0 && !this.closed) worker.unref();
          if (reply.type === 'result')
            job?.resolve({ logits: reply.logits, tokens: reply.tokens, truncated: reply.truncated });
          else job?.reject(new HfError('INFERENCE_FAILED', `the model failed to run: ${reply.message}`));
        }
      });
      const crashed = (error: unknown) => {
        if (this.worker !== worker) return;
        this.worker = undefined;
        if (!this.loadFailed) this.ready = undefined;
        const failure = new HfError(
          'INFERENCE_FAILED',
          `the model worker stopped: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
        reject(failure);
        for (const job of this.pending.values()) job.reject(failure);
        this.pending.clear();
      };
      worker.on('error', crashed);
      worker.on('exit', (code) => crashed(new Error(`exit code ${code}`)));
    });
    return this.ready;
  }

  async run(texts: string[]): Promise<HfBatchResult> {
    await this.start();
    const worker = this.worker;
    if (!worker || this.closed) throw new HfError('CLOSED', 'the classifier is closed');
    const id = this.nextId++;
    const result = new Promise<HfBatchResult>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    worker.ref();
    const request: HfWorkerRequest = { type: 'run', id, texts };
    worker.postMessage(request);
    return result;
  }

  /** Lets the running batch finish, then releases the session; never terminates the worker mid-run. */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const job of this.pending.values()) job.reject(new HfError('CLOSED', 'the classifier is closed'));
    this.pending.clear();
    if (!worker) return;
    const request: HfWorkerRequest = { type: 'close' };
    await closeWorker(worker, request, graceMs);
  }
}
