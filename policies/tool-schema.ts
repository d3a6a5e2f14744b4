import { z } from 'zod';

/**
 * The policy language's tool-call syntax: a rule's `tool` scope (which calls it reads, and which of their
 * arguments), the `arg` and `args` conditions on a call's arguments, and the policy's `tools` allow-lists.
 * See policies/README.md, "Tool calls".
 */

const toolName = z.string().min(1).max(128);

/**
 * Makes a rule read tool calls, one call at a time: the calls whose function name matches, and as its text the
 * string values its `args` JSONPath selects in the parsed arguments (default: every string in them).
 */
export const ToolScopeSchema = z
  .strictObject({
    /** The tool's name: one name or a list. Without `name` and `nameRegex`, every call. */
    name: z.union([toolName, z.array(toolName).min(1)]).optional(),
    /** Or a pattern on the name (JavaScript syntax, case-insensitive: `shell` also matches `RunShell`). */
    nameRegex: z.string().min(1).optional(),
    /** JSONPath into the parsed arguments naming the values the rule reads, e.g. `$.command`, `$.headers.*`. */
    args: z.string().min(1).optional(),
  })
  .refine((t) => !(t.name !== undefined && t.nameRegex !== undefined), {
    path: ['nameRegex'],
    message: 'a tool scope names the tool with name or nameRegex, not both',
  });

/** A test on one value of the arguments, by JSONPath: a regex, equality, membership, or presence. */
export const ArgConditionSchema = z.strictObject({
  arg: z
    .strictObject({
      path: z.string().min(1),
      regex: z.string().min(1).optional(),
      flags: z
        .string()
        .regex(/^[imsu]*$/, 'allowed regex flags are i, m, s and u')
        .optional(),
      equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
      in: z
        .array(z.union([z.string(), z.number()]))
        .min(1)
        .optional(),
      exists: z.boolean().optional(),
    })
    .superRefine((a, ctx) => {
      const tests = [a.regex, a.equals, a.in, a.exists].filter((x) => x !== undefined).length;
      if (tests !== 1)
        ctx.addIssue({ code: 'custom', message: 'an arg condition needs exactly one of regex, equals, in or exists' });
      if (a.flags !== undefined && a.regex === undefined)
        ctx.addIssue({ code: 'custom', path: ['flags'], message: 'flags go with regex' });
    }),
});

/** Holds when the call's arguments are not valid JSON (or nest too deep to read). */
export const ArgsConditionSchema = z.strictObject({ args: z.literal('malformed') });

/**
 * Which tools the model may call, for every tenant (`allow`) or per tenant (`tenants`, which replaces `allow` for
 * that tenant). A call to any other tool is refused by the built-in rule `tools.allow`. `declared` says what
 * happens to disallowed tools a request declares in `tools`: `filter` (default) removes them before the model
 * sees them, `refuse` refuses the request, `keep` leaves them (the answer's calls are still checked).
 */
export const ToolsBlockSchema = z.strictObject({
  allow: z.array(toolName).optional(),
  tenants: z.record(z.string().min(1), z.array(toolName)).default({}),
  declared: z.enum(['filter', 'refuse', 'keep']).default('filter'),
  /** The refusal for a disallowed call; `{tool}` is filled in. Default: the policy's refusal. */
  message: z.string().min(1).optional(),
});

export type ToolScope = z.infer<typeof ToolScopeSchema>;
export type ArgCondition = z.infer<typeof ArgConditionSchema>;
export type ArgsCondition = z.infer<typeof ArgsConditionSchema>;
export type ToolsBlock = z.infer<typeof ToolsBlockSchema>;

/** The ids of the built-in rules the `tools` block adds; a policy's own rules cannot use them. */
export const TOOL_ALLOW_RULE = 'tools.allow';
export const TOOL_DECLARED_RULE = 'tools.declared';
