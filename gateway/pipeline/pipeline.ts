import { randomUUID } from 'node:crypto';
import type { Action, AuditSink, ContentMode, DecisionRecord, ShadowRecord } from '../../audit/types.js';
import { GeneratorError, type ChatCompletion, type ChatRequest, type Generator } from '../../generator/types.js';
import { ACTION_RANK, evaluateStage, type RequestMeta, type StageDecision } from '../../policies/engine.js';
import { DEFAULT_INPUT_SELECT, replaceAt, textSelector } from '../../policies/select.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { GatewayError } from './errors.js';
import { recordContent, round, stageRecord } from './record.js';
import { refusalCompletion } from './refusal.js';
import type { StreamOptions } from './stream-options.js';

/** Who is asking, and by which route. Built by the edge; the pipeline never sees HTTP objects. */
export interface RequestContext {
  decisionId: string;
  keyId: string | null;
  tenant: string | null;
  route: string;
  /** performance.now() when the request arrived. */
  started: number;
  /** Request headers (lower-cased names) that header conditions read; credential headers are never readable. */
  headers?: Record<string, string | string[] | undefined>;
}

const defaultInput = textSelector(DEFAULT_INPUT_SELECT, 'input');

/** The prompt as content modes store it and as output classifiers read it: the default input selection. */
export const promptText = (request: ChatRequest) => defaultInput.select(request).text;

/** Hooks for metrics; the pipeline calls them and knows nothing of Prometheus. */
export interface PipelineObserver {
  stage(stage: 'input' | 'generator' | 'output', ms: number): void;
  classifier(id: string, ms: number, failed: boolean): void;
  decision(route: string, action: Action): void;
  /** Streams: time to the first content chunk, and each gap between chunks, by moderation mode. */
  stream?(mode: string, metric: 'ttft' | 'gap', ms: number): void;
}

/** Where the pipeline gets its policies: the bundle in force (with bindings) and an optional shadow candidate. */
export interface PolicySource {
  /** The policy for a request, and the revision of the bundle it came from. */
  select(meta: Omit<RequestMeta, 'headers'>): { policy: LoadedPolicy; bundle: string };
  /** A candidate evaluated beside the enforced policy and recorded, never enforced. */
  shadow?(): LoadedPolicy | undefined;
}

/** A PolicySource over one fixed policy (tests, tools). */
export const fixedPolicy = (policy: LoadedPolicy): PolicySource => ({ select: () => ({ policy, bundle: policy.revision }) });

export interface PipelineDeps {
  /** The policies in force; read once per request, so a reload never changes a request midway. */
  policies: PolicySource;
  generator?: Generator;
  audit: AuditSink;
  contentMode: ContentMode;
  instance: string;
  observer?: PipelineObserver;
  /** How streamed output is moderated (gateway/pipeline/stream-options.ts); defaults apply when unset. */
  stream?: Partial<StreamOptions>;
}

/** The action of higher precedence: what the client finally got. */
export const strongest = (a: Action, b: Action): Action => (ACTION_RANK[b] > ACTION_RANK[a] ? b : a);

export const newDecisionId = () => `dec_${randomUUID().replaceAll('-', '')}`;

/** Everything a request accumulates on its way through, turned into one decision record at the end. */
export class Trace {
  input?: { decision: StageDecision; ms: number };
  output?: { decision: StageDecision; ms: number };
  generatorMs?: number;
  readonly policy: LoadedPolicy;
  readonly bundle: string;
  /** The shadow candidate and what it decided at each stage. */
  readonly shadowPolicy: LoadedPolicy | undefined;
  shadowInput?: StageDecision;
  shadowOutput?: StageDecision;

  constructor(
    private readonly deps: PipelineDeps,
    readonly ctx: RequestContext,
    readonly request: ChatRequest | null,
    readonly promptText: string,
  ) {
    const chosen = deps.policies.select({ tenant: ctx.tenant, key: ctx.keyId, model: request?.model ?? null, route: ctx.route });
    this.policy = chosen.policy;
    this.bundle = chosen.bundle;
    this.shadowPolicy = deps.policies.shadow?.();
  }

  /** Evaluates the shadow candidate on the same stage; its failures are recorded as nothing, never raised. */
  shadowStage(req: Parameters<typeof evaluateStage>[1]): Promise<StageDecision | undefined> {
    return this.shadowPolicy ? evaluateStage(this.shadowPolicy, req).catch(() => undefined) : Promise.resolve(undefined);
  }

  /** Request metadata the policy's rules can test. */
  get meta(): RequestMeta {
    return { tenant: this.ctx.tenant, key: this.ctx.keyId, model: this.request?.model ?? null, route: this.ctx.route, headers: this.ctx.headers ?? {} };
  }

  async inputStage(doc: unknown, signal: AbortSignal): Promise<StageDecision> {
    const t = performance.now();
    const req = { stage: 'input', doc, meta: this.meta, signal } as const;
    const [decision, shadow] = await Promise.all([evaluateStage(this.policy, req), this.shadowStage(req)]);
    this.shadowInput = shadow;
    return this.setInput(decision, t);
  }

