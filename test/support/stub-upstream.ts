import type { IncomingHttpHeaders } from 'node:http';
import { serveLocal } from './local-server.js';

/**
 * A stub OpenAI-compatible model server: a real HTTP server on loopback that answers chat completions in JSON
 * and SSE. What it does is chosen by the request's `model`:
 * - anything else: answers `reply` (default: "Echo: <last user message>");
 * - `error-400` / `error-500`: an OpenAI-shaped error with that status;
 * - `slow`: waits `slowMs` before answering;
 * - `bad-json`: a 200 whose body is not JSON;
 * - `die`: streams two chunks, then drops the connection.
 */
export interface StubOptions {
  /** Fixed answer text; default echoes the last user message. */
  reply?: (lastUser: string, body: StubBody) => string;
  /** Delay between SSE chunks, in ms. */
  chunkDelayMs?: number;
  slowMs?: number;
  /** Characters per SSE chunk. */
  chunkChars?: number;
  /** Scripted deltas: the exact content pieces to stream (overrides `reply` + `chunkChars` for streams). */
  pieces?: (lastUser: string) => string[];
  /** Scripted timing: the wait before piece `i`, in ms (overrides `chunkDelayMs`). */
  delayMs?: (i: number) => number;
  /** Send a usage chunk (`choices: []`) after the finish chunk; also sent when the request asks for it. */
  usage?: boolean;
  /** Send an SSE comment (`: keep-alive`) before every piece. */
  keepAlive?: boolean;
  /** Split each event's JSON over several `data:` lines. */
  multiLineData?: boolean;
  /** Leave out the opening role chunk. */
  noRole?: boolean;
  /** A tool call the model makes after its text for this prompt (JSON: `message.tool_calls`; SSE: its deltas). */
  toolCall?: (lastUser: string) => { name: string; arguments: string } | undefined;
  /** Add `stub_ms` to every chunk: milliseconds from the request's arrival to the chunk's send (for benchmarks). */
  stamp?: boolean;
}

/** A request body as the stub read it: the chat fields it and the tests look at, and any others. */
export interface StubBody {
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  messages?: { role: string; content: unknown }[];
  [field: string]: unknown;
}

export interface StubRequest {
  /** performance.now() when the request's body had arrived. */
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  /** Empty when the request had no body or one that is not a JSON object; `raw` holds the text. */
  body: StubBody;
  raw: string;
}

export interface StubUpstream {
  url: string;
  port: number;
  requests: StubRequest[];
  /** Streams whose client went away before the end. */
  aborted: number;
  /** Streams sent to the end. */
  completed: number;
  close(): Promise<void>;
}

const lastUser = (body: StubBody): string => {
  const message = (body.messages ?? []).findLast((m) => m.role === 'user');
  if (!message) return '';
  return typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
};

/** The body as an object; anything else (empty, not JSON, not an object) reads as no fields. */
function parseBody(raw: string): StubBody {
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as StubBody) : {};
  } catch {
    return {};
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startStubUpstream(opts: StubOptions = {}): Promise<StubUpstream> {
  const { chunkDelayMs = 0, slowMs = 2000, chunkChars = 8 } = opts;
  const requests: StubRequest[] = [];
  const state = { aborted: 0, completed: 0 };
  let n = 0;
  const server = await serveLocal(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = parseBody(raw);
    requests.push({ at: performance.now(), path: req.url ?? '', headers: req.headers, body, raw });
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ object: 'list', data: [{ id: 'stub-model', object: 'model', created: 0, owned_by: 'stub' }] }),
      );
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({ error: { message: 'not found', type: 'invalid_request_error', code: null, param: null } }),
      );
    }
    const model = body.model ?? '';
    if (model === 'error-400' || model === 'error-500') {
      const status = model === 'error-400' ? 400 : 500;
      res.writeHead(status, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          error: {
            message: `stub ${status}`,
            type: status === 400 ? 'invalid_request_error' : 'server_error',
            code: 'stub',
            param: null,
          },
        }),
      );
    }
    if (model === 'slow') await sleep(slowMs);
    if (model === 'bad-json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"id": "x", "choices": [');
    }
    const text = opts.reply ? opts.reply(lastUser(body), body) : `Echo: ${lastUser(body)}`;
    const id = `chatcmpl-stub${++n}`;
    const call = opts.toolCall?.(lastUser(body));
    const toolCall = call && { id: `call_stub${n}`, type: 'function', function: call };
    const finish = toolCall ? 'tool_calls' : 'stop';
    const created = 1_700_000_000;
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: text, ...(toolCall && { tool_calls: [toolCall] }) },
              finish_reason: finish,
              logprobs: null,
            },
          ],
          usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
        }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let closed = false;
    res.on('close', () => {
      if (!res.writableFinished) {
        closed = true;
        state.aborted++;
      }
    });
    const arrived = performance.now();
    const event = (data: object) => {
      const json = JSON.stringify(opts.stamp ? { ...data, stub_ms: performance.now() - arrived } : data);
      if (!opts.multiLineData) return res.write(`data: ${json}\n\n`);
      const cut = json.indexOf(',"choices"');
      return res.write(`data: ${json.slice(0, cut + 1)}\ndata: ${json.slice(cut + 1)}\n\n`);
    };
    const send = (delta: object, finish: string | null = null) =>
      event({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
    if (!opts.noRole) send({ role: 'assistant', content: '' });
    const pieces = opts.pieces
      ? opts.pieces(lastUser(body))
      : (text.match(new RegExp(`[\\s\\S]{1,${chunkChars}}`, 'g')) ?? []);
    for (let i = 0; i < pieces.length; i++) {
      if (closed) return;
      const wait = opts.delayMs ? opts.delayMs(i) : chunkDelayMs;
      if (wait) await sleep(wait);
      if (closed) return;
      if (opts.keepAlive) res.write(': keep-alive\n\n');
      if (model === 'die' && i === 2) {
        await sleep(50);
        return res.destroy();
      }
      send({ content: pieces[i] });
    }
    if (closed) return;
    if (toolCall) {
      send({ tool_calls: [{ index: 0, ...toolCall, function: { name: toolCall.function.name, arguments: '' } }] });
      for (const piece of toolCall.function.arguments.match(/[\s\S]{1,8}/g) ?? [])
        send({ tool_calls: [{ index: 0, function: { arguments: piece } }] });
    }
    send({}, finish);
    if (opts.usage || body.stream_options?.include_usage) {
      event({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: { prompt_tokens: 5, completion_tokens: pieces.length, total_tokens: 5 + pieces.length },
      });
    }
    state.completed++;
    res.end('data: [DONE]\n\n');
  });
  return {
    url: server.url,
    port: server.port,
    requests,
    get aborted() {
      return state.aborted;
    },
    get completed() {
      return state.completed;
    },
    close: server.close,
  };
}
