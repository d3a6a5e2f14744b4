import {
  GeneratorError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type Generator,
} from '../../../generator/types.js';
import type { UpstreamFormat } from '../upstream-format.js';
import { responseEventsToChunks, responseToCompletion } from './from-responses.js';
import type { ResponsesBody } from './schema.js';
import { responsesBodyFor } from './to-responses.js';

type Item = Record<string, unknown>;

/**
 * A 404 that says the upstream has no `/responses` route, not one about the request: OpenAI and vLLM also answer
 * 404 for an unknown model, which must reach the client rather than switch the gateway to translation.
 */
const isMissingRoute = (e: unknown) =>
  e instanceof GeneratorError &&
  e.kind === 'upstream_status' &&
  e.status === 404 &&
  !/model/i.test(JSON.stringify(e.body ?? ''));

/**
 * How Responses requests reach the upstream, for the gateway's lifetime: the configured format, and (for `auto`)
 * whether the upstream was found to lack `/responses`, after which every request is translated without asking
 * again. `native` and `auto` need a generator that can POST other paths (the OpenAI-compatible HTTP one).
 */
export class ResponsesUpstreams {
  private nativeMissing = false;

  constructor(
    readonly format: UpstreamFormat,
    private readonly base: Generator | undefined,
  ) {}

  /** Whether requests are translated to Chat Completions up front (not passed through first). */
  get translating(): boolean {
    return this.format === 'chat' || !this.base?.postJson || (this.format === 'auto' && this.nativeMissing);
  }

  /**
   * The upstream for one request: a pass-through to `/responses` that reads back into the chat shape the output
   * stage judges, or `undefined` when the request is translated (the pipeline's own chat generator serves it).
   */
  for(original: ResponsesBody): NativeResponsesCall | undefined {
    if (this.translating || !this.base) return undefined;
    const onMissing =
      this.format === 'auto'
        ? () => {
            this.nativeMissing = true;
          }
        : undefined;
    return new NativeResponsesCall(this.base, original, onMissing);
  }
}

/**
 * One request passed through to the upstream's `/responses`: the judged (possibly redacted or routed) chat
 * request goes back into the Responses format over the client's own fields (to-responses.ts), and the answer,
 * JSON or events, comes back as a chat completion or chunks (from-responses.ts). `upstream` keeps the upstream's
 * Response object (from the JSON answer or the `response.created` event) so the client's answer keeps its id and
 * fields. With `auto`, a 404 falls back to the base generator's Chat Completions call.
 */
export class NativeResponsesCall implements Generator {
  readonly id = 'openai-http/responses';
  /** The upstream's Response object, once it answered in the Responses format. */
  upstream?: Item;

  constructor(
    private readonly base: Generator,
    private readonly original: ResponsesBody,
    private readonly onMissing: (() => void) | undefined,
  ) {}

  private body(request: ChatRequest, stream: boolean) {
    const model = this.base.upstreamModel?.(request.model) ?? request.model;
    return responsesBodyFor(request, this.original, model, stream);
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const post = this.base.postJson?.bind(this.base);
    if (!post) return this.base.complete(request, signal);
    let answer: unknown;
    try {
      answer = await post('/responses', this.body(request, false), signal);
    } catch (e) {
      if (!this.onMissing || !isMissingRoute(e)) throw e;
      this.onMissing();
      return this.base.complete(request, signal);
    }
    const completion = responseToCompletion(answer);
    this.upstream = answer as Item;
    return completion;
  }

  async *stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const events = this.base.postEvents?.('/responses', this.body(request, true), signal);
    if (!events) return yield* this.base.stream(request, signal);
    const scrub = <T>(b: T): T => this.base.scrub?.(b) ?? b;
    const chunks = responseEventsToChunks(events, scrub, (r) => (this.upstream = r));
    let first: IteratorResult<ChatCompletionChunk>;
    try {
      first = await chunks.next();
    } catch (e) {
      if (!this.onMissing || !isMissingRoute(e)) throw e;
      this.onMissing();
      return yield* this.base.stream(request, signal);
    }
    if (first.done) return;
    yield first.value;
    yield* chunks;
  }

  async close(): Promise<void> {
    // The base generator is the gateway's and is closed with it.
  }
}
