import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errors as undiciErrors, Pool, type Dispatcher } from 'undici';
import { scrubCredentials } from '../audit/mask.js';
import { sseEvents, type SseEvent } from './sse-events.js';
import {
  GeneratorError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type Generator,
} from './types.js';
import { upstreamStatusError } from './upstream-status.js';

export interface OpenAIHttpOptions {
  /** Base URL of an OpenAI-compatible API, such as http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1. */
  baseUrl: string;
  apiKey?: string;
  /** The longest wait for the upstream's headers, and for each piece of its body (each gap between chunks). */
  timeoutMs?: number;
  /** Gateway model name → upstream model name; names not listed pass through. */
  models?: Record<string, string>;
  /** Upstream connections kept open. */
  connections?: number;
  /** The largest JSON answer read, in bytes; past it the call fails `too_large` (default 8 MiB). */
  maxAnswerBytes?: number;
  /** The most bytes of one stream read; past it the stream is cut and fails `too_large` (default 32 MiB). */
  maxStreamBytes?: number;
}

/** The default caps: far past a real answer (a 100k-token stream is about 15 MB of SSE), far short of harm. */
export const DEFAULT_MAX_ANSWER_BYTES = 8 << 20;
export const DEFAULT_MAX_STREAM_BYTES = 32 << 20;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
/** Text the output stage can read: a string, or nothing. Anything else would reach the client unchecked. */
const isText = (v: unknown) => v === undefined || v === null || typeof v === 'string';
/** A choice whose `message` (or `delta`) is absent or carries text content only. */
const textOnly = (ch: unknown, part: 'message' | 'delta') =>
  isObject(ch) && (ch[part] === undefined || (isObject(ch[part]) && readable(ch[part])));
/** Content, reasoning and tool-call arguments, the texts the output stage reads, are strings or absent. */
const readable = (m: Record<string, unknown>) =>
  isText(m.content) &&
  isText(m.reasoning_content) &&
  (m.tool_calls === undefined ||
    m.tool_calls === null ||
    (Array.isArray(m.tool_calls) &&
      m.tool_calls.every(
        (t) => isObject(t) && (t.function === undefined || (isObject(t.function) && isText(t.function.arguments))),
      )));

/**
 * A chunk the pipeline can check: an object with a choices array (empty for a usage chunk) whose deltas carry
 * text content only. Found by fuzzing: a bare `"text"` event was spread into a chunk, and `{"content": 5}` or
 * `{"content": {…}}` went to the client past the output stage, which reads strings only.
 */
function isChunk(v: unknown): v is ChatCompletionChunk {
  if (!isObject(v) || !Array.isArray(v.choices)) return false;
  return v.choices.every((ch) => textOnly(ch, 'delta'));
}

/**
 * The generator for any OpenAI-compatible server: vLLM, llama.cpp server, Ollama, OpenAI. Client headers are
 * never forwarded; only the configured key goes upstream.
 *
 * @example
 * const gen = new OpenAIHttpGenerator({ baseUrl: 'http://127.0.0.1:11434/v1', models: { 'gpt-4o': 'llama3.1' } });
 * const completion = await gen.complete({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, signal);
 */
export class OpenAIHttpGenerator implements Generator {
  readonly id = 'openai-http';
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly modelMap: Record<string, string>;
  /** What is never passed on from the upstream: the configured key, whatever its shape. */
  private readonly secrets: string[];
  private readonly maxAnswerBytes: number;
  private readonly maxStreamBytes: number;

  constructor({
    baseUrl,
    apiKey,
    timeoutMs = 60_000,
    models = {},
    connections = 256,
    maxAnswerBytes = DEFAULT_MAX_ANSWER_BYTES,
    maxStreamBytes = DEFAULT_MAX_STREAM_BYTES,
  }: OpenAIHttpOptions) {
    const url = new URL(baseUrl);
    this.pool = new Pool(url.origin, { connections, keepAliveTimeout: 30_000 });
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (apiKey) this.headers.authorization = `Bearer ${apiKey}`;
    this.timeoutMs = timeoutMs;
    this.modelMap = models;
    this.maxAnswerBytes = maxAnswerBytes;
    this.maxStreamBytes = maxStreamBytes;
    this.secrets = apiKey ? [apiKey] : [];
  }

  /**
   * An upstream body that the gateway passes on (an error body, an error event, the model list) or keeps in a
   * record, without credentials: upstreams echo the key they were sent ("Incorrect API key provided: …").
   */
  scrub<T>(body: T): T {
    return scrubCredentials(body, this.secrets);
  }

