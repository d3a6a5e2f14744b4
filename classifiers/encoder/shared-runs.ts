/**
 * Each distinct text runs through the model once, however many callers ask for it: a cached vector is a copy
 * out of the LRU cache, and a text already queued or running is joined rather than submitted again. One request
 * asks for the same text several times at once (the heads on the prompt, the grader on the prompt, a conversation
 * view that equals the whole text), so without the join every such call would run the model.
 *
 * A joined text is dropped from the queue only when every caller waiting on it has given up (timeout, abort).
 */
import type { MicroBatcher, Submission } from './batcher.js';
import { EncoderError } from './errors.js';
import type { LruCache } from '../lru.js';

/** A text to embed: its cache key (over what the model reads) and how to get its token ids. */
export interface KeyedText {
  key: string;
  ids: () => number[];
}

/** One text on its way through the model, awaited by every call that asked for it meanwhile. */
interface Shared {
  submission: Submission<Float32Array>;
  /** Resolves once the vector is in the cache. */
  vector: Promise<Float32Array>;
  waiters: number;
}

/**
 * @example
 * const runs = new SharedRuns(cache, batcher, (ids) => ({ ids }), 5000);
 * const [a, b] = await runs.embed([{ key: 'k1', ids: () => [5, 9] }, { key: 'k1', ids: () => [5, 9] }]); // one run
 */
export class SharedRuns<J> {
  /** Texts queued or in the model, by cache key. */
  private readonly running = new Map<string, Shared>();

  constructor(
    private readonly cache: LruCache<string, Float32Array>,
    private readonly batcher: MicroBatcher<J, Float32Array>,
    private readonly job: (ids: number[]) => J,
    private readonly timeoutMs: number,
  ) {}

  /** Texts queued or running now (each counted once, however many callers wait on it). */
  get inFlight(): number {
    return this.running.size;
  }

  /** One vector per entry, in order; each a copy the caller may modify. */
  async embed(entries: ReadonlyArray<KeyedText>, signal?: AbortSignal): Promise<Float32Array[]> {
    if (signal?.aborted) throw new EncoderError('ABORTED', undefined, { cause: signal.reason });
    const out = new Array<Float32Array>(entries.length);
    // Each distinct text that missed the cache: how to tokenize it, and every position that asked for it.
    const misses = new Map<string, { ids: () => number[]; positions: number[] }>();
    entries.forEach(({ key, ids }, i) => {
      const hit = this.cache.get(key);
      if (hit) out[i] = hit.slice();
      else if (misses.has(key)) misses.get(key)?.positions.push(i);
      else misses.set(key, { ids, positions: [i] });
    });
    if (misses.size === 0) return out;

    const pending = [...misses].map(([key, miss]) => ({ key, miss, shared: this.share(key, miss.ids) }));
    let stop: (error: EncoderError) => void = () => {};
    const stopped = new Promise<never>((_, reject) => {
      stop = reject;
    });
    const timer = setTimeout(
      () => stop(new EncoderError('TIMEOUT', `the encoder did not answer within ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    const onAbort = () => stop(new EncoderError('ABORTED', undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const vectors = await Promise.race([Promise.all(pending.map((p) => p.shared.vector)), stopped]);
      pending.forEach(({ miss }, k) => {
        for (const i of miss.positions) out[i] = vectors[k].slice();
      });
      return out;
    } catch (error) {
      for (const { key, shared } of pending) this.leave(key, shared, error);
      throw error instanceof EncoderError ? error : new EncoderError('INFERENCE_FAILED', undefined, { cause: error });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stopped.catch(() => {});
    }
  }

  /** Joins the text already queued or running under `key`, or submits it. */
  private share(key: string, ids: () => number[]): Shared {
    const joined = this.running.get(key);
    if (joined) {
      joined.waiters++;
      return joined;
    }
    const submission = this.batcher.submit(this.job(ids()));
    const done = () => this.running.get(key) === shared && this.running.delete(key);
    const shared: Shared = {
      submission,
      waiters: 1,
      vector: submission.promise.then(
        (vector) => {
          done();
          this.cache.set(key, vector);
          return vector;
        },
        (error: unknown) => {
          done();
          throw error;
        },
      ),
    };
    shared.vector.catch(() => {});
    this.running.set(key, shared);
    return shared;
  }

  /** A caller gave up on `shared`; the last one to leave drops it from the queue. */
  private leave(key: string, shared: Shared, reason: unknown): void {
    if (--shared.waiters > 0) return;
    if (this.running.get(key) === shared) this.running.delete(key);
    shared.submission.cancel(reason);
  }
}
