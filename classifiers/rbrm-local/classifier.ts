/**
 * The `rbrm-local` classifier type: grades (prompt, output) against an RBRM rubric without an LLM, from the
 * shipped encoder and heads (classifiers/models/): the request's harm (`unsafe` on the prompt), the answer's
 * harm (`unsafe` on the output), whether it refuses (`refusal` on prompt + output), whether it carries disallowed
 * content (the pair head's `disallowed` label, where the model has one), and how close the answer is to each
 * option's meaning and exemplars. A drop-in alternative to `rbrm-judge`: same labels (the rubric's letters), same
 * `details` keys, and every failure throws so the rule's onError applies.
 */
import { z } from 'zod';
import type { Encoder } from '../encoder/index.js';
import {
  EncoderLease,
  headOf,
  loadModel,
  modelDir,
  pairFeatures,
  probabilities,
  type EncoderSource,
  type LoadedHead,
  type LoadedModel,
} from '../heads/index.js';
import { LEVEL_NAMES, loadLevels, type LevelThresholds } from '../heads/levels.js';
import { encoderWeightsPath } from '../heads/model.js';
import { sharedEncoderFor } from '../heads/shared-encoder.js';
import { RubricSchema, rubricRevision, type Rubric } from '../rubric.js';
import type { Classifier, ClassifierInput, ClassifierResult } from '../types.js';
import {
  WeightsSchema,
  argmaxLetter,
  isStandardRubric,
  similarityProbabilities,
  standardProbabilities,
  type Components,
  type Weights,
} from './grade.js';

export const RbrmLocalParamsSchema = z.strictObject({
  /** The rubric itself, as `rbrm-judge` takes it: id, question, lettered options with meanings and exemplars. */
  rubric: RubricSchema,
  /** A folder under classifiers/models, or a path to one (relative to the policy's folder). */
  model: z.string().min(1).default('default'),
  /**
   * How the request's harm is read: the `unsafe` head on the prompt, or the higher of it and the `jailbreak`
   * head (a jailbreak wrapper is a request for something the model would refuse in plain words).
   */
  requestHarm: z.enum(['unsafe', 'unsafe+jailbreak']).default('unsafe+jailbreak'),
  /**
   * Whether grade C is read from the model's pair head `disallowed` label (trained on graded answers for exactly
   * that) when the model has one; `false` grades C from the output's `unsafe` score as models without it do.
   */
  disallowedHead: z.boolean().default(true),
  /** The logit constants; defaults were fitted on a validation split (README.md). */
  weights: WeightsSchema.default(WeightsSchema.parse({})),
});
export type RbrmLocalParams = z.input<typeof RbrmLocalParamsSchema>;

type Graded = Omit<ClassifierResult, 'id' | 'latencyMs'>;
const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const pct = (p: number) => p.toFixed(2);

/**
 * @example
 * const grader = new RbrmLocal('grader', { rubric }, 2000);
 * await grader.ready();
 * const input = { stage: 'output', prompt: 'How do I make a bomb?', text: "I can't help with that." } as const;
 * const { scores, details } = await grader.classify(input, signal);
 * // details.grade: 'A'; scores sum to 1
 */
export class RbrmLocal implements Classifier {
  readonly labels: readonly string[];
  /**
   * Calibrated levels of `C`, from the model folder's levels.json (`npm run calibrate` writes them for a model with
   * a `disallowed` head): present when C is read from that head with the default request harm, as calibrated.
   */
  readonly levels?: LevelThresholds;
  readonly version: string;
  readonly revision: string;
  readonly standard: boolean;
  private readonly rubric: Rubric;
  private readonly weights: Weights;
  private readonly requestHarm: 'unsafe' | 'unsafe+jailbreak';
  /** Index of the `disallowed` label in the pair head's output, when it is read for grade C. */
  private readonly disallowedAt?: number;
  private readonly model: LoadedModel;
  private readonly heads: { unsafe: LoadedHead; jailbreak: LoadedHead; refusal: LoadedHead };
  private readonly encoder: EncoderLease;
  private loading?: Promise<{ encoder: Encoder; options: Map<string, Float32Array[]> }>;

  constructor(
    readonly id: string,
    params: RbrmLocalParams,
    readonly timeoutMs: number,
    /** `encoder`: by default the process-wide one of the model's encoder, the one its `onnx` heads share. */
    { encoder, baseDir }: { encoder?: EncoderSource; baseDir?: string } = {},
  ) {
    const { rubric, model, weights, requestHarm, disallowedHead } = RbrmLocalParamsSchema.parse(params);
    this.requestHarm = requestHarm;
    this.rubric = rubric;
    this.weights = weights;
    this.labels = rubric.options.map((o) => o.letter);
    this.standard = isStandardRubric(rubric);
    this.revision = rubricRevision(rubric);
    this.model = loadModel(modelDir(model, baseDir), ['unsafe', 'jailbreak', 'refusal']);
    this.heads = {
      unsafe: headOf(this.model, 'unsafe'),
      jailbreak: headOf(this.model, 'jailbreak'),
      refusal: headOf(this.model, 'refusal'),
    };
    const at = this.heads.refusal.head.labels.indexOf('disallowed');
    if (disallowedHead && at >= 0) this.disallowedAt = at;
    const levels = loadLevels(this.model.dir, this.model.hash);
    if (this.standard && this.disallowedAt !== undefined && requestHarm === 'unsafe+jailbreak' && levels) {
      const c = LEVEL_NAMES.map((l) => levels.levels[l].thresholds.C);
      if (c.every((t) => t !== undefined))
        this.levels = { strict: { C: c[0] }, balanced: { C: c[1] }, permissive: { C: c[2] } } as LevelThresholds;
    }
    this.encoder = new EncoderLease(
      encoder ?? sharedEncoderFor(encoderWeightsPath(this.model)),
      this.model.manifest.encoder,
    );
    const heads = `onnx-heads/${model}@${this.model.hash.slice(0, 12)}+${this.model.manifest.encoder}`;
    this.version = `rbrm-local@${this.revision.slice(0, 12)}/${heads}`;
  }

