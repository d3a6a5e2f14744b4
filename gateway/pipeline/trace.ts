import type { Action, DecisionRecord, GradeRecord, ShadowRecord } from '../../audit/types.js';
import type { ChatRequest } from '../../generator/types.js';
import { ACTION_RANK, evaluateStage, type RequestMeta, type StageDecision } from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { strongest, type PipelineDeps, type RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { gradeFromStages } from './grading.js';
import { round } from '../../policies/round.js';
import { recordContent, stageRecord } from './record.js';

/** Everything a request accumulates on its way through, turned into one decision record at the end. */
export class Trace {
  input?: { decision: StageDecision; ms: number };
  output?: { decision: StageDecision; ms: number };
  generatorMs?: number;
  /** The answer's RBRM grade, when the policy grades (set by the pipeline; streams derive it at finish). */
  grade?: GradeRecord;
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
    const chosen = deps.policies.select({
      tenant: ctx.tenant,
      key: ctx.keyId,
      model: request?.model ?? null,
      route: ctx.route,
    });
    this.policy = chosen.policy;
    this.bundle = chosen.bundle;
    this.shadowPolicy = deps.policies.shadow?.();
  }

  /** Evaluates the shadow candidate on the same stage; its failures are recorded as nothing, never raised. */
  shadowStage(req: Parameters<typeof evaluateStage>[1]): Promise<StageDecision | undefined> {
    return this.shadowPolicy
      ? evaluateStage(this.shadowPolicy, req).catch(() => undefined)
      : Promise.resolve(undefined);
  }

  /** Request metadata the policy's rules can test. */
  get meta(): RequestMeta {
    return {
      tenant: this.ctx.tenant,
      key: this.ctx.keyId,
      model: this.request?.model ?? null,
      route: this.ctx.route,
      headers: this.ctx.headers ?? {},
    };
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
    const doc =
      typeof output === 'string'
        ? { choices: [{ index: 0, message: { role: 'assistant', content: output } }] }
        : output;
    const req = { stage: 'output', doc, meta: this.meta, prompt: this.promptText, signal } as const;
    const [decision, shadow] = await Promise.all([evaluateStage(this.policy, req), this.shadowStage(req)]);
    if (shadow && (!this.shadowOutput || ACTION_RANK[shadow.action] >= ACTION_RANK[this.shadowOutput.action]))
      this.shadowOutput = shadow;
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
    await this.finish(this.input?.decision.action ?? 'allow', err.status, outputText, {
      type: err.code,
      message: err.message,
    });
    return err;
  }

  /** Builds the decision record and appends it; resolves once the sink has stored it. */
  async finish(action: Action, status: number, outputText?: string, error?: { type: string; message: string }) {
    const grade =
      this.grade ??
      (this.output
        ? gradeFromStages(this.policy, { input: this.input?.decision, output: this.output.decision })
        : undefined);
    if (grade) this.deps.observer?.grade?.(grade.grade, grade.over_refusal);
    const { policy, classifiers } = this.policy;
    // Members are written in sorted order, at every depth: the audit log stores canonical JSON, and its masker
    // shares (rather than copies) any part that is already in that order.
    const record: DecisionRecord = {
      action,
      content: recordContent(
        this.deps.contentMode,
        { text: this.promptText, decision: this.input?.decision },
        outputText === undefined ? undefined : { text: outputText, decision: this.output?.decision },
      ),
      decision_id: this.ctx.decisionId,
      ...(error && { error }),
      instance: this.deps.instance,
      key_id: this.ctx.keyId,
      latency_ms: {
        ...(this.generatorMs !== undefined && { generator: round(this.generatorMs, 3) }),
        ...(this.input && { input: round(this.input.ms, 3) }),
        ...(this.output && { output: round(this.output.ms, 3) }),
        total: round(performance.now() - this.ctx.started, 3),
      },
      model: this.request?.model ?? null,
      policy: { bundle: this.bundle, id: policy.id, revision: this.policy.revision },
      ...(grade && { rbrm: grade }),
      route: this.ctx.route,
      ...(this.shadowPolicy && (this.shadowInput || this.shadowOutput) && { shadow: this.shadowRecord() }),
      stages: {
        ...(this.input && { input: stageRecord(this.input.decision, this.input.ms, classifiers) }),
        ...(this.output && { output: stageRecord(this.output.decision, this.output.ms, classifiers) }),
      },
      status,
      stream: this.request?.stream === true,
      tenant: this.ctx.tenant,
      time: new Date().toISOString(),
    };
    this.deps.observer?.decision(this.ctx.route, action);
    try {
      await this.deps.audit.append(record);
    } catch (e) {
      // Fail closed: an answer is never sent as if its decision were recorded when it was not.
      throw new GatewayError(
        'audit_unavailable',
        'the decision could not be recorded, so the request was not answered; try again later',
        null,
        { cause: e },
      );
    }
  }
}
