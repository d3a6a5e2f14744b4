/**
 * The generator contract: how the pipeline talks to a model runtime. The OpenAI-compatible HTTP adapter
 * implements it today; a local runtime can implement it later without the pipeline changing.
 */

/** An OpenAI chat-completions request body. Unknown fields are kept and forwarded. */
export interface ChatMessage {
  role: string;
  content?: string | ContentPart[] | null;
  name?: string;
  [key: string]: unknown;
}

export interface ContentPart {
  type: string;
  text?: string;
  [key: string]: unknown;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  [key: string]: unknown;
}

export interface ChatChoice {
  index: number;
  message: { role: string; content: string | null; [key: string]: unknown };
  finish_reason: string | null;
  [key: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ChunkChoice {
  index: number;
  delta: { role?: string; content?: string | null; [key: string]: unknown };
  finish_reason: string | null;
  [key: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  [key: string]: unknown;
}

export interface Generator {
  /** A short name for logs and records, such as `openai-http`. */
  readonly id: string;
  complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion>;
  /** Yields the upstream's chunks in order; ends after the upstream's `[DONE]`. */
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<ChatCompletionChunk>;
  /** Lists models (`GET /models`), passed through as the upstream returns them. */
  models?(signal: AbortSignal): Promise<unknown>;
  /**
   * For APIs passed through in their own wire format (`upstream.format` native or auto): a JSON POST to another
   * path of the upstream, its SSE twin, and the upstream's name for a model. Absent: such APIs are translated.
   */
  postJson?(path: string, body: object, signal: AbortSignal): Promise<unknown>;
  postEvents?(
    path: string,
    body: object,
    signal: AbortSignal,
  ): AsyncIterable<{ event: string | undefined; data: string }>;
  upstreamModel?(name: string): string;
  /** Removes the upstream's credentials from a body the gateway passes on or records. */
  scrub?<T>(body: T): T;
  /** Releases what the generator holds (connection pools, a local runtime); called once at shutdown. */
  close(): Promise<void>;
}

/**
 * Why a generator call failed, so the edge can choose 502, 504 or a passed-through 4xx. `too_large`: the answer
 * passed the generator's own cap on its size (or a stream's length) and the generator cut it; not the upstream's
 * failure, and recorded as the gateway's reason.
 */
export type GeneratorErrorKind =
  'unavailable' | 'timeout' | 'upstream_status' | 'bad_response' | 'aborted' | 'too_large';

export class GeneratorError extends Error {
  constructor(
    readonly kind: GeneratorErrorKind,
    message: string,
    /** For `upstream_status`: the upstream's HTTP status and parsed body. */
    readonly status?: number,
    readonly body?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GeneratorError';
  }
}
