/**
 * A bounded pool of the context's sequences: a request takes one to generate and gives it back when it ends
 * (finished, failed or aborted). Requests past the free sequences wait in FIFO order, at most `maxQueued` of them;
 * past that, or when a waiter's signal aborts, the wait fails at once.
 */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

export class Slots<T> {
  private readonly free: T[];
  private readonly waiting: { resolve: (slot: T) => void; reject: (e: unknown) => void; signal: AbortSignal }[] = [];

  constructor(
    slots: T[],
    private readonly maxQueued: number,
  ) {
    this.free = [...slots];
    this.size = slots.length;
  }

  readonly size: number;

  get busy(): number {
    return this.size - this.free.length;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A free slot, or one once freed; rejects with QueueFullError or the signal's reason. */
  acquire(signal: AbortSignal): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    if (this.waiting.length >= this.maxQueued)
      return Promise.reject(
        new QueueFullError(
          `all ${this.size} sequences are generating and ${this.waiting.length} requests are waiting; retry later`,
        ),
      );
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (s: T) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject,
        signal,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Gives a slot back: to the first waiter, or to the pool. */
  release(slot: T): void {
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.free.push(slot);
  }
}
