import type { Action } from '../../audit/types.js';
import { GeneratorError, type ChatCompletion, type ChatRequest, type Generator } from '../../generator/types.js';
import type { StageDecision } from '../../policies/engine.js';
import type { Policy } from '../../policies/schema.js';
import { replaceAt } from '../../policies/select.js';
import { withAllowedTools } from '../../policies/tool-allow.js';
import { promptText, strongest, type PipelineDeps, type PipelineObserver, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { refusalCompletion } from './refusal.js';
import { RequestRun } from './request-run.js';
import type { StreamOptions } from './stream-options.js';

export * from './context.js';
export { RequestRun } from './request-run.js';

/** The answer's text as records keep it: every choice's content, joined by a blank line. */
const answerText = (c: ChatCompletion) => c.choices.map((ch) => ch.message?.content ?? '').join('\n\n');
/** An answer as its output stage let it through (its redactions applied), or undefined when it refused it. */
const passedText = (c: ChatCompletion, d: StageDecision): string | undefined =>
  d.action === 'refuse' ? undefined : answerText(d.rewrites.size ? replaceAt(c, d.rewrites) : c);

/** The answer's tool calls, as the record keeps them. */
const toolCallsOf = (c: ChatCompletion): unknown[] =>
  c.choices.flatMap((ch) => (Array.isArray(ch.message?.tool_calls) ? (ch.message.tool_calls as unknown[]) : []));

type Grading = NonNullable<Policy['grading']>;

/** What the input stage made of a request: a refusal to answer with, or the request to send upstream. */
export type Admission =
  { kind: 'refuse'; run: RequestRun; message: string } | { kind: 'forward'; run: RequestRun; request: ChatRequest };

/** Maps a generator failure to the HTTP error the client gets. */
export function upstreamError(e: unknown): GatewayError {
  if (!(e instanceof GeneratorError)) return new GatewayError('upstream_error', 'upstream failed', null, { cause: e });
  switch (e.kind) {
    case 'timeout':
      return new GatewayError('upstream_timeout', e.message, null, { cause: e });
    case 'too_large':
      return new GatewayError('answer_too_large', e.message, null, { cause: e });
    case 'upstream_status': {
      const body = e.body as { error?: { message?: unknown } } | undefined;
      if (e.status && e.status >= 400 && e.status < 500 && body?.error && typeof body.error === 'object') {
        return new GatewayError('upstream_client_error', String(body.error.message ?? e.message), null, {
          status: e.status,
          body: body as never,
          cause: e,
        });
      }
      if (e.status && e.status >= 400 && e.status < 500) {
        return new GatewayError('upstream_client_error', `upstream rejected the request (${e.status})`, null, {
          status: e.status,
          cause: e,
        });
      }
      return new GatewayError('upstream_error', e.message, null, { cause: e });
    }
    default:
      return new GatewayError('upstream_error', e.message, null, { cause: e });
  }
}

/**
 * The framework-free pipeline: input stage → generator → output stage → one decision record.
 *
 * @example
 * const pipeline = new Pipeline({ policies: fixedPolicy(loaded), generator, audit, contentMode: 'none', instance: 'gw-1' });
 * const { completion, action } = await pipeline.complete(request, ctx, signal);
 */
export class Pipeline {
  constructor(private readonly deps: PipelineDeps) {}

  /** The upstream, when one is configured. */
  get generator(): Generator | undefined {
    return this.deps.generator;
  }

  get observer(): PipelineObserver | undefined {
    return this.deps.observer;
  }

  /** Replaces the metrics hooks (benchmarks compare with and without them). */
  set observer(observer: PipelineObserver | undefined) {
    this.deps.observer = observer;
  }

  /** How streamed output is moderated: the gateway's settings, before any policy's own. */
  get streamSettings(): Partial<StreamOptions> | undefined {
    return this.deps.stream;
  }

  /** Replaces the stream settings for requests that start from now on. */
  set streamSettings(settings: Partial<StreamOptions> | undefined) {
    this.deps.stream = settings;
  }

  /**
   * Starts a request's run under the policy in force for it (and the shadow candidate, if any). The policy is
   * read once here, so a reload never changes a request midway.
   */
  start(ctx: RequestContext, request: ChatRequest | null, prompt: string): RequestRun {
    const chosen = this.deps.policies.select({
      tenant: ctx.tenant,
      key: ctx.keyId,
      model: request?.model ?? null,
      route: ctx.route,
    });
    return new RequestRun(this.deps, ctx, request, prompt, chosen.policy, chosen.bundle, this.deps.policies.shadow?.());
  }

  /** The generator, or the 503 that names GATEWAY_UPSTREAM_URL when none is configured. */
  requireGenerator(): Generator {
    if (!this.deps.generator) {
      throw new GatewayError(
        'upstream_not_configured',
        'no upstream model server is configured; set GATEWAY_UPSTREAM_URL to an OpenAI-compatible base URL such as http://127.0.0.1:11434/v1',
      );
    }
    return this.deps.generator;
  }

  /** The request's own upstream (`ctx.generator`), else requireGenerator; a failure is recorded first. */
  async generatorFor(run: RequestRun): Promise<Generator> {
    try {
      return run.ctx.generator ?? this.requireGenerator();
    } catch (e) {
      throw await run.fail(e as GatewayError);
    }
  }

  /** Runs the input stage: a refusal, or the request to send upstream (redacted and routed as decided). */
  async admit(request: ChatRequest, ctx: RequestContext, signal: AbortSignal): Promise<Admission> {
    const run = this.start(ctx, request, promptText(request));
    const decision = await run.runInput(request, signal);
    if (decision.action === 'refuse') return { kind: 'refuse', run, message: decision.message };
    let upstream = decision.rewrites.size ? replaceAt(request, decision.rewrites) : request;
    if (decision.route) upstream = { ...upstream, model: decision.route.model };
    // Declared tools the tenant may not call are removed (the decision names them under `tools.declared`).
    upstream = withAllowedTools(upstream, run.policy.policy.tools, ctx.tenant);
    return { kind: 'forward', run, request: upstream };
  }

  /** A non-streamed chat completion. Throws GatewayError on upstream failure, after recording it. */
  async complete(
    request: ChatRequest,
    ctx: RequestContext,
    signal: AbortSignal,
  ): Promise<{ completion: ChatCompletion; action: Action }> {
    const admitted = await this.admit(request, ctx, signal);
    const { run } = admitted;
    if (admitted.kind === 'refuse') {
      await run.finish('refuse', 200, { text: admitted.message });
      return { completion: refusalCompletion(ctx.decisionId, request.model, admitted.message), action: 'refuse' };
    }
    const upstream = admitted.request;
    const generator = await this.generatorFor(run);
    let completion: ChatCompletion;
    try {
      completion = await run.timeGeneration(() => generator.complete(upstream, signal));
    } catch (e) {
      throw await run.fail(upstreamError(e));
    }

    let out = await run.runOutput(completion, signal);
    const grading = run.policy.policy.grading;
    if (grading) ({ completion, out } = await this.grade(run, grading, generator, upstream, completion, out, signal));
    const action = strongest(run.inputAction, out.action);
    if (out.action === 'refuse') {
      completion = { ...refusalCompletion(completion.id, completion.model, out.message), usage: completion.usage };
      await run.finish('refuse', 200, { text: out.message });
      return { completion, action };
    }
    if (out.rewrites.size) completion = replaceAt(completion, out.rewrites);
    await run.finish(action, 200, { text: answerText(completion), toolCalls: toolCallsOf(completion) });
    return { completion, action };
  }

  /**
   * Grades the answer with the policy's rubric. An over-refusal (a refusal letter on a safe prompt) is retried
   * once when the policy says so, with its system reminder first; the answer that earns more reward goes to the
   * client (the original on a tie, or when the retry fails or is refused by the output stage). The retry is a
   * generation and an output stage like the first: timed, observed and shadow-evaluated through the run.
   */
  private async grade(
    run: RequestRun,
    grading: Grading,
    generator: Generator,
    upstream: ChatRequest,
    completion: ChatCompletion,
    out: StageDecision,
    signal: AbortSignal,
  ): Promise<{ completion: ChatCompletion; out: StageDecision }> {
    const { policy } = run.policy;
    const grade = await run.gradeOutput(answerText(completion), signal);
    const { retry, restyle, refusals } = grading;
    const option =
      grade && policy.rubrics.find((r) => r.id === grade.rubric)?.options.find((o) => o.letter === grade.grade);
    if (
      restyle &&
      grade?.prompt === 'unsafe' &&
      option &&
      refusals.includes(option.letter) &&
      !option.desired.unsafe &&
      out.action !== 'refuse'
    ) {
      // A refusal in an undesired style becomes the policy's own, desired-style refusal; the record says so, and
      // keeps the graded answer (the rejected side of a preference pair).
      const restyled = { ...out, action: 'refuse' as const, message: policy.defaults.refusal };
      run.replaceOutput(restyled);
      run.keepAnswers({ original: passedText(completion, out) });
      return { completion, out: restyled };
    }
    if (!grade?.over_refusal || !retry) return { completion, out };
    try {
      const again = await run.timeGeneration(() =>
        generator.complete(
          { ...upstream, messages: [{ role: 'system', content: retry.system }, ...upstream.messages] },
          signal,
        ),
      );
      const second = await run.regrade(again, answerText(again), signal);
      const grade2 = second.grade;
      const better =
        second.decision.action !== 'refuse' && grade2 && (grade2.reward ?? -Infinity) > (grade.reward ?? -Infinity);
      // `grade` is the run's own record of the grade: the retry is noted in it.
      grade.retry = grade2 && {
        grade: grade2.grade,
        probabilities: grade2.probabilities,
        reward: grade2.reward,
        chosen: better ? 'retry' : 'original',
        over_refusal: grade2.over_refusal,
      };
      // Both answers, each with its own grade above, for reward data; only what the output stage passed.
      run.keepAnswers({ original: passedText(completion, out), retry: passedText(again, second.decision) });
      if (better) {
        run.adopt(second);
        return { completion: again, out: second.decision };
      }
    } catch {
      // The retry is best effort: the original answer stands.
    }
    return { completion, out };
  }
}
