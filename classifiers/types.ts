/**
 * The classifier contract. Every classifier — the rules classifier, the local ONNX encoder with its heads,
 * a bring-your-own Hugging Face model, the RBRM rubric judge — implements this one interface, so the
 * pipeline and the policy engine never know which kind they are talking to.
 */

import type { ClassifierError } from '../audit/types.js';
import type { LevelThresholds } from './heads/levels.js';

export type { ClassifierError, ClassifierErrorCode } from '../audit/types.js';

export type Stage = 'input' | 'output';

/** What a classifier is asked to look at. `text` is the text the policy selected for this stage. */
export interface ClassifierInput {
  stage: Stage;
  text: string;
  /** The user's request as the gateway received it, for classifiers that read the prompt and the output together. */
  prompt?: string;
}

/** A character span in `ClassifierInput.text` that carries a label, used by `redact`. */
export interface Span {
  label: string;
  start: number;
  end: number;
}

/** The result every classifier returns. Results are data: the decision record is built from them. */
export interface ClassifierResult {
  id: string;
  /** label → score in [0, 1]. */
  scores: Record<string, number>;
  /** A short human-readable account of why the scores are what they are. */
  explanation: string;
  latencyMs: number;
  /** Set when the classifier failed; the policy then applies its onError action (refuse by default). */
  error?: ClassifierError;
  /** Spans of the text that carry a label, for redaction. */
  spans?: Span[];
  /** Free-form extra data a classifier wants on the record (token counts, model version, grades). */
  details?: Record<string, unknown>;
}

export interface Classifier {
  readonly id: string;
  /** The labels this classifier can score. */
  readonly labels: readonly string[];
  /** A version string recorded with each result, so a decision can be tied to the model that made it. */
  readonly version: string;
  /** Per-call timeout in milliseconds; past it the call counts as an error. */
  readonly timeoutMs: number;
  classify(input: ClassifierInput, signal: AbortSignal): Promise<Omit<ClassifierResult, 'id' | 'latencyMs'>>;
  /**
   * The same work done synchronously, for classifiers that never wait (rules): the runner calls it directly,
   * without a timeout timer, which could never fire before synchronous work returns anyway.
   */
  classifySync?(input: ClassifierInput): Omit<ClassifierResult, 'id' | 'latencyMs'>;
  /**
   * True for classifiers whose findings depend only on nearby text (patterns, detectors): whatever they find in a
   * part of a text they find in the whole, so a conversation is classified once, not once more per latest turn.
   */
  readonly local?: boolean;
  /** Resolves once the classifier can serve (models loaded). */
  ready?(): Promise<void>;
  /**
   * Calibrated operating levels (strict, balanced, permissive): per level, per label, a threshold. A policy
   * naming a level on this classifier's labels resolves to these numbers at load.
   */
  readonly levels?: LevelThresholds;
  close?(): Promise<void>;
}
