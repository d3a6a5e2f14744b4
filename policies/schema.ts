import { z } from 'zod';

/**
 * The policy language, version 1. A policy is JSON: classifiers to run, and rules that turn their scores into
 * one action per stage. The envelope is deliberately open to growth (taxonomy, rubrics, bindings, boolean
 * conditions); everything here keeps its meaning as the language grows.
 */

export const ActionSchema = z.enum(['allow', 'refuse', 'redact', 'flag']);
export const OnErrorSchema = z.enum(['refuse', 'flag', 'allow']);

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected an id of letters, digits, _ . : - (at most 64 characters)');

export const ClassifierDeclSchema = z.strictObject({
  id,
  /** Which implementation: `rules` ships with the gateway; more types plug in through the registry. */
  type: z.string().min(1),
  /** Per-call timeout; past it the classifier counts as failed and rules apply their onError. */
  timeoutMs: z.number().int().positive().max(60_000).default(250),
  /** Parameters, validated against the classifier type's own schema at load. */
  params: z.record(z.string(), z.unknown()).default({}),
});

/** A condition: this classifier's label scored at or above the threshold. */
export const ScoreConditionSchema = z.strictObject({
  classifier: id,
  label: z.string().min(1),
  threshold: z.number().min(0, 'expected a number between 0 and 1').max(1, 'expected a number between 0 and 1'),
});

export const RuleSchema = z
  .strictObject({
    id,
    description: z.string().default(''),
    stage: z.enum(['input', 'output', 'both']),
    /** Higher runs first among rules of the same action. */
    priority: z.number().int().default(0),
    when: ScoreConditionSchema,
    action: ActionSchema,
    /** For `refuse`: the assistant message the client receives. Default: the policy's refusal. */
    message: z.string().min(1).optional(),
    /** For `redact`: what replaces each matched span. `{label}` is replaced by the label. */
    replacement: z.string().default('[REDACTED:{label}]'),
    /** What to do when the rule's classifier fails. Default: the policy's defaults.onError. */
    onError: OnErrorSchema.optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.action === 'allow' && rule.message) {
      ctx.addIssue({ code: 'custom', path: ['message'], message: 'an allow rule has no message' });
    }
  });

export const PolicySchema = z.strictObject({
  apiVersion: z.literal('gateway/v1', { error: 'expected "gateway/v1"' }),
  id,
  description: z.string().default(''),
  defaults: z
    .strictObject({
      onError: OnErrorSchema.default('refuse'),
      /** The refusal used when a rule gives no message. Brief, kind, and offering safe help. */
      refusal: z
        .string()
        .min(1)
        .default("I can't help with that one. If there's a related question I can help with, I'm happy to."),
      /** The refusal used when a check could not run (fail closed). */
      errorRefusal: z
        .string()
        .min(1)
        .default("I can't answer right now because a safety check couldn't run. Please try again in a moment."),
    })
    .prefault({}),
  classifiers: z.array(ClassifierDeclSchema).min(1, 'a policy declares at least one classifier'),
  rules: z.array(RuleSchema),
});

export type Action = z.infer<typeof ActionSchema>;
export type OnError = z.infer<typeof OnErrorSchema>;
export type ClassifierDecl = z.infer<typeof ClassifierDeclSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type Policy = z.infer<typeof PolicySchema>;
