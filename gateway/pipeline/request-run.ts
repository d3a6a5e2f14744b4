import {
  RECORD_VERSION,
  type Action,
  type DecisionRecord,
  type GradeRecord,
  type RecordError,
} from '../../audit/types.js';
import type { ChatRequest } from '../../generator/types.js';
import {
  ACTION_RANK,
  evaluateStage,
  type RequestMeta,
  type StageDecision,
  type StageRequest,
} from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import type { PipelineDeps, RequestContext } from './context.js';
import { GatewayError } from './errors.js';
import { gradeAnswer } from './grading.js';
import { round } from '../../policies/round.js';
import { answerSpans, labelledSpans, recordContent, shadowRecord, stageRecord } from './record.js';

/** A stage decision and the time its stage took (summed over a stream's windows). */
interface Timed {
  decision: StageDecision;
  ms: number;
}

/** An output stage evaluated on a second answer (an over-refusal's retry), kept apart until it is chosen. */
export interface Regraded {
  decision: StageDecision;
  grade: GradeRecord | undefined;
  /** What the shadow candidate decided on the same answer. */
  shadow: StageDecision | undefined;
}

/**
 * The graded answers the output stage passed, kept when the client got something else: the original of a restyled
 * refusal, and both answers of an over-refusal's retry (see ContentRecord.answers).
 */
export interface GradedAnswers {
  original?: string;
  retry?: string;
}

/** What the client got, for the record's content: the answer's text and its tool calls. */
export interface Answered {
  text: string;
  toolCalls?: readonly unknown[];
}

/**
 * One request's way through the pipeline, and the one owner of what it accumulates: the stage decisions, the
 * generator's time, the grade and the shadow candidate's verdicts. Every stage runs through it, so every stage is
 * shadow-evaluated, observed in metrics and timed; at the end it builds the one decision record and appends it.
 * The policy is chosen by the pipeline and passed in; it does not change during the request.
 *
 * @example
 * const run = pipeline.start(ctx, request, promptText(request));
 * const input = await run.runInput(request, signal);
 * const answer = await run.timeGeneration(() => generator.complete(request, signal));
 * await run.runOutput(answer, signal);
 * await run.finish('allow', 200, { text: answerText(answer) });
 */
export class RequestRun {
  private input?: Timed;
  private output?: Timed;
  private generatorMs?: number;
  private grade?: GradeRecord;
  private answers?: GradedAnswers;
  private shadowInput?: StageDecision;
  private shadowOutput?: StageDecision;

  constructor(
    private readonly deps: PipelineDeps,
    readonly ctx: RequestContext,
    readonly request: ChatRequest | null,
    /** The prompt as content modes store it and as output classifiers read it. */
    readonly promptText: string,
    readonly policy: LoadedPolicy,
    private readonly bundle: string,
    private readonly shadowPolicy: LoadedPolicy | undefined,
  ) {}

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

  /** The input stage's action; `allow` before it has run. */
  get inputAction(): Action {
    return this.input?.decision.action ?? 'allow';
  }

  /** Runs the input stage on a request document, with the shadow candidate beside it. */
  async runInput(doc: unknown, signal: AbortSignal): Promise<StageDecision> {
    const started = performance.now();
    const req = { stage: 'input', doc, meta: this.meta, signal } as const;
    const [decision, shadow] = await Promise.all([evaluateStage(this.policy, req), this.shadowStage(req)]);
    this.shadowInput = shadow;
    this.input = { decision, ms: this.observe('input', started, decision) };
    return decision;
  }

