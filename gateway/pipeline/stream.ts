import type { Action } from '../../audit/types.js';
import type { ChatCompletionChunk, ChatRequest } from '../../generator/types.js';
import { applyRedactions } from '../../policies/engine.js';
import type { GatewayError } from './errors.js';
import { strongest, upstreamError, type Pipeline, type RequestContext, type Trace } from './pipeline.js';
import { chunk, refusalChunks } from './refusal.js';

/** Output windows: each window of new text is checked with some of the text before it as context. */
export interface StreamWindow {
  /** Characters of new text per check. */
  chars: number;
  /** Characters of already-checked text prepended to each window as context. */
  overlap: number;
}

export const DEFAULT_WINDOW: StreamWindow = { chars: 400, overlap: 100 };

export interface OpenedStream {
  /** The action known when the response starts (the input stage's); the record holds the final one. */
  action: Action;
  chunks: AsyncGenerator<ChatCompletionChunk>;
}

const contentOf = (c: ChatCompletionChunk) =>
  (c.choices ?? []).map((ch) => (typeof ch.delta?.content === 'string' ? ch.delta.content : '')).join('');

/** Held chunks with their content replaced by `text`, placed in the first chunk that carried content. */
function rebuild(held: ChatCompletionChunk[], text: string): ChatCompletionChunk[] {
  let placed = false;
  return held.flatMap((c) => {
    if (!contentOf(c)) return [c];
    const choices = c.choices.map((ch) => ({ ...ch, delta: { ...ch.delta, content: placed ? '' : text } }));
    placed = true;
    return choices[0].delta.content || choices.some((ch) => ch.finish_reason) ? [{ ...c, choices }] : [];
  });
}

/**
 * A streamed chat completion. The input stage runs first; the upstream call starts only if it passes, and the
 * first upstream event is awaited here so that an upstream failure still gets a proper HTTP status. Output is
 * released window by window once each window passes the output stage (no unchecked text reaches the client);
 * a refusing window cuts the stream with the policy's refusal and `finish_reason: "content_filter"`.
 */
export async function openStream(
  pipeline: Pipeline,
  request: ChatRequest,
  ctx: RequestContext,
  signal: AbortSignal,
  window: StreamWindow = DEFAULT_WINDOW,
): Promise<OpenedStream> {
  const { trace, refusal, upstream } = await pipeline.admit(request, ctx, signal);
  if (refusal !== undefined) return { action: 'refuse', chunks: replay(trace, refusalChunks(ctx.decisionId, request.model, refusal), refusal) };
  const generator = await pipeline.generatorFor(trace);

  const controller = new AbortController();
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  const t = performance.now();
  const iterator = generator.stream(upstream, controller.signal)[Symbol.asyncIterator]();
  let first: IteratorResult<ChatCompletionChunk>;
  try {
    first = await iterator.next();
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    trace.generatorMs = performance.now() - t;
    throw await trace.fail(upstreamError(e));
  }
  const chunks = moderate(trace, iterator, first, { controller, signal, window, t, detach: () => signal.removeEventListener('abort', onAbort) });
  return { action: trace.input!.decision.action, chunks };
}

async function* replay(trace: Trace, chunks: ChatCompletionChunk[], text: string): AsyncGenerator<ChatCompletionChunk> {
  try {
    yield* chunks;
  } finally {
    await trace.finish('refuse', 200, text);
  }
}

async function* moderate(
  trace: Trace,
  iterator: AsyncIterator<ChatCompletionChunk>,
  first: IteratorResult<ChatCompletionChunk>,
  o: { controller: AbortController; signal: AbortSignal; window: StreamWindow; t: number; detach: () => void },
): AsyncGenerator<ChatCompletionChunk> {
  const ctx = trace.ctx;
  let meta = { id: ctx.decisionId, model: trace.request?.model ?? '', created: Math.floor(Date.now() / 1000) };
  let held: ChatCompletionChunk[] = [];
  let heldText = '';
  let released = '';
  let roleSent = false;
  let action: Action = trace.input!.decision.action;
  let recorded = false;
  const finish = async (...args: Parameters<Trace['finish']>) => {
    recorded = true;
    trace.generatorMs = performance.now() - o.t;
    await trace.finish(...args);
  };

  /** Checks the held text; returns the chunks to release, or a refusal message to cut the stream with. */
  const check = async (final: boolean): Promise<ChatCompletionChunk[] | string> => {
    const context = final ? released : released.slice(-o.window.overlap);
    const d = await trace.outputStage(context + heldText, o.signal);
    action = strongest(action, d.action);
    if (d.action === 'refuse') return d.message!;
    let out = held;
    if (d.action === 'redact') {
      const mine = d.redactions
        .filter((r) => r.start >= context.length)
        .map((r) => ({ ...r, start: r.start - context.length, end: r.end - context.length }));
      if (mine.length) {
        heldText = applyRedactions(heldText, mine);
        out = rebuild(held, heldText);
      }
    }
    released += heldText;
    held = [];
    heldText = '';
    return out;
  };

  const cut = (message: string) => {
    o.controller.abort(new Error('output refused'));
    const text = (released ? '\n\n' : '') + message;
    released += text;
    return chunk(meta.id, meta.model, meta.created, roleSent ? { content: text } : { role: 'assistant', content: text }, 'content_filter');
  };

  try {
    for (let next = first; !next.done; next = await iterator.next()) {
      const c = next.value;
      if (held.length === 0 && released === '' && !roleSent) meta = { id: c.id ?? meta.id, model: c.model ?? meta.model, created: c.created ?? meta.created };
      held.push(c);
      heldText += contentOf(c);
      if (heldText.length < o.window.chars) continue;
      const out = await check(false);
      if (typeof out === 'string') {
        yield cut(out);
        await finish('refuse', 200, released);
        return;
      }
      for (const r of out) {
        roleSent ||= r.choices?.some((ch) => ch.delta?.role) ?? false;
        yield r;
      }
    }
    const out = await check(true);
    if (typeof out === 'string') {
      yield cut(out);
      await finish('refuse', 200, released);
      return;
    }
    yield* out;
    await finish(action, 200, released);
  } catch (e) {
    if (recorded) throw e;
    const err: GatewayError = upstreamError(e);
    const type = o.signal.aborted ? 'client_closed' : err.code;
    await finish(action, o.signal.aborted ? 499 : err.status, released, { type, message: o.signal.aborted ? 'client disconnected' : err.message });
    throw err;
  } finally {
    o.detach();
    if (!recorded) {
      // The consumer stopped early (client went away): stop the upstream and still record the decision.
      o.controller.abort(new Error('client closed'));
      await finish(action, 499, released, { type: 'client_closed', message: 'client disconnected' });
    }
    await iterator.return?.();
  }
}
