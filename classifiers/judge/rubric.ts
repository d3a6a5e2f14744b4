import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../../audit/canonical.js';

/**
 * A rubric as the judge receives it in its params. Same shape as the policy language's `RubricSchema`
 * (policies/schema.ts); it is restated here because classifiers sit below policies and may not import from
 * them. test/judge/rubric.test.ts keeps the two in step.
 */
export const JudgeRubricSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected an id of letters, digits, _ . : - (at most 64 characters)'),
    description: z.string().default(''),
    question: z.string().min(1),
    options: z
      .array(
        z.strictObject({
          letter: z.string().regex(/^[A-Z]$/, 'expected one capital letter'),
          meaning: z.string().min(1),
          desired: z.strictObject({ safe: z.boolean(), unsafe: z.boolean() }),
          exemplars: z.array(z.string().min(1)).default([]),
        }),
      )
      .min(2, 'a rubric has at least two options'),
  })
  .refine((r) => new Set(r.options.map((o) => o.letter)).size === r.options.length, {
    message: 'option letters must be unique',
    path: ['options'],
  });
export type JudgeRubric = z.infer<typeof JudgeRubricSchema>;

/**
 * A rubric's revision: sha256 of its canonical JSON (keys sorted at every level), as for policies. Grades
 * made under different wording never share a cache entry or a record's revision.
 * @example rubricRevision(rubric) // '3f1c…' (64 hex digits)
 */
export const rubricRevision = (rubric: JudgeRubric): string => sha256Hex(canonicalJson(rubric));