  /**
   * Runs the input stage on several documents at once (the moderation route's inputs); the record keeps
   * `merge` of their decisions, and of the shadow's when it decided on every one.
   */
  async runInputs(
    docs: unknown[],
    signal: AbortSignal,
    merge: (decisions: StageDecision[]) => StageDecision,
  ): Promise<{ each: StageDecision[]; merged: StageDecision }> {
    const started = performance.now();
    const reqs = docs.map((doc) => ({ stage: 'input', doc, meta: this.meta, signal }) as const);
    const [decisions, shadows] = await Promise.all([
      Promise.all(reqs.map((r) => evaluateStage(this.policy, r))),
      Promise.all(reqs.map((r) => this.shadowStage(r))),
    ]);
    const decided = shadows.filter((s): s is StageDecision => s !== undefined);
    if (decided.length === shadows.length) this.shadowInput = merge(decided);
    const merged = merge(decisions);
    this.input = { decision: merged, ms: this.observe('input', started, merged) };
    return { each: decisions, merged };
  }

  /**
   * Runs the output stage over a response document, or over streamed text (read as one choice's content). A
   * stream checks its output window by window: the record keeps the strongest decision (the later one on a tie)
   * and the summed time.
   */
  async runOutput(output: string | object, signal: AbortSignal): Promise<StageDecision> {
    const { decision, shadow, ms } = await this.evaluateOutput(output, signal);
    this.keepShadowOutput(shadow);
    const prev = this.output?.decision;
    const kept = prev && ACTION_RANK[prev.action] > ACTION_RANK[decision.action] ? prev : decision;
    this.output = { decision: kept, ms: (this.output?.ms ?? 0) + ms };
    return decision;
  }

