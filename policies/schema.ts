import { z } from 'zod';
import { ACTIONS } from '../audit/types.js';
import { LEVEL_NAMES } from '../classifiers/heads/levels.js';
import {
  ArgConditionSchema,
  ArgsConditionSchema,
  ToolScopeSchema,
  ToolsBlockSchema,
  type ArgCondition,
  type ArgsCondition,
} from './tool-schema.js';

/**
 * The policy language, `gateway/v1`. A policy declares a taxonomy, classifiers, RBRM rubrics and rules; the
 * rules select text with JSONPath, test it with a boolean tree of conditions, and name an action.
 * The published JSON Schema (`policies/policy.schema.json`) is generated from these definitions.
 */

/** The actions, from the one list the decision record names (audit/types.ts). */
export const ActionSchema = z.enum(ACTIONS);
export const OnErrorSchema = z.enum(['refuse', 'flag', 'allow']);
export const ModeSchema = z.enum(['enforce', 'shadow', 'disabled']);
export const SeveritySchema = z.enum(['low', 'medium', 'high', 'critical']);

export const IdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'expected an id of letters, digits, _ . : - (at most 64 characters)');

const unit = z.number().min(0, 'expected a number between 0 and 1').max(1, 'expected a number between 0 and 1');

/** An operating level of a calibrated model (its `levels.json`): strict refuses most, permissive least. */
export const LevelSchema = z.enum(LEVEL_NAMES);
/**
 * A score condition's threshold: a number, a level by name, or `level`: the level the policy sets for the rule's
 * category (`categoryLevels`, through the category's parents), else the policy's `level`.
 */
export const ThresholdSchema = z.union([unit, LevelSchema, z.literal('level')], {
  error: 'expected a number between 0 and 1, a level (strict, balanced, permissive) or "level"',
});

export const ClassifierDeclSchema = z.strictObject({
  id: IdSchema,
  /** Which implementation: `rules` ships with the gateway; more types plug in through the registry. */
  type: z.string().min(1),
  /** Per-call timeout; past it the classifier counts as failed and rules apply their onError. */
  timeoutMs: z.number().int().positive().max(60_000).default(250),
  /**
   * The longest text (in characters) this classifier reads in one call. A longer one is not classified: the
   * classifier counts as failed (`too_long`) and rules apply their onError (refuse, by default). Bounds the CPU
   * one request can take (a 900 KB prompt held the event loop for about a second in normalisation).
   */
  maxTextChars: z.number().int().positive().default(32_000),
  /** Parameters, validated against the classifier type's own schema at load. */
  params: z.record(z.string(), z.unknown()).default({}),
  /**
   * Ask this classifier (a judge) only where another one is unsure: its score for `label` within `band`
   * (inclusive), or its failure. Outside the band this one's result is the other's scores for the labels both
   * have (classifiers/judge/escalate.ts). `timeoutMs` then covers both.
   */
  escalate: z
    .strictObject({
      classifier: IdSchema,
      label: z.string().min(1),
      band: z.tuple([unit, unit]).refine(([lo, hi]) => lo <= hi, 'expected [low, high] with low <= high'),
    })
    .optional(),
});

export const CategorySchema = z.strictObject({
  id: IdSchema,
  description: z.string().default(''),
  parent: IdSchema.optional(),
});

export { RubricOptionSchema, RubricSchema } from '../classifiers/rubric.js';
import { RubricSchema } from '../classifiers/rubric.js';

/** classifier.label compared with a value; `threshold` alone means `>= threshold`. */
export const ScoreConditionSchema = z.strictObject({
  classifier: IdSchema,
  label: z.string().min(1),
  op: z.enum(['>=', '>', '<=', '<', '==']).default('>='),
  threshold: ThresholdSchema,
});

/** A test on the selected text itself. */
export const TextConditionSchema = z.strictObject({
  text: z.union([
    z.strictObject({
      regex: z.string().min(1),
      flags: z
        .string()
        .regex(/^[imsu]*$/, 'allowed regex flags are i, m, s and u')
        .default('i'),
    }),
    z.strictObject({ contains: z.string().min(1), caseSensitive: z.boolean().default(false) }),
    z.strictObject({
      length: z.strictObject({ min: z.number().int().min(0).optional(), max: z.number().int().min(0).optional() }),
    }),
  ]),
});

/**
 * Headers a rule may never read (rejected at load, and absent at evaluation): credentials stay out of policies and
 * traces.
 */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
]);

/**
 * A test on request metadata: tenant, API key id, model, route, or a header (name required); in a rule with a
 * `tool` scope, `tool` is the name of the call being read.
 */