  /** Records an input decision made elsewhere (the moderation route), with its metrics. */
  setInput(decision: StageDecision, startedAt: number): StageDecision {
    this.input = { decision, ms: this.observe('input', startedAt, decision) };
    return decision;
  }

  /** The output stage over a response document, or over streamed text (read as one choice's content). */
  async outputStage(output: string | object, signal: AbortSignal): Promise<StageDecision> {
    const t = performance.now();
    const doc = typeof output === 'string' ? { choices: [{ index: 0, message: { role: 'assistant', content: output } }] } : output;
    const req = { stage: 'output', doc, meta: this.meta, prompt: this.promptText, signal } as const;
    const [decision, shadow] = await Promise.all([evaluateStage(this.policy, req), this.shadowStage(req)]);
    if (shadow && (!this.shadowOutput || ACTION_RANK[shadow.action] >= ACTION_RANK[this.shadowOutput.action])) this.shadowOutput = shadow;
    // A stream checks its output window by window: the record keeps the strongest decision (the later one on a
    // tie) and the summed time.
    const prev = this.output?.decision;
    const kept = prev && ACTION_RANK[prev.action] > ACTION_RANK[decision.action] ? prev : decision;
    this.output = { decision: kept, ms: (this.output?.ms ?? 0) + this.observe('output', t, decision) };
    return decision;
  }

  private observe(stage: 'input' | 'output', t: number, d: StageDecision): number {
    const ms = performance.now() - t;
    this.deps.observer?.stage(stage, ms);
    for (const c of d.classifiers) this.deps.observer?.classifier(c.id, c.latencyMs, c.error !== undefined);
    return ms;
  }

  /** What the shadow candidate would have done: refusing at input ends its run there, as it would have. */
  private shadowRecord(): ShadowRecord {
    const p = this.shadowPolicy!;
    const input = this.shadowInput;
    const output = input?.action === 'refuse' ? undefined : this.shadowOutput;
    return {
      policy: { id: p.policy.id, revision: p.revision },
      action: strongest(input?.action ?? 'allow', output?.action ?? 'allow'),
      stages: {
        ...(input && { input: stageRecord(input, 0, p.classifiers) }),
        ...(output && { output: stageRecord(output, 0, p.classifiers) }),
      },
    };
  }

  /** Records a request that failed after its input stage, and returns the error for the caller to throw. */
  async fail(err: GatewayError, outputText?: string): Promise<GatewayError> {
    await this.finish(this.input?.decision.action ?? 'allow', err.status, outputText, { type: err.code, message: err.message });
    return err;
  }

  /** Builds the decision record and appends it; resolves once the sink has stored it. */
  async finish(action: Action, status: number, outputText?: string, error?: { type: string; message: string }) {
    const { policy, classifiers } = this.policy;
    const record: DecisionRecord = {
      decision_id: this.ctx.decisionId,
      time: new Date().toISOString(),
      instance: this.deps.instance,
      key_id: this.ctx.keyId,
      tenant: this.ctx.tenant,
      route: this.ctx.route,
      model: this.request?.model ?? null,
      stream: this.request?.stream === true,
      policy: { id: policy.id, revision: this.policy.revision, bundle: this.bundle },
      action,
      status,
      stages: {
        ...(this.input && { input: stageRecord(this.input.decision, this.input.ms, classifiers) }),
        ...(this.output && { output: stageRecord(this.output.decision, this.output.ms, classifiers) }),
      },
      latency_ms: {
        total: round(performance.now() - this.ctx.started),
        ...(this.input && { input: round(this.input.ms) }),
        ...(this.generatorMs !== undefined && { generator: round(this.generatorMs) }),
        ...(this.output && { output: round(this.output.ms) }),
      },
      content: recordContent(
        this.deps.contentMode,
        { text: this.promptText, decision: this.input?.decision },
        outputText === undefined ? undefined : { text: outputText, decision: this.output?.decision },
      ),
      ...(this.shadowPolicy && (this.shadowInput || this.shadowOutput) && { shadow: this.shadowRecord() }),
      ...(error && { error }),
    };
    this.deps.observer?.decision(this.ctx.route, action);
    await this.deps.audit.append(record);
  }
}

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
        return new GatewayError('upstream_client_error', `upstream rejected the request (${e.status})`, null, { status: e.status, cause: e });
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
  async complete(request: ChatRequest, ctx: RequestContext, signal: AbortSignal): Promise<{ completion: ChatCompletion; action: Action }> {
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

    const out = await trace.outputStage(completion, signal);
    const action = strongest(trace.input!.decision.action, out.action);
    if (out.action === 'refuse') {
      completion = { ...refusalCompletion(completion.id, completion.model, out.message!), usage: completion.usage };
      await trace.finish('refuse', 200, out.message);
      return { completion, action };
    }
    if (out.rewrites.size) completion = replaceAt(completion, out.rewrites);
    await trace.finish(action, 200, completion.choices.map((c) => c.message?.content ?? '').join('\n\n'));
    return { completion, action };
  }
}