  /** Times one upstream call; the record's generator latency is the sum over every call of the request. */
  async timeGeneration<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const value = await call();
      this.deps.observer?.stage('generator', this.addGeneration(started));
      return value;
    } catch (e) {
      this.addGeneration(started);
      throw e;
    }
  }

  /** Records an upstream call that started at `started` and ends now (a stream, timed by its reader). */
  addGeneration(started: number): number {
    const ms = performance.now() - started;
    this.generatorMs = (this.generatorMs ?? 0) + ms;
    return ms;
  }

  /** Grades the answer the output stage passed, with the policy's rubric; the record keeps the grade. */
  async gradeOutput(answer: string, signal: AbortSignal): Promise<GradeRecord | undefined> {
    this.grade = await gradeAnswer(
      this.policy,
      { input: this.input?.decision, output: this.output?.decision },
      { prompt: this.promptText, output: answer },
      signal,
    );
    return this.grade;
  }

  /**
   * Runs the output stage on a second answer and grades it, like the first (shadow, metrics, time), but keeps
   * its verdict apart: the record's output stage changes only if `adopt` is called with it.
   */
  async regrade(doc: object, answer: string, signal: AbortSignal): Promise<Regraded> {
    const { decision, shadow, ms } = await this.evaluateOutput(doc, signal);
    if (this.output) this.output.ms += ms;
    const grade = await gradeAnswer(
      this.policy,
      { input: this.input?.decision, output: decision },
      { prompt: this.promptText, output: answer },
      signal,
    );
    return { decision, grade, shadow };
  }

  /** The second answer goes to the client: the record's output stage (and the shadow's) become its verdict. */
  adopt(retry: Regraded): void {
    this.output = { decision: retry.decision, ms: this.output?.ms ?? 0 };
    this.shadowOutput = retry.shadow;
  }

  /** Keeps graded answers the client did not get as they were (see GradedAnswers), per the content mode. */
  keepAnswers(answers: GradedAnswers): void {
    this.answers = answers;
  }

  /** Replaces the output decision the record keeps (a restyled refusal), keeping the stage's time. */
  replaceOutput(decision: StageDecision): void {
    this.output = { decision, ms: this.output?.ms ?? 0 };
  }

  /** Records a request that failed after its input stage, and returns the error for the caller to throw. */
  async fail(err: GatewayError, outputText?: string): Promise<GatewayError> {
    const answered = outputText === undefined ? undefined : { text: outputText };
    await this.finish(this.inputAction, err.status, answered, { type: err.code, message: err.message });
    return err;
  }

  /** Builds the decision record and appends it; resolves once the sink has stored it. */
  async finish(action: Action, status: number, answered?: Answered, error?: RecordError): Promise<void> {
    // A streamed answer is graded here, once it is complete, exactly as a whole answer is (gradeAnswer): the
    // classifiers the stages ran are reused, the others (the prompt-safety model, often) are run now. No request
    // signal: a stream's is aborted when its output is refused, and the classifiers' own timeouts bound the wait.
    const grade =
      this.grade ??
      (this.output
        ? await gradeAnswer(
            this.policy,
            { input: this.input?.decision, output: this.output.decision },
            { prompt: this.promptText, output: answered?.text ?? '' },
          )
        : undefined);
    if (grade) this.deps.observer?.grade?.(grade.grade, grade.over_refusal);
    const { policy, classifiers } = this.policy;
    const shadow = this.shadowPolicy && shadowRecord(this.shadowPolicy, this.shadowInput, this.shadowOutput);
    // Only `redacted` mode needs the answer's spans, found in the text the client received (see answerSpans).
    const spansOf = (text: string) =>
      this.deps.contentMode === 'redacted' ? answerSpans(this.policy, text, this.meta, this.promptText) : undefined;
    const outputSpans = answered && (await spansOf(answered.text));
    const kept = async (text: string | undefined) =>
      text === undefined ? undefined : { text, spans: await spansOf(text) };
    const answers = this.answers && {
      original: await kept(this.answers.original),
      retry: await kept(this.answers.retry),
    };
    // Members in sorted order, at every depth (see record.ts).
    const record: DecisionRecord = {
      action,
      api: this.ctx.api,
      content: recordContent(this.deps.contentMode, {
        prompt: { text: this.promptText, spans: labelledSpans(this.input?.decision) },
        ...(answered && { output: { text: answered.text, spans: outputSpans } }),
        answers,
        messages: this.request?.messages,
        outputToolCalls: answered?.toolCalls,
      }),
      ...(this.ctx.continues && { continues: { id: this.ctx.continues.id, judged: this.ctx.continues.judged } }),
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
      ...(shadow && { shadow }),
      stages: {
        ...(this.input && { input: stageRecord(this.input.decision, this.input.ms, classifiers) }),
        ...(this.output && { output: stageRecord(this.output.decision, this.output.ms, classifiers) }),
      },
      status,
      stream: this.request?.stream === true,
      tenant: this.ctx.tenant,
      time: new Date().toISOString(),
      v: RECORD_VERSION,
    };
    this.deps.observer?.decision(this.ctx.route, action, this.ctx.api);
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

  /** One output-stage evaluation with the shadow beside it, observed in metrics. */
  private async evaluateOutput(output: string | object, signal: AbortSignal) {
    const started = performance.now();
    const doc =
      typeof output === 'string'
        ? { choices: [{ index: 0, message: { role: 'assistant', content: output } }] }
        : output;
    const req = { stage: 'output', doc, meta: this.meta, prompt: this.promptText, signal } as const;
    const [decision, shadow] = await Promise.all([evaluateStage(this.policy, req), this.shadowStage(req)]);
    return { decision, shadow, ms: this.observe('output', started, decision) };
  }

  /** Evaluates the shadow candidate on the same stage; its failures are recorded as nothing, never raised. */
  private shadowStage(req: StageRequest): Promise<StageDecision | undefined> {
    return this.shadowPolicy
      ? evaluateStage(this.shadowPolicy, req).catch(() => undefined)
      : Promise.resolve(undefined);
  }

  private keepShadowOutput(shadow: StageDecision | undefined): void {
    if (shadow && (!this.shadowOutput || ACTION_RANK[shadow.action] >= ACTION_RANK[this.shadowOutput.action]))
      this.shadowOutput = shadow;
  }

  private observe(stage: 'input' | 'output', started: number, d: StageDecision): number {
    const ms = performance.now() - started;
    this.deps.observer?.stage(stage, ms);
    for (const c of d.classifiers) this.deps.observer?.classifier(c.id, c.latencyMs, c.error !== undefined);
    return ms;
  }
}
