/**
 * Micro-batching: calls that arrive within `maxWaitMs` of each other run as one batch of at most
 * `maxBatchSize`. One batch runs at a time; whatever queued meanwhile goes out as soon as it finishes,
 * without waiting again. The queue is bounded, so overload is an error rather than unbounded latency.
 *
 * The wait is adaptive: a text that finds the batcher idle waits `maxWaitMs` only when items were submitted while the
 * previous batch ran (traffic is concurrent, so company is likely); otherwise it goes at the next `setImmediate`
 * (which still gathers the calls made in the same tick), so one caller at a time pays no wait.
 */
import { EncoderError } from './errors.js';

export interface MicroBatcherOptions {
  /** Most items in one batch. */
  maxBatchSize?: number;
  /**
   * How long the first item of an idle batcher waits for company, in ms, when items arrived while the previous batch
   * ran; 0 waits only for the current tick.
   */
  maxWaitMs?: number;
  /** Most items queued (not yet running); past it `submit` rejects with OVERLOADED. */
  maxQueue?: number;
}

/** Runs one batch; must return exactly one output per input, in order. */
export type BatchRunner<I, O> = (inputs: I[]) => Promise<O[]>;

export interface Submission<O> {
  promise: Promise<O>;
  /** Rejects this item with `reason` and drops it from the queue if it has not started. */
  cancel(reason: unknown): void;
}

interface Job<I, O> {
  input: I;
  settled: boolean;
  resolve(value: O): void;
  reject(reason: unknown): void;
}

export interface BatcherStats {
  batches: number;
  items: number;
  queued: number;
  largestBatch: number;
}

/**
 * @example
 * const batcher = new MicroBatcher(async (xs: number[]) => xs.map((x) => x * 2), { maxBatchSize: 16, maxWaitMs: 2 });
 * const { promise } = batcher.submit(21); // resolves to 42, batched with other calls made in the next 2 ms
 */
export class MicroBatcher<I, O> {
  private readonly queue: Array<Job<I, O>> = [];
  private readonly maxBatchSize: number;
  private readonly maxWaitMs: number;
  private readonly maxQueue: number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private running = false;
  private closed = false;
  /** Whether items were submitted while the last batch ran: the sign that waiting for company pays. */
  private concurrent = false;
  private arrivedDuringRun = false;
  /** The runner is working on a batch (false again before its callers hear back, so their next call is not counted). */
  private inRun = false;
  private readonly counters = { batches: 0, items: 0, largestBatch: 0 };

  constructor(
    private readonly runBatch: BatchRunner<I, O>,
    { maxBatchSize = 32, maxWaitMs = 2, maxQueue = 4096 }: MicroBatcherOptions = {},
  ) {
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1)
      throw new Error(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
    if (!(maxWaitMs >= 0)) throw new Error(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 1)
      throw new Error(`maxQueue must be a positive integer, got ${maxQueue}`);
    this.maxBatchSize = maxBatchSize;
    this.maxWaitMs = maxWaitMs;
    this.maxQueue = maxQueue;
  }

  submit(input: I): Submission<O> {
    let job!: Job<I, O>;
    const promise = new Promise<O>((resolve, reject) => {
      job = { input, settled: false, resolve, reject };
    });
    if (this.closed) {
      this.fail(job, new EncoderError('CLOSED'));
    } else if (this.queue.length >= this.maxQueue) {
      this.fail(job, new EncoderError('OVERLOADED'));
    } else {
      if (this.inRun) this.arrivedDuringRun = true;
      this.queue.push(job);
      this.schedule();
    }
    const cancel = (reason: unknown) => {
      const index = this.queue.indexOf(job);
      if (index >= 0) this.queue.splice(index, 1);
      this.fail(job, reason);
    };
    return { promise, cancel };
  }

  stats(): BatcherStats {
    return { ...this.counters, queued: this.queue.length };
  }

  /** Rejects everything queued with CLOSED; a running batch finishes but new submissions are refused. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    for (const job of this.queue.splice(0)) this.fail(job, new EncoderError('CLOSED'));
  }

  private fail(job: Job<I, O>, error: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.reject(error);
  }

  private fulfil(job: Job<I, O>, value: O): void {
    if (job.settled) return;
    job.settled = true;
    job.resolve(value);
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queue.length >= this.maxBatchSize) {
      this.dispatch();
    } else if (this.timer === undefined && this.immediate === undefined) {
      // No wait (after a lone batch, or maxWaitMs 0) still gathers the calls made in the same turn of the event loop.
      if (this.maxWaitMs === 0 || !this.concurrent) this.immediate = setImmediate(() => this.dispatch());
      else this.timer = setTimeout(() => this.dispatch(), this.maxWaitMs);
    }
  }

  private dispatch(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    if (this.running || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatchSize);
    this.running = true;
    this.concurrent = this.arrivedDuringRun;
    this.arrivedDuringRun = false;
    this.inRun = true;
    this.counters.batches++;
    this.counters.items += batch.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
    let outputs: Promise<O[]>;
    try {
      outputs = this.runBatch(batch.map((job) => job.input));
    } catch (error) {
      outputs = Promise.reject(error);
    }
    outputs
      .then(
        (values) => {
          this.inRun = false;
          if (values.length !== batch.length)
            throw new Error(`batch runner returned ${values.length} outputs for ${batch.length} inputs`);
          batch.forEach((job, i) => this.fulfil(job, values[i]));
        },
        (error: unknown) => {
          this.inRun = false;
          batch.forEach((job) => this.fail(job, error));
        },
      )
      .catch((error: unknown) => batch.forEach((job) => this.fail(job, error)))
      .finally(() => {
        this.running = false;
        // Items that queued during the run have already waited; send them now rather than after maxWaitMs.
        if (this.queue.length > 0) setImmediate(() => this.dispatch());
      });
  }
}
