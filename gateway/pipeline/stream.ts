import type { Action } from '../../audit/types.js';
import type { ChatCompletionChunk, ChatRequest, Generator } from '../../generator/types.js';
import { upstreamError, type Admission, type Pipeline, type RequestContext, type RequestRun } from './pipeline.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { refusalChunks } from './refusal.js';
import { bufferMode } from './stream-buffer.js';
import { streamFirstMode } from './stream-first.js';
import { DEFAULT_STREAM_OPTIONS, streamOptions, type StreamMode, type StreamOptions } from './stream-options.js';
import { progressiveMode } from './stream-progressive.js';
import { recorded, type StreamRun } from './stream-run.js';
import { holdToolCalls } from './tool-call-hold.js';

export { DEFAULT_STREAM_OPTIONS, streamOptions, type StreamOptions } from './stream-options.js';

export interface OpenedStream {
  /** The action known when the response starts (the input stage's); the record holds the final one. */
  action: Action;
  chunks: AsyncGenerator<ChatCompletionChunk>;
}

const MODES = { progressive: progressiveMode, buffer: bufferMode, 'stream-first': streamFirstMode } as const;
/** How much each mode holds: a policy's rules can ask for more than the settings give, never for less. */
const HOLDS: Record<StreamMode, number> = { 'stream-first': 0, progressive: 1, buffer: 2 };

/** Options are validated once per settings object, not per request. */
const resolved = new WeakMap<object, StreamOptions>();
function optionsOf(partial: Partial<StreamOptions> | undefined): StreamOptions {
  if (!partial) return DEFAULT_STREAM_OPTIONS;
  let o = resolved.get(partial);
  if (!o) resolved.set(partial, (o = streamOptions(partial)));
  return o;
}

type Settled = { ok: true; value: IteratorResult<ChatCompletionChunk> } | { ok: false; error: unknown };

/** An upstream call in flight, with its own abort controller tied to the client's signal. */
interface Call {
  iterator: AsyncIterator<ChatCompletionChunk>;
  first: Promise<Settled>;
  controller: AbortController;
  startedAt: number;
  detach(): void;
  /** Aborts the call and releases it. */
  drop(): void;
}

function call(generator: Generator, request: ChatRequest, signal: AbortSignal): Call {
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const startedAt = performance.now();
  const iterator = generator.stream(request, controller.signal)[Symbol.asyncIterator]();
  const first: Promise<Settled> = iterator.next().then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, error }),
  );
  const detach = () => signal.removeEventListener('abort', onAbort);
  const drop = () => {
    detach();
    controller.abort(new Error('upstream call dropped'));
    void first.then(() => iterator.return?.(undefined)).catch(() => undefined);
  };
  return { iterator, first, controller, startedAt, detach, drop };
}

/**
 * A streamed chat completion. The input stage runs first — or, with `concurrentInput`, alongside the start of the
 * upstream call, whose response is held until the verdict (a refusal aborts it; a redaction aborts it and sends
 * the redacted request instead). The first upstream event is awaited here, so an upstream that fails at once
 * still gets a proper HTTP status. Output is then moderated in the configured mode (`progressive`, `buffer` or
 * `stream-first`, see stream-progressive.ts, stream-buffer.ts and stream-first.ts); a violation ends the stream with the refusal and
 * `finish_reason: "content_filter"`, and the decision record keeps exactly what the client received.
 *
 * @example
 * const { action, chunks } = await openStream(pipeline, request, ctx, signal, { mode: 'stream-first' });
 * for await (const c of chunks) write(c);
 */
export async function openStream(
  pipeline: Pipeline,
  request: ChatRequest,
  ctx: RequestContext,
  signal: AbortSignal,
  settings: Partial<StreamOptions> | undefined = pipeline.streamSettings,
): Promise<OpenedStream> {
  const options = optionsOf(settings);
  const upstreamOf = ctx.generator ?? pipeline.generator;
  const early = options.concurrentInput && upstreamOf ? call(upstreamOf, request, signal) : undefined;
  let admitted: Admission;
  try {
    // undici writes the early request from the event loop: let it go out before the input stage takes the CPU.
    if (early) await new Promise((resolve) => setImmediate(resolve));
    admitted = await pipeline.admit(request, ctx, signal);
  } catch (e) {
    early?.drop();
    throw e;
  }
  const { run } = admitted;
  const policy = run.policy;
  const chosen = policy.policy.stream?.mode ?? options.mode;
  const mode = policyStreamMode(policy, chosen);
  const effective =
    mode !== chosen || policy.policy.stream ? optionsOf({ ...settings, ...policy.policy.stream, mode }) : options;
  if (admitted.kind === 'refuse') {
    early?.drop();
    const { message } = admitted;
    return { action: 'refuse', chunks: replay(run, refusalChunks(ctx.decisionId, request.model, message), message) };
  }
  const upstream = admitted.request;
  // The early call carried the unredacted prompt: a redacting verdict replaces it with the redacted request.
  if (early && upstream !== request) early.drop();
  const c = early && upstream === request ? early : call(await pipeline.generatorFor(run), upstream, signal);

  const first = await c.first;
  if (!first.ok) {
    c.detach();
    run.addGeneration(c.startedAt);
    throw await run.fail(upstreamError(first.error));
  }
  const stream: StreamRun = {
    requestRun: run,
    upstream: c.iterator,
    first: first.value,
    controller: c.controller,
    signal,
    options: effective,
    startedAt: c.startedAt,
    observer: pipeline.observer,
    detach: c.detach,
  };
  return { action: run.inputAction, chunks: recorded(stream, holdToolCalls(MODES[effective.mode])) };
}

/** The chosen mode, or a stricter one an enforced output rule of the policy asks for (the strictest wins). */
function policyStreamMode(p: LoadedPolicy, chosen: StreamMode): StreamMode {
  let mode = chosen;
  for (const r of p.rules) {
    const asked = r.rule.streamMode;
    if (asked && HOLDS[asked] > HOLDS[mode] && r.stages.includes('output') && r.rule.mode === 'enforce') mode = asked;
  }
  return mode;
}

async function* replay(
  run: RequestRun,
  chunks: ChatCompletionChunk[],
  text: string,
): AsyncGenerator<ChatCompletionChunk> {
  try {
    yield* chunks;
  } finally {
    await run.finish('refuse', 200, { text });
  }
}