export const MetaConditionSchema = z
  .strictObject({
    meta: z.enum(['tenant', 'key', 'model', 'route', 'header', 'tool']),
    name: z.string().min(1).optional(),
    equals: z.string().optional(),
    in: z.array(z.string()).min(1).optional(),
    regex: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const tests = [c.equals, c.in, c.regex].filter((x) => x !== undefined).length;
    if (tests !== 1)
      ctx.addIssue({ code: 'custom', message: 'a meta condition needs exactly one of equals, in or regex' });
    if (c.meta === 'header' && !c.name)
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'a header condition names the header' });
    if (c.meta === 'header' && c.name && CREDENTIAL_HEADERS.has(c.name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'credential headers cannot be read by policies' });
    }
  });

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | z.infer<typeof ScoreConditionSchema>
  | z.infer<typeof TextConditionSchema>
  | z.infer<typeof MetaConditionSchema>
  | ArgCondition
  | ArgsCondition;

export const ConditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(ConditionSchema).min(1) }),
    z.strictObject({ any: z.array(ConditionSchema).min(1) }),
    z.strictObject({ not: ConditionSchema }),
    ScoreConditionSchema,
    TextConditionSchema,
    MetaConditionSchema,
    ArgConditionSchema,
    ArgsConditionSchema,
  ]),
) as z.ZodType<Condition>;

/**
 * What the input stage's rules read of a chat request when they name no `select`: every role's text, names and
 * tool calls, judged as the latest turn alone and as a window of recent turns joined (policies/conversation.ts).
 */
export const ConversationSchema = z.strictObject({
  /** Roles whose messages are not read. Default: none, so a role the gateway does not know is read too. */
  ignoreRoles: z.array(z.string().min(1)).default([]),
  /** Read the `name` field of messages. */
  names: z.boolean().default(true),
  /** Read tool calls in the history: each call's function name and arguments. */
  toolCalls: z.boolean().default(true),
  /**
   * How many user turns, counted back from the latest, are joined with the system and developer messages into the
   * conversation view. A request split over more turns than this is judged in pieces.
   */
  turns: z.number().int().min(1).max(1000).default(4),
  /**
   * Leave out of the conversation view a turn this policy refused (its answer is one of the policy's refusals),
   * so an old refused request does not block later harmless turns; its text is withheld from the model too.
   */
  skipRefused: z.boolean().default(true),
});

export const RuleSchema = z
  .strictObject({
    id: IdSchema,
    description: z.string().default(''),
    stage: z.enum(['input', 'output', 'both']),
    /** Higher wins among rules of the same action. */
    priority: z.number().int().default(0),
    /**
     * JSONPath over the request (input) or the response (output) naming the text the rule reads. Default: the
     * conversation as the policy's `conversation` settings read it on input, the choices' messages on output.
     */
    select: z.string().min(1).optional(),
    /** Makes the rule read tool calls, one at a time (output stage): which tools, and which of their arguments. */
    tool: ToolScopeSchema.optional(),
    /** For an input rule without a `select`: the policy's `conversation` settings this rule reads differently. */
    conversation: ConversationSchema.partial().optional(),
    when: ConditionSchema,
    action: ActionSchema,
    /** The taxonomy category this rule enforces. */
    category: IdSchema.optional(),
    severity: SeveritySchema.default('medium'),
    /** `shadow`: evaluated and recorded, never enforced. `disabled`: skipped. */
    mode: ModeSchema.default('enforce'),
    /** For `refuse`: the assistant message. `{category}` and `{rule}` are filled in. */
    message: z.string().min(1).optional(),
    /** For `redact`: what replaces each matched span; `{label}` is filled in. */
    replacement: z.string().default('[REDACTED:{label}]'),
    /** For `route`: the upstream model the request goes to instead. */
    route: z.strictObject({ model: z.string().min(1) }).optional(),
    /** When a classifier this rule reads fails. Default: the policy's defaults.onError. */
    onError: OnErrorSchema.optional(),
    /**
     * For output rules on streams: the least a stream this policy moderates must hold. `progressive`: nothing is
     * released before it is checked, and no part of a redacted span before the whole span is known; `buffer`: also
     * every violation up to the overlap is checked whole before any of it is released. The strictest demand wins.
     */
    streamMode: z.enum(['buffer', 'progressive', 'stream-first']).optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.action === 'route' && !rule.route)
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'a route rule names route.model' });
    if (rule.action !== 'route' && rule.route)
      ctx.addIssue({ code: 'custom', path: ['route'], message: 'route is only for action "route"' });
    if (rule.action === 'route' && rule.stage !== 'input')
      ctx.addIssue({ code: 'custom', path: ['stage'], message: 'a route rule runs on the input stage' });
    if (rule.conversation && (rule.select !== undefined || rule.stage === 'output'))
      ctx.addIssue({
        code: 'custom',
        path: ['conversation'],
        message: 'conversation is for input rules without a select',
      });
    if (rule.action === 'allow' && rule.message)
      ctx.addIssue({ code: 'custom', path: ['message'], message: 'an allow rule has no message' });
    if (rule.tool && rule.stage !== 'output')
      ctx.addIssue({ code: 'custom', path: ['stage'], message: 'a rule with a tool scope runs on the output stage' });
    if (rule.tool && rule.select !== undefined)
      ctx.addIssue({ code: 'custom', path: ['select'], message: 'a rule with a tool scope selects with tool.args' });
  });