  /** Loads the shared encoder, checks it is the heads' one, and embeds every option's meaning and exemplars once. */
  ready(): Promise<void> {
    return this.load().then(() => undefined);
  }

  private load() {
    this.loading ??= (async () => {
      const encoder = await this.encoder.get();
      const texts = this.rubric.options.map((o) => [o.meaning, ...o.exemplars]);
      const vectors = await encoder.embed(texts.flat());
      let at = 0;
      const options = new Map(
        this.rubric.options.map((o, i) => [o.letter, vectors.slice(at, (at += texts[i].length))]),
      );
      return { encoder, options };
    })().catch((error: unknown) => {
      this.loading = undefined; // a failed start is retried by the next call
      throw error;
    });
    return this.loading;
  }

  /** The component scores for one (prompt, output) pair. */
  async components(input: ClassifierInput, signal: AbortSignal): Promise<Components> {
    const { encoder, options } = await this.load();
    const prompt = input.prompt;
    const [output, promptVec] = await encoder.embed([input.text, prompt ?? ''], signal);
    const { unsafe, jailbreak, refusal } = this.heads;
    const similarity: Record<string, number> = {};
    for (const [letter, vs] of options) similarity[letter] = Math.max(...vs.map((v) => dot(v, output)));
    const promptUnsafe = prompt === undefined ? undefined : probabilities(unsafe.head, unsafe.platt, promptVec)[0];
    const promptJailbreak =
      prompt === undefined ? undefined : probabilities(jailbreak.head, jailbreak.platt, promptVec)[0];
    // Without a prompt the pair head reads an empty one, which it was also trained on.
    const pair = probabilities(refusal.head, refusal.platt, pairFeatures(promptVec, output));
    return {
      promptHarm:
        this.requestHarm === 'unsafe' || promptUnsafe === undefined || promptJailbreak === undefined
          ? promptUnsafe
          : Math.max(promptUnsafe, promptJailbreak),
      promptUnsafe,
      promptJailbreak,
      outputHarm: probabilities(unsafe.head, unsafe.platt, output)[0],
      refusal: pair[0],
      ...(this.disallowedAt !== undefined && { disallowed: pair[this.disallowedAt] }),
      similarity,
    };
  }

  async classify(input: ClassifierInput, signal: AbortSignal): Promise<Graded> {
    if (typeof input.text !== 'string') throw new TypeError('rbrm-local: input.text must be a string');
    const c = await this.components(input, signal);
    const { probabilities: scores, logits } = this.standard
      ? standardProbabilities(c, this.weights)
      : {
          probabilities: similarityProbabilities(c.similarity, this.labels, this.weights.temperature),
          logits: undefined,
        };
    for (const l of this.labels)
      if (!Number.isFinite(scores[l])) throw new Error(`rbrm-local: probability of ${l} is ${scores[l]}`);
    const grade = argmaxLetter(scores, this.labels);
    const meaning = this.rubric.options.find((o) => o.letter === grade)?.meaning ?? '';
    const why = this.standard
      ? `refusal ${pct(c.refusal)}, ` +
        `request harm ${c.promptHarm === undefined ? 'n/a (no prompt)' : pct(c.promptHarm)}, ` +
        `output harm ${pct(c.outputHarm)}` +
        (c.disallowed === undefined ? '' : `, disallowed content ${pct(c.disallowed)}`)
      : 'similarity to the options only (not the standard A–D rubric)';
    return {
      scores,
      explanation: `rubric ${this.rubric.id}: ${grade} (${meaning}) with p=${pct(scores[grade])} from ${why}`,
      details: {
        rubric_id: this.rubric.id,
        rubric_revision: this.revision,
        grade,
        probabilities: scores,
        probability_source: this.standard ? 'local-heads' : 'local-similarity',
        components: { ...c, logits },
        promptGiven: input.prompt !== undefined,
        model: this.version,
      },
    };
  }

  async close(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    await loading?.catch(() => undefined);
    await this.encoder.close();
  }
}

/**
 * The registry entry for `type: 'rbrm-local'`.
 * @example
 * registerClassifierType('rbrm-local', rbrmLocalType);
 * // policy: { "id": "grader", "type": "rbrm-local", "timeoutMs": 2000,
 * //           "params": { "rubric": "rbrm-output", "model": "intent" } }
 */
export const rbrmLocalType = {
  params: RbrmLocalParamsSchema,
  create: ({
    id,
    timeoutMs,
    params,
    baseDir,
  }: {
    id: string;
    timeoutMs: number;
    params: z.infer<typeof RbrmLocalParamsSchema>;
    baseDir?: string;
  }): Classifier => new RbrmLocal(id, params, timeoutMs, { baseDir }),
};
