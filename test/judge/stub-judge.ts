import type { IncomingHttpHeaders } from 'node:http';
import { serveLocal } from '../support/local-server.js';

/**
 * A stub judge: a real HTTP server on loopback speaking the OpenAI wire format for `/v1/chat/completions`
 * and `/v1/completions`. Each request is answered by the script given to `startStubJudge`, which can return
 * an answer text (with or without per-token logprobs), a status with an error body, a raw body that is not
 * a completion, or a delay longer than the caller's timeout. Logprobs are sent only when the request asked
 * for them, as real servers do.
 */

/** One generated token and its alternatives: token text → log-probability (the token itself included). */
export interface ScriptedToken {
  token: string;
  top: Record<string, number>;
}

export interface JudgeReply {
  /** The answer text; with `tokens`, their concatenation should equal it. */
  text?: string;
  tokens?: ScriptedToken[];
  status?: number;
  /** A body sent as is (a broken answer). */
  raw?: string;
  delayMs?: number;
  usage?: { prompt_tokens: number; completion_tokens: number };
}

/** What a judge is asked, as far as the stub and the tests read it (empty when the body was not JSON). */
export interface JudgeAsk {
  model?: string;
  messages?: { role: string; content: string }[];
  prompt?: string;
  temperature?: number;
  max_tokens?: number;
  /** Chat: whether to send logprobs. Completions: how many alternatives per token. */
  logprobs?: boolean | number;
  top_logprobs?: number;
}

export interface JudgeRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: JudgeAsk;
}

export interface StubJudge {
  url: string;
  requests: JudgeRequest[];
  /** Requests whose client went away before the answer. */
  aborted: number;
  close(): Promise<void>;
}

const chatBody = (req: JudgeAsk, r: JudgeReply) => ({
  id: 'chatcmpl-stub',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: req.model,
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: r.text ?? '' },
      logprobs:
        req.logprobs && r.tokens
          ? {
              content: r.tokens.map((t) => ({
                token: t.token,
                logprob: t.top[t.token] ?? -0.01,
                bytes: null,
                top_logprobs: Object.entries(t.top)
                  .slice(0, req.top_logprobs ?? 0)
                  .map(([token, logprob]) => ({ token, logprob, bytes: null })),
              })),
            }
          : null,
      finish_reason: 'stop',
    },
  ],
  usage: r.usage ?? { prompt_tokens: 321, completion_tokens: 1, total_tokens: 322 },
});

const completionBody = (req: JudgeAsk, r: JudgeReply) => ({
  id: 'cmpl-stub',
  object: 'text_completion',
  created: 1_700_000_000,
  model: req.model,
  choices: [
    {
      index: 0,
      text: r.text ?? '',
      logprobs:
        req.logprobs && r.tokens
          ? {
              tokens: r.tokens.map((t) => t.token),
              token_logprobs: r.tokens.map((t) => t.top[t.token] ?? -0.01),
              top_logprobs: r.tokens.map((t) =>
                Object.fromEntries(Object.entries(t.top).slice(0, Number(req.logprobs))),
              ),
              text_offset: r.tokens.map((_, i) => i),
            }
          : null,
      finish_reason: 'stop',
    },
  ],
  usage: r.usage ?? { prompt_tokens: 654, completion_tokens: 2, total_tokens: 656 },
});

/**
 * Starts the stub on a free loopback port.
 * @example
 * const judge = await startStubJudge(() => ({ text: 'C', tokens: [{ token: 'C', top: { C: -0.1, D: -2.4 } }] }));
 * // … judge.url is the base URL (…/v1); judge.requests holds what was asked
 * await judge.close();
 */
export async function startStubJudge(script: (req: JudgeRequest) => JudgeReply): Promise<StubJudge> {
  const requests: JudgeRequest[] = [];
  const state = { aborted: 0 };
  const server = await serveLocal(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: JudgeAsk;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as JudgeAsk;
    } catch {
      body = {};
    }
    const request = { path: req.url ?? '', headers: req.headers, body };
    requests.push(request);
    const reply = script(request);
    if (reply.delayMs) {
      const gone = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), reply.delayMs);
        res.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (gone || res.destroyed) return void state.aborted++;
    }
    if (reply.raw !== undefined) {
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
      return void res.end(reply.raw);
    }
    if (reply.status && reply.status >= 400) {
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      return void res.end(
        JSON.stringify({ error: { message: 'stub failure', type: 'server_error', code: null, param: null } }),
      );
    }
    const known = req.url === '/v1/chat/completions' || req.url === '/v1/completions';
    if (req.method !== 'POST' || !known) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(req.url === '/v1/chat/completions' ? chatBody(body, reply) : completionBody(body, reply)));
  });
  return {
    url: server.url,
    requests,
    get aborted() {
      return state.aborted;
    },
    close: server.close,
  };
}

/**
 * A one-token answer with its alternatives, e.g. `token('C', { ' B': -2.3 })`; the token itself gets -0.05 unless
 * given.
 */
export const token = (text: string, others: Record<string, number> = {}): ScriptedToken => ({
  token: text,
  top: { [text]: -0.05, ...others },
});