export const PolicySchema = z.strictObject({
  $schema: z.string().optional(),
  apiVersion: z.literal('gateway/v1', { error: 'expected "gateway/v1"' }),
  id: IdSchema,
  description: z.string().default(''),
  mode: ModeSchema.default('enforce'),
  /** A policy file this one builds on, relative to this file. Items with the same id are replaced. */
  extends: z.string().min(1).optional(),
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
      /** Refusals by taxonomy category, for refuse rules without their own message. */
      messages: z.record(z.string(), z.string().min(1)).default({}),
    })
    .prefault({}),
  /**
   * The operating level that `"threshold": "level"` resolves to (see classifiers/heads/README.md, "Levels"):
   * each level is a set of per-label thresholds calibrated on held-out data, stored with the model. Unset: the
   * level of the policy this one extends, else `balanced`.
   */
  level: LevelSchema.optional(),
  /** A level per taxonomy category, for rules of that category or of its descendants (merged over `extends`). */
  categoryLevels: z.record(IdSchema, LevelSchema).optional(),
  /** What input rules without a `select` read of the conversation. */
  conversation: ConversationSchema.prefault({}),
  /** How this policy's streamed answers are moderated; unset fields fall back to the gateway's `stream` settings. */
  stream: z
    .strictObject({
      mode: z.enum(['progressive', 'buffer', 'stream-first']).optional(),
      windowChars: z.number().int().positive().optional(),
      overlapChars: z.number().int().min(0).optional(),
      finalCheck: z.boolean().optional(),
    })
    .optional(),
  /**
   * RBRM grading of every answer: which rubric, which classifier grades it (its labels are the rubric's
   * letters), how the prompt's safety is judged, the reward table, and an optional retry of over-refusals.
   */
  grading: z
    .strictObject({
      rubric: IdSchema,
      classifier: IdSchema,
      /**
       * The prompt counts as unsafe when this classifier's label reaches the threshold; without it, every prompt counts
       * as safe.
       */
      promptSafety: z.strictObject({ classifier: IdSchema, label: z.string().min(1), threshold: unit }).optional(),
      /** Reward per option letter, for safe and for unsafe prompts. */
      reward: z
        .record(
          z.string().regex(/^[A-Z]$/, 'expected an option letter'),
          z.strictObject({ safe: z.number(), unsafe: z.number() }),
        )
        .default({}),
      /** The letters that mean a refusal; one of them on a safe prompt is an over-refusal. */
      refusals: z.array(z.string().regex(/^[A-Z]$/)).default(['A', 'B']),
      /**
       * Retry an over-refused safe prompt once with this system reminder, and keep whichever answer earns more reward.
       */
      retry: z.strictObject({ system: z.string().min(1) }).optional(),
      /**
       * Replace a refusal in an undesired style (a refusal letter not desired for unsafe prompts) of an unsafe prompt
       * with the policy's refusal.
       */
      restyle: z.boolean().default(false),
    })
    .optional(),
  /** Which tools the model may call, for every tenant or per tenant (see tool-schema.ts). */
  tools: ToolsBlockSchema.optional(),
  taxonomy: z.array(CategorySchema).default([]),
  classifiers: z.array(ClassifierDeclSchema).default([]),
  rubrics: z.array(RubricSchema).default([]),
  rules: z.array(RuleSchema).default([]),
});

export type { Action } from '../audit/types.js';
export type OnError = z.infer<typeof OnErrorSchema>;
export type Mode = z.infer<typeof ModeSchema>;
export type ClassifierDecl = z.infer<typeof ClassifierDeclSchema>;
export type Rubric = z.infer<typeof RubricSchema>;
export type Rule = z.infer<typeof RuleSchema>;
export type Policy = z.infer<typeof PolicySchema>;
export type ConversationOptions = z.infer<typeof ConversationSchema>;
export type ScoreCondition = z.infer<typeof ScoreConditionSchema>;
export type Level = z.infer<typeof LevelSchema>;
export type TextCondition = z.infer<typeof TextConditionSchema>;
export type MetaCondition = z.infer<typeof MetaConditionSchema>;
