import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../audit/canonical.js';

/**
 * An RBRM rubric: a question and lettered options, each with its meaning and whether it is the desired answer
 * for a safe and for an unsafe prompt. Policies carry rubrics (policies/schema.ts uses this schema) and the
 * judges receive them in their params, so the one definition lives here, below both.
 */
export const RubricOptionSchema = z.strictObject({
  letter: z.string().regex(/^[A-Z]$/, 'expected one capital letter'),
  meaning: z.string().min(1),
  /** Whether this answer is the one we want, for a safe prompt and for an unsafe one. */
  desired: z.strictObject({ safe: z.boolean(), unsafe: z.boolean() }),
  exemplars: z.array(z.string().min(1)).default([]),
});

export const RubricSchema = z
  .strictObject({
    id: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/,
        'expected an id of letters, digits, _ . : - (at most 64 characters)',
      ),
    description: z.string().default(''),
    question: z.string().min(1),
    options: z.array(RubricOptionSchema).min(2, 'a rubric has at least two options'),
  })
  .refine((r) => new Set(r.options.map((o) => o.letter)).size === r.options.length, {
    message: 'option letters must be unique',
    path: ['options'],
  });

export type Rubric = z.infer<typeof RubricSchema>;

/**
 * A rubric's revision: sha256 of its canonical JSON (keys sorted at every level), as for policies.
 * @example rubricRevision(rubric) // '3f1c…' (64 hex digits)
 */
export const rubricRevision = (rubric: Rubric): string => sha256Hex(canonicalJson(rubric));
