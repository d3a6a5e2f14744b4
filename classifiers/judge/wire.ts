import { request } from 'undici';
import { z } from 'zod';
import type { TokenLogprobs } from './logprobs.js';

/**
 * The judge's side of the OpenAI wire format: one non-streaming call to `/chat/completions` (a judge that
 * reads messages) or `/completions` (a safety model given its exact prompt, special tokens included),
 * validated with zod and reduced to the text, the per-token log-probabilities and the usage.
 */

export type JudgeApi = 'chat' | 'completions';

export interface JudgeEndpoint {
  /** OpenAI-compatible base URL, e.g. `http://127.0.0.1:8000/v1`. */
  url: string;
  apiKey?: string;
  model: string;
  api: JudgeApi;
}

export interface JudgeAsk {
  /** `chat`: the messages; `completions`: the prompt. */
  messages?: { role: 'system' | 'user'; content: string }[];
  prompt?: string;
  maxTokens: number;
  /** How many alternatives per position to ask for (0: no logprobs). */
  topLogprobs: number;
}

export interface JudgeAnswer {
  text: string;
  /** Per generated token, when the server sent logprobs; empty otherwise. */
  tokens: TokenLogprobs[];
  usage: { prompt_tokens?: number; completion_tokens?: number };
  /** Milliseconds the HTTP call took. */
  httpMs: number;
}

/** A judge call that failed: the server's status, a malformed body, or an answer that is not one. */
export class JudgeError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'JudgeError';
  }
}

const Usage = z
  .looseObject({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
  .nullish();
const Alt = z.looseObject({ token: z.string(), logprob: z.number() });

const ChatBody = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        message: z.looseObject({ content: z.string().nullish() }),
        logprobs: z
          .looseObject({ content: z.array(Alt.extend({ top_logprobs: z.array(Alt).nullish() })).nullish() })
          .nullish(),
      }),
    )
    .min(1),
  usage: Usage,
});

const CompletionBody = z.looseObject({
  choices: z
    .array(
      z.looseObject({
        text: z.string(),
        logprobs: z
          .looseObject({
            tokens: z.array(z.string()).nullish(),
            token_logprobs: z.array(z.number().nullable()).nullish(),
            top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullish(),
          })
          .nullish(),
      }),
    )
    .min(1),
  usage: Usage,
});

const MAX_ERROR_BODY = 300;

/**
 * Sends one request at temperature 0 and returns the normalised answer. Throws a JudgeError on a non-2xx
 * status, a body that is not JSON, or JSON that is not a completion; an abort rejects with the signal's reason.
 * @example
 * const endpoint = { url, model: 'gpt-4o-mini', api: 'chat' } as const;
 * const a = await askJudge(endpoint, { messages, maxTokens: 3, topLogprobs: 10 }, signal);
 */
export async function askJudge(endpoint: JudgeEndpoint, ask: JudgeAsk, signal: AbortSignal): Promise<JudgeAnswer> {
  const base = endpoint.url.replace(/\/+$/, '');
  const logprobs = ask.topLogprobs > 0;
  const body =
    endpoint.api === 'chat'
      ? {
          model: endpoint.model,
          messages: ask.messages,
          temperature: 0,
          max_tokens: ask.maxTokens,
          stream: false,
          ...(logprobs && { logprobs: true, top_logprobs: ask.topLogprobs }),
        }
      : {
          model: endpoint.model,
          prompt: ask.prompt,
          temperature: 0,
          max_tokens: ask.maxTokens,
          stream: false,
          ...(logprobs && { logprobs: ask.topLogprobs }),
        };
  const started = performance.now();
  const res = await request(`${base}/${endpoint.api === 'chat' ? 'chat/completions' : 'completions'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(endpoint.apiKey && { authorization: `Bearer ${endpoint.apiKey}` }),
    },
    body: JSON.stringify(body),
    signal,
  });
  const raw = await res.body.text();
  const httpMs = performance.now() - started;
  // An error body goes into the result's error and the record; a server that echoes the key must not leak it.
  const excerpt = () => (endpoint.apiKey ? raw.replaceAll(endpoint.apiKey, '[api key]') : raw).slice(0, MAX_ERROR_BODY);
  if (res.statusCode < 200 || res.statusCode >= 300)
    throw new JudgeError(`judge answered HTTP ${res.statusCode}: ${excerpt()}`, res.statusCode);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new JudgeError(`judge answered a body that is not JSON: ${excerpt()}`, res.statusCode);
  }
  return endpoint.api === 'chat' ? fromChat(json, httpMs) : fromCompletion(json, httpMs);
}

function fromChat(json: unknown, httpMs: number): JudgeAnswer {
  const parsed = ChatBody.safeParse(json);
  if (!parsed.success) throw new JudgeError(`judge answer is not a chat completion: ${z.prettifyError(parsed.error)}`);
  const [choice] = parsed.data.choices;
  if (!choice) throw new JudgeError('judge answer has no choices');
  const tokens = (choice.logprobs?.content ?? []).map((t) => ({
    token: t.token,
    logprob: t.logprob,
    top: t.top_logprobs ?? [],
  }));
  return { text: choice.message.content ?? '', tokens, usage: usageOf(parsed.data.usage), httpMs };
}

function fromCompletion(json: unknown, httpMs: number): JudgeAnswer {
  const parsed = CompletionBody.safeParse(json);
  if (!parsed.success) throw new JudgeError(`judge answer is not a completion: ${z.prettifyError(parsed.error)}`);
  const [choice] = parsed.data.choices;
  if (!choice) throw new JudgeError('judge answer has no choices');
  const lp = choice.logprobs;
  const tokens = (lp?.tokens ?? []).map((token, i) => ({
    token,
    logprob: lp?.token_logprobs?.[i] ?? Number.NaN,
    top: Object.entries(lp?.top_logprobs?.[i] ?? {}).map(([t, logprob]) => ({ token: t, logprob })),
  }));
  return { text: choice.text, tokens, usage: usageOf(parsed.data.usage), httpMs };
}

const usageOf = (u: z.infer<typeof Usage>) => ({
  prompt_tokens: u?.prompt_tokens,
  completion_tokens: u?.completion_tokens,
});

/**
 * The signal a judge call runs under: the request's signal and the classifier's own timeout together, so an
 * HTTP call past its time is aborted rather than left running after runClassifier has given up on it.
 */
export const callSignal = (signal: AbortSignal, timeoutMs: number): AbortSignal =>
  AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
