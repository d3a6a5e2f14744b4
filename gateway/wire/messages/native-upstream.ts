import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { errors as undiciErrors, Pool, type Dispatcher } from 'undici';
import { scrubCredentials } from '../../../audit/mask.js';
import {
  GeneratorError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type Generator,
} from '../../../generator/types.js';
import { completionOfMessage, NativeEventReader } from './from-native.js';
import { nativeOf, writeBack, type NativeRequest } from './native-body.js';
import { upstreamStatusError } from '../../../generator/upstream-status.js';

export interface NativeUpstreamOptions {
  /** The upstream's base URL, as GATEWAY_UPSTREAM_URL gives it (e.g. https://api.anthropic.com/v1). */
  baseUrl: string;
  /** Sent as `x-api-key`, never logged, scrubbed from whatever the upstream sends back. */
  apiKey?: string;
  timeoutMs?: number;
  models?: Record<string, string>;
  maxAnswerBytes?: number;
  maxStreamBytes?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A generator in front of the configured one: requests that came in on `POST /v1/messages` carry their native
 * body (native-body.ts) and go to the upstream's own `/messages`; every other request goes to the chat generator
 * unchanged. Answers come back in the chat shape, so the output stage, redaction and grading run as for chat.
 *
 * @example
 * const generator = new MessagesNativeGenerator(chatGenerator, { baseUrl: 'https://api.anthropic.com/v1', apiKey });
 */
export class MessagesNativeGenerator implements Generator {
  readonly id: string;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly timeoutMs: number;
  private readonly secrets: string[];
  private readonly maxAnswerBytes: number;
  private readonly maxStreamBytes: number;

  constructor(
    private readonly chat: Generator,
    private readonly o: NativeUpstreamOptions,
  ) {
    this.id = `${chat.id}+anthropic-native`;
    const url = new URL(o.baseUrl);
    this.pool = new Pool(url.origin, { connections: 256, keepAliveTimeout: 30_000 });
    this.path = `${url.pathname.replace(/\/+$/, '')}/messages`;
    this.timeoutMs = o.timeoutMs ?? 60_000;
    this.secrets = o.apiKey ? [o.apiKey] : [];
    this.maxAnswerBytes = o.maxAnswerBytes ?? 8 << 20;
    this.maxStreamBytes = o.maxStreamBytes ?? 32 << 20;
  }

  get models(): Generator['models'] {
    return this.chat.models?.bind(this.chat);
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const native = nativeOf(request);
    if (!native) return this.chat.complete(request, signal);
    const res = await this.send(native, request, false, signal);
    let text: string;
    try {
      text = await this.read(res);
    } catch (e) {
      throw this.classify(e, signal);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new GeneratorError('bad_response', 'upstream sent invalid JSON');
    }
    const completion = completionOfMessage(body);
    if (!completion)
      throw new GeneratorError(
        'bad_response',
        'upstream answer is not a Messages API message',
        undefined,
        this.scrub(body),
      );
    return completion;
  }

  async *stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const native = nativeOf(request);
    if (!native) return yield* this.chat.stream(request, signal);
    const res = await this.send(native, request, true, signal);
    const queue: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => queue.push(e) });
    const decoder = new TextDecoder();
    const reader = new NativeEventReader();
    let read = 0;
    try {
      for await (const bytes of res.body) {
        read += (bytes as Uint8Array).byteLength;
        if (read > this.maxStreamBytes)
          throw new GeneratorError(
            'too_large',
            `the upstream's stream passed the gateway's limit of ${this.maxStreamBytes} bytes (upstream.maxStreamBytes) and was cut`,
          );
        parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
        for (let e = queue.shift(); e; e = queue.shift()) {
          let data: unknown;
          try {
            data = JSON.parse(e.data);
          } catch {
            throw new GeneratorError('bad_response', 'upstream sent an SSE event that is not JSON');
          }
          if (!isObject(data))
            throw new GeneratorError('bad_response', 'upstream sent an SSE event that is not an object');
          if (e.event === 'error' || data.type === 'error')
            throw new GeneratorError('upstream_status', 'upstream sent an error event', 502, this.scrub(data));
          yield* reader.next(data);
          if (reader.done) return;
        }
      }
    } catch (e) {
      throw this.classify(e, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    throw new GeneratorError('bad_response', 'upstream stream ended before message_stop');
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.chat.close()]);
  }

  scrub<T>(body: T): T {
    return scrubCredentials(body, this.secrets);
  }

  private async send(native: NativeRequest, request: ChatRequest, stream: boolean, signal: AbortSignal) {
    const body = writeBack(native, request);
    const model = this.o.models?.[body.model] ?? body.model;
    // Pass-through: the body goes as the client sent it unless the model is mapped (stream is what it asked for).
    const sent = model === body.model && (body.stream ?? false) === stream ? body : { ...body, model, stream };
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      ...native.headers,
    };
    if (this.o.apiKey) headers['x-api-key'] = this.o.apiKey;
    try {
      const res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers,
        body: JSON.stringify(sent),
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

  /** A JSON answer's text, at most maxAnswerBytes. */
  private async read({ headers, body }: Dispatcher.ResponseData): Promise<string> {
    const declared = headers['content-length'];
    // undici stops at a declared length, so the cap holds without the chunk loop (as in openai-http.ts).
    if (typeof declared === 'string' && Number(declared) <= this.maxAnswerBytes) return body.text();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const bytes of body) {
        size += (bytes as Buffer).length;
        if (size > this.maxAnswerBytes)
          throw new GeneratorError(
            'too_large',
            `the upstream's answer passed the gateway's limit of ${this.maxAnswerBytes} bytes (upstream.maxAnswerBytes) and was cut`,
          );
        chunks.push(bytes as Buffer);
      }
    } finally {
      if (!body.destroyed) body.destroy();
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private classify(e: unknown, signal: AbortSignal): GeneratorError {
    if (e instanceof GeneratorError) return e;
    const cause = { cause: e };
    if (signal.aborted)
      return new GeneratorError('aborted', 'request aborted by the client', undefined, undefined, cause);
    if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError)
      return new GeneratorError(
        'timeout',
        `upstream did not answer within ${this.timeoutMs} ms`,
        undefined,
        undefined,
        cause,
      );
    const code = (e as { code?: string })?.code;
    return new GeneratorError(
      'unavailable',
      `upstream unreachable${code ? ` (${code})` : ''}`,
      undefined,
      undefined,
      cause,
    );
  }
}
