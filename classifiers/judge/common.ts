import { z } from 'zod';
import type { ClassifierInput } from '../types.js';
import { canonicalJson, sha256Hex } from '../../audit/canonical.js';
import { LruCache } from '../lru.js';
import type { JudgeAnswer } from './wire.js';

/** Parameters every judge shares: where it is, how sure a bare answer is, and its cache. */
export const EndpointParams = {
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8000/v1`. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** Sent as `Authorization: Bearer …`; never recorded. */
  apiKey: z.string().min(1).optional(),
  model: z.string().min(1),
  /** The probability given to the parsed answer when the server sends no logprobs; the rest is spread evenly. */
  confidence: z.number().gt(0).max(1).default(0.9),
  /**
   * An LRU of verdicts keyed by model, template/rubric revision, stage and the normalised prompt and answer; off
   * unless a size is given. `ttlMs`: how long a verdict is served again (default 1 hour; 0: until evicted).
   */
  cache: z
    .strictObject({
      size: z.number().int().min(0).max(1_000_000),
      ttlMs: z.number().int().min(0).default(3_600_000),
    })
    .optional(),
};

/**
 * Probabilities from a bare answer: `confidence` on it, the rest spread evenly over the other choices.
 * @example confidenceSpread('C', ['A', 'B', 'C', 'D'], 0.7) // { A: 0.1, B: 0.1, C: 0.7, D: 0.1 }
 */
export function confidenceSpread(
  choice: string,
  choices: readonly string[],
  confidence: number,
): Record<string, number> {
  const rest = choices.length > 1 ? (1 - confidence) / (choices.length - 1) : 0;
  return Object.fromEntries(choices.map((c) => [c, c === choice ? (choices.length > 1 ? confidence : 1) : rest]));
}

/** The request and the answer a grade is about: on the input stage the selected text is the request itself. */
export function conversationOf(input: ClassifierInput): { prompt?: string; output?: string } {
  return input.stage === 'input' ? { prompt: input.text } : { prompt: input.prompt, output: input.text };
}

/**
 * A cached grade as served again: its own copy of the scores, marked cached, and no tokens or time spent,
 * so summing `prompt_tokens` over records counts what the judge was actually asked.
 */
export const servedFromCache = <G extends { scores: Record<string, number>; details?: Record<string, unknown> }>(
  hit: G,
): G => ({
  ...hit,
  scores: { ...hit.scores },
  details: { ...hit.details, cached: true, prompt_tokens: 0, completion_tokens: 0, judge_ms: 0 },
});

/**
 * A bounded LRU whose entries expire `ttlMs` after they were stored (0: never), so a verdict is not served
 * forever after the judge model or its server changed behind the same name.
 */
export class VerdictCache<V> {
  readonly #lru: LruCache<string, { value: V; at: number }>;

  constructor(
    size: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#lru = new LruCache(size);
  }

  get(key: string): V | undefined {
    const hit = this.#lru.get(key);
    if (!hit) return undefined;
    if (this.ttlMs > 0 && this.now() - hit.at >= this.ttlMs) return undefined;
    return hit.value;
  }

  set(key: string, value: V): void {
    this.#lru.set(key, { value, at: this.now() });
  }

  get size(): number {
    return this.#lru.size;
  }
}

/** A judge's cache, or none. Its keys come from `verdictKey`. */
export const cacheOf = <V>(cache: { size: number; ttlMs: number } | undefined): VerdictCache<V> | undefined =>
  cache && cache.size > 0 ? new VerdictCache<V>(cache.size, cache.ttlMs) : undefined;

/** A cache key: the sha256 of the canonical JSON of its parts, so the raw prompt and output are never held. */
export const cacheKey = (parts: readonly unknown[]): string => sha256Hex(canonicalJson(parts));

/**
 * Text as the cache compares it: Unicode NFKC, runs of whitespace as one space, trimmed; so a verdict is reused
 * for the same words however they were spaced or encoded. The judge itself always gets the text as it was.
 * @example normalizeForCache('  How\u00a0to\n\nbake ') // 'How to bake'
 */
export const normalizeForCache = (text: string | undefined): string | null =>
  text === undefined ? null : text.normalize('NFKC').replace(/\s+/g, ' ').trim();

/**
 * A verdict's cache key: the judge model, its format's revision (template and rubric or policy text), the stage,
 * and the normalised request and answer.
 */
export const verdictKey = (model: string, revision: string, input: ClassifierInput): string => {
  const c = conversationOf(input);
  return cacheKey([model, revision, input.stage, normalizeForCache(c.prompt), normalizeForCache(c.output)]);
};

/** What a judge call cost, for the decision record: the raw answer, the model, tokens and time. */
export const accounting = (answer: JudgeAnswer, model: string) => ({
  answer: answer.text,
  model,
  prompt_tokens: answer.usage.prompt_tokens,
  completion_tokens: answer.usage.completion_tokens,
  judge_ms: Math.round(answer.httpMs * 10) / 10,
  cached: false,
});
