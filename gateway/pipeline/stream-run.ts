import type { Action, RecordError } from '../../audit/types.js';
import type { ChatCompletionChunk } from '../../generator/types.js';
import type { GatewayError } from './errors.js';
import { upstreamError, type PipelineObserver, type RequestRun } from './pipeline.js';
import { chunk } from './refusal.js';
import type { StreamOptions } from './stream-options.js';
import { StreamedToolCalls } from './tool-calls.js';

/** One moderated stream in flight: the upstream iterator, its first event, and what aborts it. */
export interface StreamRun {
  /** The request's run: its stages, timing and decision record. */
  requestRun: RequestRun;
  upstream: AsyncIterator<ChatCompletionChunk>;
  first: IteratorResult<ChatCompletionChunk>;
  /** Aborts the upstream call (and only it). */
  controller: AbortController;
  /** The client's signal: fires when the client goes away. */
  signal: AbortSignal;
  options: StreamOptions;
  /** performance.now() when the upstream call started. */
  startedAt: number;
  observer?: PipelineObserver;
  /** Stops listening to the client's signal. */
  detach(): void;
}

/** A mode's body: yields what the client gets and keeps `out.action` up to date. */
export type ModeBody = (run: StreamRun, out: Emitted) => AsyncGenerator<ChatCompletionChunk, void>;

export const hasFinish = (c: ChatCompletionChunk): boolean => c.choices?.some((ch) => ch.finish_reason) ?? false;

/**
 * What the client received, kept exactly: the text (for the decision record), and the stream's identity. Every
 * chunk passes through `stamp`, which gives it the first chunk's `id`, `model` and `created`, makes sure the
 * first delta names the assistant role, and observes time to first token and the gaps between chunks.
 */
export class Emitted {
  /** Each choice's content as sent, by choice index (the deltas of `n: 2` arrive interleaved). */
  private readonly texts = new Map<number, string>();
  /** The tool calls sent, assembled from their deltas. */
  readonly toolCalls = new StreamedToolCalls();
  /** The strongest action so far: what the client finally got. */
  action: Action;
  private roleSent = false;
  private meta?: { id: string; model: string; created: number };
  private lastAt = 0;

  constructor(
    private readonly run: StreamRun,
    private readonly fallback: { id: string; model: string },
  ) {
    this.action = run.requestRun.inputAction;
  }

  stamp(c: ChatCompletionChunk): ChatCompletionChunk {
    const m = (this.meta ??= {
      id: c.id ?? this.fallback.id,
      model: c.model ?? this.fallback.model,
      created: c.created ?? Math.floor(Date.now() / 1000),
    });
    if (c.id !== m.id || c.model !== m.model || c.created !== m.created)
      c = { ...c, id: m.id, model: m.model, created: m.created };
    const [firstChoice, ...otherChoices] = c.choices ?? [];
    if (!this.roleSent && firstChoice) {
      this.roleSent = true;
      if (!firstChoice.delta?.role)
        c = {
          ...c,
          choices: [{ ...firstChoice, delta: { role: 'assistant', ...firstChoice.delta } }, ...otherChoices],
        };
    }
    let said = false;
    for (const ch of c.choices ?? []) {
      const t = ch.delta?.content;
      if (typeof t !== 'string' || !t) continue;
      this.texts.set(ch.index, (this.texts.get(ch.index) ?? '') + t);
      said = true;
    }
    if (said) this.observe();
    this.toolCalls.add(c);
    return c;
  }

  /** The text sent: every choice's content in choice order, joined by a blank line (as a JSON answer's record). */
  get text(): string {
    if (this.texts.size <= 1) return this.texts.values().next().value ?? '';
    return [...this.texts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, t]) => t)
      .join('\n\n');
  }

  /** The chunk that ends a cut stream: the refusal (after a blank line if text was sent) and content_filter. */
  cut(message: string): ChatCompletionChunk {
    this.run.controller.abort(new Error('output refused'));
    this.action = 'refuse';
    const m = this.meta ?? { ...this.fallback, created: Math.floor(Date.now() / 1000) };
    const text = (this.text ? '\n\n' : '') + message;
    return this.stamp(chunk(m.id, m.model, m.created, { content: text }, 'content_filter'));
  }

  private observe() {
    const now = performance.now();
    const o = this.run.observer;
    if (o?.stream)
      o.stream(
        this.run.options.mode,
        this.lastAt ? 'gap' : 'ttft',
        this.lastAt ? now - this.lastAt : now - this.run.requestRun.ctx.started,
      );
    this.lastAt = now;
  }
}

/**
 * Runs a mode's body and writes exactly one decision record whatever happens: the final action when the stream
 * ends or is cut, the upstream's error when it dies (rethrown for the edge to send as an error event), or 499
 * when the client goes away. The upstream call is always released.
 */
export async function* recorded(run: StreamRun, body: ModeBody): AsyncGenerator<ChatCompletionChunk> {
  const { requestRun } = run;
  const out = new Emitted(run, { id: requestRun.ctx.decisionId, model: requestRun.request?.model ?? '' });
  let done = false;
  const finish = async (action: Action, status: number, error?: RecordError) => {
    done = true;
    requestRun.addGeneration(run.startedAt);
    await requestRun.finish(action, status, { text: out.text, toolCalls: out.toolCalls.list() }, error);
  };
  try {
    yield* body(run, out);
    await finish(out.action, 200);
  } catch (e) {
    if (done) throw e;
    const err: GatewayError = upstreamError(e);
    const gone = run.signal.aborted;
    await finish(
      out.action,
      gone ? 499 : err.status,
      gone ? { type: 'client_closed', message: 'client disconnected' } : { type: err.code, message: err.message },
    );
    throw err;
  } finally {
    run.detach();
    if (!done) {
      // The consumer stopped early (the client went away): stop the upstream and still record the decision.
      run.controller.abort(new Error('client closed'));
      await finish(out.action, 499, { type: 'client_closed', message: 'client disconnected' });
    }
    await run.upstream.return?.(undefined);
  }
}
