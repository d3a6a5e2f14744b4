/**
 * Graders that ask a model: the RBRM rubric judge (`rbrm-judge`) and safety models with their official
 * templates (`safety-model`: Llama Guard 3/4, ShieldGemma). Both speak the OpenAI wire format to a server
 * configured apart from the main generator, and both fail closed: a malformed or failed answer throws.
 */
import type { Classifier } from '../types.js';
import { RbrmJudge, RbrmJudgeParamsSchema, type RbrmJudgeParams } from './rbrm.js';
import { SafetyModel, SafetyModelParamsSchema, type SafetyModelParams } from './safety.js';

export { argmax, bareToken, choiceProbabilities } from './logprobs.js';
export { RbrmJudge, RbrmJudgeParamsSchema, letterProbabilities, parseLetter, rbrmMessages } from './rbrm.js';
export type { RbrmJudgeParams } from './rbrm.js';
export { JudgeRubricSchema, rubricRevision } from './rubric.js';
export type { JudgeRubric } from './rubric.js';
export {
  SafetyModel,
  SafetyModelParamsSchema,
  parseLlamaGuard,
  parseYesNo,
  safetyPrompt,
  unsafeProbability,
} from './safety.js';
export type { SafetyModelParams } from './safety.js';
export { SAFETY_TEMPLATES, rbrmTemplate, render, safetyTemplate } from './templates.js';
export { JudgeError, askJudge } from './wire.js';

/**
 * The `rbrm-judge` classifier type for the registry.
 * @example
 * registerClassifierType('rbrm-judge', rbrmJudgeType);
 * // policy: { "id": "rbrm", "type": "rbrm-judge", "timeoutMs": 5000,
 * //           "params": { "url": "http://127.0.0.1:8000/v1", "model": "qwen2.5-7b-instruct",
 * //                       "rubric": { "id": "rbrm-output", … } } }
 */
export const rbrmJudgeType = {
  params: RbrmJudgeParamsSchema,
  create: ({ id, timeoutMs, params }: { id: string; timeoutMs: number; params: RbrmJudgeParams }): Classifier =>
    new RbrmJudge(id, params, timeoutMs),
};

/**
 * The `safety-model` classifier type for the registry.
 * @example
 * registerClassifierType('safety-model', safetyModelType);
 * // policy: { "id": "guard", "type": "safety-model", "timeoutMs": 3000,
 * //           "params": { "url": "http://127.0.0.1:8001/v1", "model": "meta-llama/Llama-Guard-3-8B",
 * //                       "template": "llama-guard-3" } }
 */
export const safetyModelType = {
  params: SafetyModelParamsSchema,
  create: ({ id, timeoutMs, params }: { id: string; timeoutMs: number; params: SafetyModelParams }): Classifier =>
    new SafetyModel(id, params, timeoutMs),
};
