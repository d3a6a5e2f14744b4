/** Bring-your-own Hugging Face sequence classifiers (ONNX export + tokenizer.json). See README.md. */
import type { Classifier } from '../types.js';
import { HfSequenceClassifier, HfSequenceParamsSchema } from './classifier.js';
import type { HfSequenceParams } from './classifier.js';

export { HfSequenceClassifier, HfSequenceParamsSchema, activate } from './classifier.js';
export type { HfSequenceParams } from './classifier.js';
export { HfError, HfModelError, HF_ERROR_CODES } from './errors.js';
export type { HfErrorCode } from './errors.js';
export { readModelFolder } from './folder.js';
export type { Activation, ModelFolder } from './folder.js';
export { SequenceTokenizer } from './tokenize.js';
export type { Encoded } from './tokenize.js';

/**
 * The `hf-sequence` classifier type for the registry. `baseDir` (the policy file's folder) anchors a
 * relative `dir` when the loader passes it; without it, `dir` resolves against the working directory.
 * @example
 * registerClassifierType('hf-sequence', hfSequenceType);
 * // policy: { "id": "injection", "type": "hf-sequence", "params": { "dir": "models/prompt-guard" } }
 */
export const hfSequenceType = {
  params: HfSequenceParamsSchema,
  create: ({
    id,
    timeoutMs,
    params,
    baseDir,
  }: {
    id: string;
    timeoutMs: number;
    params: HfSequenceParams;
    baseDir?: string;
  }): Classifier => new HfSequenceClassifier(id, params, timeoutMs, baseDir),
};
