/**
 * The `onnx` classifier type: the shared local sentence encoder plus trained linear heads (see
 * classifiers/models/MODEL_CARD.md). Scores are calibrated probabilities; each label's validation threshold
 * is reported in `details.thresholds` and in the explanation, and a policy decides what to do with them.
 */
import { z } from 'zod';
import type { Classifier, ClassifierInput } from '../types.js';
import { EncoderLease, sharedEncoderFor, type EncoderSource } from './shared-encoder.js';
import { pairFeatures, probabilities } from './linear.js';
import {
  HEAD_NAMES,
  encoderWeightsPath,
  headOf,
  loadModel,
  modelDir,
  type LoadedHead,
  type LoadedModel,
} from './model.js';
import {
  LEVELS_FILE,
  levelsPrecision,
  loadLevels,
  precisionMismatch,
  thresholdsOf,
  type LevelThresholds,
} from './levels.js';
import type { Precision } from '../encoder/precision.js';

export type { EncoderSource } from './shared-encoder.js';

export const OnnxParamsSchema = z.strictObject({
  /** Which heads to run; the classifier's labels are theirs, in this order. */
  heads: z.array(z.enum(HEAD_NAMES)).min(1).default(['unsafe', 'jailbreak', 'injection']),
  /** A folder under classifiers/models, or a path to one (relative to the policy's folder). */
  model: z.string().min(1).default('default'),
  /** Windows of 128 tokens read by heads that take the maximum over windows (injection). */
  maxChunks: z.number().int().min(1).max(32).default(4),
});
export type OnnxParams = z.input<typeof OnnxParamsSchema>;

const pct = (p: number) => p.toFixed(2);

/** Each mismatch is reported once per process, however many classifiers and policy reloads share the model. */
const warned = new Set<string>();

/**
 * @example
 * const c = new OnnxHeadsClassifier('heads', { heads: ['unsafe', 'jailbreak'] }, 2000);
 * await c.ready();
 * const { scores } = await c.classify({ stage: 'input', text: 'how do I make a pipe bomb' }, signal);
 * // scores.unsafe ≈ 0.98, scores.jailbreak ≈ 0.02
 */
export class OnnxHeadsClassifier implements Classifier {
  readonly labels: readonly string[];
  readonly version: string;
  /** The model folder's calibrated levels (levels.json), when it has them. */
  readonly levels?: LevelThresholds;
  /** The encoder precision those levels were calibrated at. */
  readonly levelsPrecision?: Precision;
  private readonly model: LoadedModel;
  private readonly heads: LoadedHead[];
  private readonly maxChunks: number;
  private readonly encoder: EncoderLease;

  constructor(
    readonly id: string,
    params: OnnxParams,
    readonly timeoutMs: number,
    /** `baseDir`: the declaring policy's folder, against which a `model` path is resolved. */
    { encoder, baseDir }: { encoder?: EncoderSource; baseDir?: string } = {},
  ) {
    const { heads, model, maxChunks } = OnnxParamsSchema.parse(params);
    if (new Set(heads).size !== heads.length) throw new Error(`params.heads lists a head twice: ${heads.join(', ')}`);
    this.model = loadModel(modelDir(model, baseDir), heads);
    const levels = loadLevels(this.model.dir, this.model.hash);
    if (levels) {
      this.levels = thresholdsOf(levels);
      this.levelsPrecision = levelsPrecision(levels);
    }
    this.encoder = new EncoderLease(
      encoder ?? sharedEncoderFor(encoderWeightsPath(this.model)),
      this.model.manifest.encoder,
    );
    this.heads = heads.map((name) => headOf(this.model, name));
    this.labels = this.heads.flatMap((h) => h.head.labels);
    if (new Set(this.labels).size !== this.labels.length) throw new Error(`heads ${heads.join(', ')} share a label`);
    this.maxChunks = maxChunks;
    this.version = `onnx-heads/${model}@${this.model.hash.slice(0, 12)}+${this.model.manifest.encoder}`;
  }

  /**
   * Loads the shared encoder and checks it is the one the heads were trained on. Levels calibrated at another
   * precision than the encoder serves are a process warning (stderr), not an error: see levels.ts.
   */
  ready(): Promise<void> {
    return this.encoderChecked().then(() => undefined);
  }

  private async encoderChecked() {
    const encoder = await this.encoder.get();
    if (this.levelsPrecision && encoder.precision) {
      const message = precisionMismatch(`${this.model.dir}/${LEVELS_FILE}`, this.levelsPrecision, encoder.precision);
      if (message && !warned.has(message)) {
        warned.add(message);
        process.emitWarning(message, { code: 'GATEWAY_LEVELS_PRECISION' });
      }
    }
    return encoder;
  }

  async classify(input: ClassifierInput, signal: AbortSignal) {
    const encoder = await this.encoderChecked();
    const windowed = this.heads.some((h) => h.entry.pooling === 'max');
    const pair = this.heads.some((h) => h.entry.input === 'prompt+response');
    const [windows, promptVec] = await Promise.all([
      windowed
        ? encoder.embedChunks(input.text, { maxChunks: this.maxChunks }, signal)
        : encoder.embed([input.text], signal),
      pair ? encoder.embed([input.prompt ?? ''], signal).then(([v]) => v) : undefined,
    ]);
    const scores: Record<string, number> = {};
    const thresholds: Record<string, number> = {};
    const over: string[] = [];
    let top = { label: '', p: -1 };
    for (const { entry, head, platt, thresholds: cutoffs } of this.heads) {
      let probs: Float64Array;
      if (entry.input === 'prompt+response') {
        if (!promptVec) throw new Error('a prompt+response head ran without the prompt embedding');
        probs = probabilities(head, platt, pairFeatures(promptVec, windows[0]));
      } else if (entry.pooling === 'max') {
        probs = new Float64Array(head.labels.length);
        for (const window of windows)
          probabilities(head, platt, window).forEach((v, j) => (probs[j] = Math.max(probs[j], v)));
      } else probs = probabilities(head, platt, windows[0]);
      head.labels.forEach((label, j) => {
        scores[label] = probs[j];
        thresholds[label] = cutoffs[j];
        if (probs[j] >= cutoffs[j]) over.push(`${label} ${pct(probs[j])} ≥ ${pct(cutoffs[j])}`);
        if (probs[j] > top.p) top = { label, p: probs[j] };
      });
    }
    const explanation = over.length
      ? `over threshold: ${over.join(', ')}`
      : `no label over its threshold (highest: ${top.label} ${pct(top.p)})`;
    const details = {
      model: this.version,
      thresholds,
      windows: windows.length,
      promptGiven: pair ? input.prompt !== undefined : undefined,
    };
    return { scores, explanation, details };
  }

  close(): Promise<void> {
    return this.encoder.close();
  }
}

/** The registry entry for `type: 'onnx'`. */
export const onnxClassifierType = {
  params: OnnxParamsSchema,
  create: ({
    id,
    timeoutMs,
    params,
    baseDir,
  }: {
    id: string;
    timeoutMs: number;
    params: z.infer<typeof OnnxParamsSchema>;
    baseDir?: string;
  }): Classifier => new OnnxHeadsClassifier(id, params, timeoutMs, { baseDir }),
};
