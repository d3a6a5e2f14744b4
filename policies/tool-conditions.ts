import { authorRegex } from '../classifiers/regex.js';
import type { CompiledCondition } from './conditions.js';
import type { PositionedJson } from './json-positions.js';
import { compileSelector } from './jsonpath.js';
import type { ArgCondition } from './tool-schema.js';

/** One tool call as a rule with a `tool` scope reads it. */
export interface ToolCallView {
  /** The function's name, as the model wrote it. */
  name: string;
  /** Pointer to the call's `arguments` string in the answer, e.g. `/choices/0/message/tool_calls/1/function/arguments`. */
  pointer: string;
  /** The raw `arguments` string. */
  raw: string;
  args: PositionedJson;
}

const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** `{"args": "malformed"}`: the call's arguments are not JSON (or nest too deep); false outside a tool scope. */
export function argsCondition(): CompiledCondition {
  return {
    classifiers: new Set(),
    test(ctx) {
      const args = ctx.tool?.args;
      const result = args !== undefined && !args.ok;
      ctx.trace.push({
        condition: 'arguments are malformed JSON',
        value: args === undefined ? null : args.ok ? 'valid' : `${args.reason} at ${args.at}`,
        result,
      });
      return result;
    },
  };
}

/**
 * `{"arg": {"path": …, …}}`: a test on the values a JSONPath selects in the parsed arguments. It holds when any
 * selected value passes (for `exists`: when the path selects something, or nothing for `exists: false`). Numbers and
 * booleans are compared as they are and matched by regex as their JSON text. Throws with the condition's path
 * when the JSONPath or the regex does not compile.
 */
export function argCondition(c: ArgCondition, path: string): CompiledCondition {
  const a = c.arg;
  let selector: ReturnType<typeof compileSelector>;
  try {
    selector = compileSelector(a.path);
  } catch (e) {
    throw new Error(`${path}.arg.path: ${(e as Error).message}`);
  }
  let re: RegExp | undefined;
  try {
    re = a.regex === undefined ? undefined : authorRegex(a.regex, a.flags ?? 'i');
  } catch (e) {
    throw new Error(`${path}.arg.regex: ${(e as Error).message}`);
  }
  const oneOf = a.in;
  const test = (v: unknown): boolean => {
    if (re) return typeof v !== 'object' && v !== undefined && re.test(shown(v));
    if (oneOf) return (typeof v === 'string' || typeof v === 'number') && oneOf.includes(v);
    return v === a.equals;
  };
  const what =
    a.exists !== undefined
      ? a.exists
        ? 'exists'
        : 'is absent'
      : re
        ? `matches /${a.regex}/${a.flags ?? 'i'}`
        : oneOf
          ? `in [${oneOf.map(shown).join(', ')}]`
          : `== ${shown(a.equals)}`;
  return {
    classifiers: new Set(),
    test(ctx) {
      const args = ctx.tool?.args;
      const values = args?.ok ? selector.select(args.value).map((s) => s.value) : [];
      const result = args?.ok === true && (a.exists !== undefined ? values.length > 0 === a.exists : values.some(test));
      ctx.trace.push({
        condition: `arg ${a.path} ${what}`,
        value: args?.ok ? values.slice(0, 3).map((v) => shown(v).slice(0, 200)) : null,
        result,
      });
      return result;
    },
  };
}

/** The kinds of condition that only mean something inside a rule with a `tool` scope. */
const TOOL_ONLY = (c: Record<string, unknown>) => 'arg' in c || 'args' in c || c.meta === 'tool';

/** The path of the first condition in a tree that needs a tool scope, or undefined (for rules without one). */
export function toolOnlyConditionAt(when: unknown, path = 'when'): string | undefined {
  if (!when || typeof when !== 'object') return undefined;
  const w = when as Record<string, unknown>;
  if (TOOL_ONLY(w)) return path;
  for (const key of ['all', 'any'] as const) {
    const list = w[key];
    if (Array.isArray(list))
      for (const [i, x] of list.entries()) {
        const at = toolOnlyConditionAt(x, `${path}.${key}[${i}]`);
        if (at) return at;
      }
  }
  return w.not === undefined ? undefined : toolOnlyConditionAt(w.not, `${path}.not`);
}
