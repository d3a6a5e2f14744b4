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
  /** An LRU of graded (revision, stage, prompt, output); off unless a size is given. */
  cache: z.strictObject({ size: z.number().int().min(0).max(1_000_000) }).optional(),
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

/** A judge's cache, or none. Its keys come from `cacheKey`. */
export const cacheOf = <V>(cache: { size: number } | undefined): LruCache<string, V> | undefined =>
  cache && cache.size > 0 ? new LruCache<string, V>(cache.size) : undefined;

/** A cache key: the sha256 of the canonical JSON of its parts, so the raw prompt and output are never held. */
export const cacheKey = (parts: readonly unknown[]): string => sha256Hex(canonicalJson(parts));

/** What a judge call cost, for the decision record: the raw answer, the model, tokens and time. */
export const accounting = (answer: JudgeAnswer, model: string) => ({
  answer: answer.text,
  model,
  prompt_tokens: answer.usage.prompt_tokens,
  completion_tokens: answer.usage.completion_tokens,
  judge_ms: Math.round(answer.httpMs * 10) / 10,
  cached: false,
});
