import { compileCondition, type CompiledCondition } from './conditions.js';
import type { CompiledRule } from './load.js';
import type { Condition, Policy, Rule } from './schema.js';
import { joinSegments, type TextSelector } from './select.js';
import { TOOL_ALLOW_RULE, TOOL_DECLARED_RULE, type ToolsBlock } from './tool-schema.js';

/**
 * Tool allow-lists (a policy's `tools` block) as two built-in rules. `tools.allow` is written in the policy
 * language itself — a tool-scoped output rule whose condition says "this tenant's list does not name this tool" —
 * so `explain`, traces and records show it like any rule. `tools.declared` reads the request's declared `tools`
 * on the input stage; the pipeline removes the disallowed ones (`withAllowedTools`) when it only flags.
 */

/** The tools a tenant may call, or null when every tool is allowed. */
export function allowedTools(block: ToolsBlock | undefined, tenant: string | null): ReadonlySet<string> | null {
  if (!block) return null;
  const own = tenant === null ? undefined : block.tenants[tenant];
  const list = own ?? block.allow;
  return list ? new Set(list) : null;
}

/** The allow-list as a condition on `meta.tenant` and `meta.tool`: true when the call is NOT allowed. */
function notAllowed(block: ToolsBlock): Condition | undefined {
  const tenants = Object.keys(block.tenants);
  const branches: Condition[] = Object.entries(block.tenants).map(([tenant, tools]) => ({
    all: [{ meta: 'tenant', equals: tenant }, { not: { meta: 'tool', in: tools } }],
  }));
  if (block.allow)
    branches.push({
      all: [
        ...(tenants.length ? [{ not: { meta: 'tenant', in: tenants } } as Condition] : []),
        { not: { meta: 'tool', in: block.allow } },
      ],
    });
  return branches.length ? { any: branches } : undefined;
}

const base = {
  severity: 'high',
  mode: 'enforce',
  priority: 1000,
  replacement: '[REDACTED:{label}]',
} as const;

/** The names a request declares in `tools` (`tools[i].function.name`), each a segment of its own. */
const declaredSelector: TextSelector = {
  path: '$.tools[*].function.name',
  select(doc) {
    const tools = doc && typeof doc === 'object' ? (doc as { tools?: unknown }).tools : undefined;
    const parts: { pointer: string; text: string }[] = [];
    if (Array.isArray(tools))
      tools.forEach((t: unknown, i) => {
        const fn = t && typeof t === 'object' ? (t as { function?: unknown }).function : undefined;
        const name = fn && typeof fn === 'object' ? (fn as { name?: unknown }).name : undefined;
        if (typeof name === 'string') parts.push({ pointer: `/tools/${i}/function/name`, text: name });
      });
    return joinSegments(parts);
  },
};

/** True when the request declares a tool its tenant may not call; the trace lists them. */
const declaredCondition = (block: ToolsBlock): CompiledCondition => ({
  classifiers: new Set(),
  test(ctx) {
    const allowed = allowedTools(block, ctx.meta.tenant);
    const bad = allowed ? ctx.selection.segments.map((s) => s.text).filter((n) => !allowed.has(n)) : [];
    ctx.trace.push({
      condition: `declared tools allowed for tenant ${ctx.meta.tenant ?? '(none)'}`,
      value: bad,
      result: bad.length > 0,
    });
    return bad.length > 0;
  },
});

/** The built-in rules of a policy's `tools` block, numbered after its own rules. */
export function allowListRules(policy: Policy, order: number): CompiledRule[] {
  const block = policy.tools;
  if (!block) return [];
  const out: CompiledRule[] = [];
  const when = notAllowed(block);
  if (when) {
    const rule: Rule = {
      ...base,
      id: TOOL_ALLOW_RULE,
      description: 'A call to a tool the tenant is not allowed to use (the policy\'s "tools" block)',
      stage: 'output',
      tool: {},
      when,
      action: 'refuse',
      message:
        block.message ?? "I can't use the {tool} tool here, so I can't finish that. I'm happy to help another way.",
    };
    out.push({
      rule,
      order,
      stages: ['output'],
      selectors: {},
      condition: compileCondition(when),
      tool: { matches: () => true },
    });
  }
  if (block.declared !== 'keep') {
    const rule: Rule = {
      ...base,
      id: TOOL_DECLARED_RULE,
      description: `A request declares tools the tenant may not use (${block.declared === 'refuse' ? 'refused' : 'removed before the model sees them'})`,
      stage: 'input',
      when: { meta: 'tool', regex: '.' },
      action: block.declared === 'refuse' ? 'refuse' : 'flag',
      ...(block.declared === 'refuse' && {
        message:
          block.message?.replaceAll('{tool}', 'requested') ??
          "This request names tools I'm not allowed to use here. Please remove them and try again.",
      }),
    };
    out.push({
      rule,
      order: order + 1,
      stages: ['input'],
      selectors: { input: declaredSelector },
      condition: declaredCondition(block),
    });
  }
  return out;
}

/**
 * The request with the tools its tenant may not call removed from `tools` (and a `tool_choice` naming one of them
 * dropped); the same request when nothing is removed. Without any tool left, `tools` and `tool_choice` go.
 */
export function withAllowedTools<T extends object>(
  request: T,
  block: ToolsBlock | undefined,
  tenant: string | null,
): T {
  const allowed = allowedTools(block, tenant);
  const tools = (request as { tools?: unknown }).tools;
  if (!allowed || block?.declared !== 'filter' || !Array.isArray(tools)) return request;
  const nameOf = (t: unknown) => {
    const fn = t && typeof t === 'object' ? (t as { function?: unknown }).function : undefined;
    const name = fn && typeof fn === 'object' ? (fn as { name?: unknown }).name : undefined;
    return typeof name === 'string' ? name : undefined;
  };
  const kept = tools.filter((t) => {
    const n = nameOf(t);
    return n !== undefined && allowed.has(n);
  });
  if (kept.length === tools.length) return request;
  const out: Record<string, unknown> = { ...request, tools: kept };
  const chosen = nameOf(out.tool_choice);
  if ((chosen !== undefined && !allowed.has(chosen)) || (!kept.length && out.tool_choice !== undefined))
    delete out.tool_choice;
  if (!kept.length) delete out.tools;
  return out as T;
}
