import type { z } from 'zod';
import { hfSequenceType } from './hf/index.js';
import { rbrmJudgeType, safetyModelType } from './judge/index.js';
import { onnxClassifierType } from './heads/index.js';
import { rbrmLocalType } from './rbrm-local/index.js';
import { LanguageClassifier, LanguageParamsSchema } from './language.js';
import { RulesClassifier, RulesParamsSchema } from './rules.js';
import type { Classifier } from './types.js';

/** How a policy's classifier declaration becomes a running classifier. */
export interface ClassifierType<S extends z.ZodType = z.ZodType> {
  /** The parameter schema; a policy's `params` are validated against it at load. */
  params: S;
  /** `baseDir` is the folder of the policy file that declares the classifier, for relative paths in params. */
  create(decl: { id: string; timeoutMs: number; params: z.infer<S>; baseDir?: string }): Classifier;
}

const TYPES = new Map<string, ClassifierType>();

/** Registers a classifier type so policies can declare it by name. */
export function registerClassifierType<S extends z.ZodType>(type: string, def: ClassifierType<S>): void {
  TYPES.set(type, def as unknown as ClassifierType);
}

export function classifierType(type: string): ClassifierType | undefined {
  return TYPES.get(type);
}

export function classifierTypeNames(): string[] {
  return [...TYPES.keys()];
}

registerClassifierType('rules', {
  params: RulesParamsSchema,
  create: ({ id, timeoutMs, params }) => new RulesClassifier(id, params, timeoutMs),
});

registerClassifierType('hf-sequence', hfSequenceType);

registerClassifierType('onnx', onnxClassifierType);

registerClassifierType('rbrm-judge', rbrmJudgeType);
registerClassifierType('safety-model', safetyModelType);
registerClassifierType('rbrm-local', rbrmLocalType);
registerClassifierType('language', {
  params: LanguageParamsSchema,
  create: ({ id, timeoutMs, params }) => new LanguageClassifier(id, params, timeoutMs),
});
