import { canonicalJson, sha256Hex } from '../../audit/canonical.js';

/**
 * A small LRU keyed by the sha256 of the canonical JSON of its key parts, so the raw prompt and output are
 * never held as keys. A Map keeps insertion order; a hit moves the entry to the back.
 * @example
 * const cache = new LruCache<Grade>(1000);
 * cache.set(['rev', 'prompt', 'output'], grade);
 * cache.get(['rev', 'prompt', 'output']); // grade
 */
export class LruCache<V> {
  readonly #entries = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(readonly size: number) {}

  static key(parts: readonly unknown[]): string {
    return sha256Hex(canonicalJson(parts));
  }

  get(parts: readonly unknown[]): V | undefined {
    if (this.size <= 0) return undefined;
    const k = LruCache.key(parts);
    const v = this.#entries.get(k);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#entries.delete(k);
    this.#entries.set(k, v);
    return v;
  }

  set(parts: readonly unknown[], value: V): void {
    if (this.size <= 0) return;
    const k = LruCache.key(parts);
    this.#entries.delete(k);
    this.#entries.set(k, value);
    while (this.#entries.size > this.size) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  get length(): number {
    return this.#entries.size;
  }
}
