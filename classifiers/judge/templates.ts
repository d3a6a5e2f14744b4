import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../../audit/canonical.js';

/**
 * Prompt templates are data, not code: JSON files under classifiers/judge/templates/, read from the source
 * tree (as policies/default is) and validated here. Each names its sources in `$comment`. Placeholders are
 * `{{name}}`; they are filled in one pass, so text that itself contains `{{output}}` is never expanded again.
 */
export const TEMPLATE_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'classifiers',
  'judge',
  'templates',
);

const Comment = z.array(z.string()).min(1, 'a template names its sources in $comment');
const Stages = z.strictObject({ input: z.string().min(1), output: z.string().min(1) });

export const RbrmTemplateSchema = z.strictObject({
  $comment: Comment,
  system: z.string().min(1),
  user: z.string().min(1),
  option: z.string().min(1),
  exemplar: z.string().min(1),
  noPrompt: z.string().min(1),
  noOutput: z.string().min(1),
});
export type RbrmTemplate = z.infer<typeof RbrmTemplateSchema>;

export const SafetyTemplateSchema = z.strictObject({
  $comment: Comment,
  /**
   * `llama-guard`: `safe`/`unsafe` then S-codes. `yes-no`: ShieldGemma's Yes/No. `safeguard`: gpt-oss-safeguard's
   * policy in the system message and a JSON verdict `{"violation": 0|1, …}`.
   */
  format: z.enum(['llama-guard', 'yes-no', 'safeguard']),
  /** `safeguard`: the system message, holding the policy (`{{policy}}`) and the output format. */
  system: z.string().min(1).optional(),
  /** `safeguard`: the policy used when the classifier's params give none. */
  defaultPolicy: z.string().min(1).optional(),
  body: Stages,
  /** What wraps the body for `/completions` (the model's own turn markers); chat servers add their own. */
  completion: z.strictObject({ prefix: z.string(), suffix: z.string() }),
  categories: z.array(z.strictObject({ code: z.string().regex(/^S\d{1,2}$/), name: z.string().min(1) })).optional(),
  categoryLine: z.string().optional(),
  guidelines: z
    .strictObject({ input: z.record(z.string(), z.string()), output: z.record(z.string(), z.string()) })
    .optional(),
  defaultGuideline: z.string().optional(),
});
export type SafetyTemplate = z.infer<typeof SafetyTemplateSchema>;

export const SAFETY_TEMPLATES = ['llama-guard-3', 'llama-guard-4', 'shieldgemma', 'gpt-oss-safeguard'] as const;
export type SafetyTemplateName = (typeof SAFETY_TEMPLATES)[number];

/** The placeholders each kind of text may use; anything else is a mistake in the data file. */
const ALLOWED = {
  'rbrm.system': ['letters'],
  'rbrm.user': ['description', 'question', 'options', 'letters', 'prompt', 'output'],
  'rbrm.option': ['letter', 'meaning', 'exemplars'],
  'rbrm.exemplar': ['exemplar'],
  'safety.body': ['categories', 'prompt', 'output', 'policy'],
  'safety.categoryLine': ['code', 'name'],
  'safety.system': ['policy'],
} as const satisfies Record<string, readonly string[]>;

const PLACEHOLDER = /\{\{(\w+)\}\}/g;

function checkPlaceholders(where: string, text: string, kind: keyof typeof ALLOWED): void {
  const allowed: readonly string[] = ALLOWED[kind];
  for (const [, name = ''] of text.matchAll(PLACEHOLDER)) {
    if (!allowed.includes(name))
      throw new Error(`${where}: unknown placeholder {{${name}}}; allowed: ${allowed.join(', ')}`);
  }
}

/**
 * Fills `{{name}}` placeholders in one pass.
 * @example render('Q: {{question}}', { question: 'Which?' }) // 'Q: Which?'
 */
export function render(template: string, vars: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => vars[name] ?? whole);
}

function readTemplate<S extends z.ZodType>(name: string, schema: S): z.infer<S> {
  const file = join(TEMPLATE_DIR, `${name}.json`);
  const parsed = schema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

const cache = new Map<string, unknown>();

/** The RBRM judge's prompt text (templates/rbrm.json), read once. */
export function rbrmTemplate(): RbrmTemplate {
  if (!cache.has('rbrm')) {
    const t = readTemplate('rbrm', RbrmTemplateSchema);
    for (const k of ['system', 'user', 'option', 'exemplar'] as const)
      checkPlaceholders(`rbrm.json ${k}`, t[k], `rbrm.${k}`);
    cache.set('rbrm', t);
  }
  return cache.get('rbrm') as RbrmTemplate;
}

/** A safety model's template (templates/<name>.json), read once. */
export function safetyTemplate(name: SafetyTemplateName): SafetyTemplate {
  if (!cache.has(name)) {
    const t = readTemplate(name, SafetyTemplateSchema);
    checkPlaceholders(`${name}.json body.input`, t.body.input, 'safety.body');
    checkPlaceholders(`${name}.json body.output`, t.body.output, 'safety.body');
    if (t.categoryLine) checkPlaceholders(`${name}.json categoryLine`, t.categoryLine, 'safety.categoryLine');
    if (t.system) checkPlaceholders(`${name}.json system`, t.system, 'safety.system');
    if (t.format === 'safeguard' && !(t.system?.includes('{{policy}}') && t.defaultPolicy))
      throw new Error(`${name}.json: a safeguard template has a system message with {{policy}} and a defaultPolicy`);
    if (t.format === 'llama-guard' && !(t.categories?.length && t.categoryLine))
      throw new Error(`${name}.json: a llama-guard template lists categories and a categoryLine`);
    if (
      t.format === 'yes-no' &&
      !(
        t.guidelines &&
        t.defaultGuideline &&
        t.defaultGuideline in t.guidelines.input &&
        t.defaultGuideline in t.guidelines.output
      )
    ) {
      throw new Error(
        `${name}.json: a yes-no template has guidelines for input and output and a defaultGuideline among them`,
      );
    }
    cache.set(name, t);
  }
  return cache.get(name) as SafetyTemplate;
}

/** sha256 of a template's canonical JSON: recorded with each result and part of every cache key. */
export const templateRevision = (t: unknown): string => sha256Hex(canonicalJson(t));
