/**
 * The local zero-shot RBRM grader (`rbrm-local`): rubric grades from the shipped encoder and heads, no LLM. See
 * README.md.
 */
export { RbrmLocal, RbrmLocalParamsSchema, rbrmLocalType } from './classifier.js';
export type { RbrmLocalParams } from './classifier.js';
export {
  WeightsSchema,
  argmaxLetter,
  gradedC,
  isStandardRubric,
  similarityProbabilities,
  softmax,
  standardProbabilities,
} from './grade.js';
export type { Components, Weights } from './grade.js';