  /**
   * One upstream call. The timeout applies to the wait for headers and to each wait for body data (undici's
   * own timers: no extra AbortSignal per request on the hot path).
   */
  private async send(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown) {
    try {
      const res = await this.pool.request({
        path: this.basePath + path,
        method,
        headers: this.headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      if (res.statusCode >= 400) throw await upstreamStatusError(res, (b) => this.scrub(b));
      return res;
    } catch (e) {
      throw this.classify(e, signal);
    }
  }

  /** Maps a failure to a GeneratorError kind, so the edge can answer 502, 504 or pass a 4xx through. */
  private classify(e: unknown, signal: AbortSignal): GeneratorError {
    if (e instanceof GeneratorError) return e;
    if (signal.aborted)
      return new GeneratorError('aborted', 'request aborted by the client', undefined, undefined, { cause: e });
    if (
      e instanceof undiciErrors.HeadersTimeoutError ||
      e instanceof undiciErrors.BodyTimeoutError ||
      (e as Error)?.name === 'TimeoutError'
    ) {
      return new GeneratorError(
        'timeout',
        `upstream did not answer within ${this.timeoutMs} ms`,
        undefined,
        undefined,
        { cause: e },
      );
    }
    const code = (e as { code?: string })?.code;
    return new GeneratorError('unavailable', `upstream unreachable${code ? ` (${code})` : ''}`, undefined, undefined, {
      cause: e,
    });
  }

  private upstreamRequest(request: ChatRequest, stream: boolean): ChatRequest {
    return { ...request, model: this.modelMap[request.model] ?? request.model, stream };
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const res = await this.send('POST', '/chat/completions', signal, this.upstreamRequest(request, false));
    const body = await this.readJson(res, signal);
    const c = body as ChatCompletion;
    if (!c || typeof c !== 'object' || !Array.isArray(c.choices)) {
      throw new GeneratorError('bad_response', 'upstream response has no choices array', undefined, this.scrub(body));
    }
    if (!c.choices.every((ch) => textOnly(ch, 'message'))) {
      throw new GeneratorError(
        'bad_response',
        'upstream response has a choice whose message content is not text',
        undefined,
        this.scrub(body),
      );
    }
    return c;
  }

  async *stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const res = await this.send('POST', '/chat/completions', signal, this.upstreamRequest(request, true));
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => queue.push(event) });
    const decoder = new TextDecoder();
    let finished = false;
    let read = 0;
    try {
      for await (const bytes of res.body) {
        read += (bytes as Uint8Array).byteLength;
        if (read > this.maxStreamBytes) throw this.tooLarge('stream', this.maxStreamBytes);
        parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
        for (let event = queue.shift(); event; event = queue.shift()) {
          if (event.data === '[DONE]') return;
          let chunk: ChatCompletionChunk;
          try {
            chunk = JSON.parse(event.data);
          } catch {
            throw new GeneratorError('bad_response', 'upstream sent an SSE event that is not JSON');
          }
          if (chunk && typeof chunk === 'object' && (chunk as { error?: unknown }).error) {
            throw new GeneratorError('upstream_status', 'upstream sent an error event', 502, this.scrub(chunk));
          }
          if (!isChunk(chunk))
            throw new GeneratorError(
              'bad_response',
              'upstream sent an SSE event that is not a chat completion chunk',
              undefined,
              this.scrub(event.data.slice(0, 200)),
            );
          if (chunk.choices?.some((c) => c.finish_reason)) finished = true;
          yield chunk;
        }
      }
    } catch (e) {
      throw this.classify(e, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!finished) throw new GeneratorError('bad_response', 'upstream stream ended before it finished');
  }

  /**
   * Reads a JSON answer's body as text, at most maxAnswerBytes (Content-Length is checked first): a 100 MB answer
   * used to be parsed whole, blocking the event loop for seconds and holding hundreds of MB.
   */
  private async readCapped({ headers, body }: Dispatcher.ResponseData): Promise<string> {
    const declared = headers['content-length'];
    if (typeof declared === 'string' && Number(declared) <= this.maxAnswerBytes) {
      // The common case, and the fast one: undici's parser stops at the declared length, so the cap holds, and
      // text() skips the async iteration below (about 10% of the chat route's throughput at c32).
      return body.text();
    }
    const chunks: Buffer[] = [];
    let read = Number(declared ?? 0) > this.maxAnswerBytes ? Infinity : 0;
    try {
      for await (const bytes of read > this.maxAnswerBytes ? [] : body) {
        read += (bytes as Buffer).length;
        if (read > this.maxAnswerBytes) break;
        chunks.push(bytes as Buffer);
      }
    } finally {
      if (!body.destroyed) body.destroy();
    }
    if (read > this.maxAnswerBytes) throw this.tooLarge('answer', this.maxAnswerBytes);
    return Buffer.concat(chunks).toString('utf8');
  }

  private tooLarge(what: 'answer' | 'stream', max: number): GeneratorError {
    return new GeneratorError(
      'too_large',
      `the upstream's ${what} passed the gateway's limit of ${max} bytes (upstream.max${what === 'answer' ? 'Answer' : 'Stream'}Bytes) and was cut`,
    );
  }

  /** The upstream's name for a gateway model name (`upstream.models`). */
  upstreamModel(name: string): string {
    return this.modelMap[name] ?? name;
  }

  /** POSTs a JSON body in another wire format (e.g. to `/responses`) and reads its JSON answer, capped. */
  async postJson(path: string, body: object, signal: AbortSignal): Promise<unknown> {
    return this.readJson(await this.send('POST', path, signal, body), signal);
  }

  /** A JSON answer's body, parsed (capped by readCapped); text that is not JSON is a bad response. */
  private async readJson(res: Dispatcher.ResponseData, signal: AbortSignal): Promise<unknown> {
    try {
      return JSON.parse(await this.readCapped(res));
    } catch (e) {
      const bad = e instanceof SyntaxError ? new GeneratorError('bad_response', 'upstream sent invalid JSON') : e;
      throw this.classify(bad, signal);
    }
  }

  /** POSTs a JSON body in another wire format and yields its SSE events, capped like a chat stream. */
  async *postEvents(path: string, body: object, signal: AbortSignal): AsyncGenerator<SseEvent> {
    const res = await this.send('POST', path, signal, body);
    try {
      yield* sseEvents(res.body, this.maxStreamBytes, () => this.tooLarge('stream', this.maxStreamBytes));
    } catch (e) {
      throw this.classify(e, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
  }

  async models(signal: AbortSignal): Promise<unknown> {
    const res = await this.send('GET', '/models', signal);
    try {
      return this.scrub(await res.body.json());
    } catch {
      throw new GeneratorError('bad_response', 'upstream sent invalid JSON');
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
