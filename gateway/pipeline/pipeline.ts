import { GeneratorError, type ChatCompletion, type ChatRequest, type Generator } from '../../generator/types.js';
import type { Action } from '../../audit/types.js';
import { evaluateStage, type StageDecision } from '../../policies/engine.js';
import { replaceAt } from '../../policies/select.js';
import { promptText, strongest, type PipelineDeps, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { gradeAnswer } from './grading.js';
import { refusalCompletion } from './refusal.js';
import { Trace } from './trace.js';

export * from './context.js';

/** The answer's text as records keep it: every choice's content, joined by a blank line. */
const answerText = (c: ChatCompletion) => c.choices.map((ch) => ch.message?.content ?? '').join('\n\n');
export { Trace } from './trace.js';

/** Maps a generator failure to the HTTP error the client gets. */
export function upstreamError(e: unknown): GatewayError {
  if (!(e instanceof GeneratorError)) return new GatewayError('upstream_error', 'upstream failed', null, { cause: e });
  switch (e.kind) {
    case 'timeout':
      return new GatewayError('upstream_timeout', e.message, null, { cause: e });
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
 * const pipeline = new Pipeline({ policy: () => loaded, generator, audit, contentMode: 'none', instance: 'gw-1' });
 * const { completion, action } = await pipeline.complete(request, ctx, signal);
 */
export class Pipeline {
  constructor(readonly deps: PipelineDeps) {}

  trace(ctx: RequestContext, request: ChatRequest | null, promptText: string) {
    return new Trace(this.deps, ctx, request, promptText);
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

  /** Like requireGenerator, but records the failure in the request's decision record first. */
  async generatorFor(trace: Trace): Promise<Generator> {
    try {
      return this.requireGenerator();
    } catch (e) {
      throw await trace.fail(e as GatewayError);
    }
  }

  /**
   * Runs the input stage. Returns the trace and either a refusal message or the request to send upstream
   * (with redactions applied).
   */
  async admit(request: ChatRequest, ctx: RequestContext, signal: AbortSignal) {
    const trace = this.trace(ctx, request, promptText(request));
    const decision = await trace.inputStage(request, signal);
    if (decision.action === 'refuse') return { trace, refusal: decision.message!, upstream: request };
    let upstream = decision.rewrites.size ? replaceAt(request, decision.rewrites) : request;
    if (decision.route) upstream = { ...upstream, model: decision.route.model };
    return { trace, refusal: undefined, upstream };
  }

  /** A non-streamed chat completion. Throws GatewayError on upstream failure, after recording it. */
  async complete(
    request: ChatRequest,
    ctx: RequestContext,
    signal: AbortSignal,
  ): Promise<{ completion: ChatCompletion; action: Action }> {
    const { trace, refusal, upstream } = await this.admit(request, ctx, signal);
    if (refusal !== undefined) {
      await trace.finish('refuse', 200, refusal);
      return { completion: refusalCompletion(ctx.decisionId, request.model, refusal), action: 'refuse' };
    }
    const generator = await this.generatorFor(trace);
    const t = performance.now();
    let completion: ChatCompletion;
    try {
      completion = await generator.complete(upstream, signal);
    } catch (e) {
      trace.generatorMs = performance.now() - t;
      throw await trace.fail(upstreamError(e));
    }
    trace.generatorMs = performance.now() - t;
    this.deps.observer?.stage('generator', trace.generatorMs);

    let out = await trace.outputStage(completion, signal);
    if (trace.policy.policy.grading)
      ({ completion, out } = await this.grade(trace, generator, upstream, completion, out, signal));
    const action = strongest(trace.input!.decision.action, out.action);
    if (out.action === 'refuse') {
      completion = { ...refusalCompletion(completion.id, completion.model, out.message!), usage: completion.usage };
      await trace.finish('refuse', 200, out.message);
      return { completion, action };
    }
    if (out.rewrites.size) completion = replaceAt(completion, out.rewrites);
    await trace.finish(action, 200, answerText(completion));
    return { completion, action };
  }

  /**
   * Grades the answer with the policy's rubric. An over-refusal (a refusal letter on a safe prompt) is retried
   * once when the policy says so, with its system reminder first; the answer that earns more reward goes to the
   * client (the original on a tie, or when the retry fails or is refused by the output stage).
   */
  private async grade(
    trace: Trace,
    generator: Generator,
    upstream: ChatRequest,
    completion: ChatCompletion,
    out: StageDecision,
    signal: AbortSignal,
  ) {
    const policy = trace.policy;
    const prompt = trace.promptText;
    const grade = await gradeAnswer(
      policy,
      { input: trace.input?.decision, output: out },
      { prompt, output: answerText(completion) },
      signal,
    );
    trace.grade = grade;
    const { retry, restyle, refusals } = policy.policy.grading!;
    const option =
      grade && policy.policy.rubrics.find((r) => r.id === grade.rubric)?.options.find((o) => o.letter === grade.grade);
    if (
      restyle &&
      grade?.prompt === 'unsafe' &&
      option &&
      refusals.includes(option.letter) &&
      !option.desired.unsafe &&
      out.action !== 'refuse'
    ) {
      // A refusal in an undesired style becomes the policy's own, desired-style refusal; the record says so.
      const restyled = { ...out, action: 'refuse' as const, message: policy.policy.defaults.refusal };
      trace.output = { decision: restyled, ms: trace.output?.ms ?? 0 };
      return { completion, out: restyled };
    }
    if (!grade?.over_refusal || !retry) return { completion, out };
    try {
      const again = await generator.complete(
        { ...upstream, messages: [{ role: 'system', content: retry.system }, ...upstream.messages] },
        signal,
      );
      const out2 = await evaluateStage(policy, { stage: 'output', doc: again, meta: trace.meta, prompt, signal });
      const grade2 = await gradeAnswer(
        policy,
        { input: trace.input?.decision, output: out2 },
        { prompt, output: answerText(again) },
        signal,
      );
      const better = out2.action !== 'refuse' && grade2 && (grade2.reward ?? -Infinity) > (grade.reward ?? -Infinity);
      grade.retry = grade2 && {
        grade: grade2.grade,
        probabilities: grade2.probabilities,
        reward: grade2.reward,
        chosen: better ? 'retry' : 'original',
      };
      if (better) {
        trace.output = { decision: out2, ms: trace.output?.ms ?? 0 };
        return { completion: again, out: out2 };
      }
    } catch {
      // The retry is best effort: the original answer stands.
    }
    return { completion, out };
  }
}
