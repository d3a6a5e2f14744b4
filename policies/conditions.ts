import { authorRegex } from '../classifiers/regex.js';
import type { ClassifierResult, Span } from '../classifiers/types.js';
import {
  CREDENTIAL_HEADERS,
  type Condition,
  type MetaCondition,
  type ScoreCondition,
  type TextCondition,
} from './schema.js';
import { round } from './round.js';
import type { Selection } from './select.js';
import { argCondition, argsCondition, type ToolCallView } from './tool-conditions.js';

/** Request metadata a rule can test. Headers are lower-cased; credentials are never included. */
export interface RequestMeta {
  tenant: string | null;
  key: string | null;
  model: string | null;
  route: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One condition's outcome, for the decision trace. */
export interface ConditionTrace {
  condition: string;
  value: unknown;
  result: boolean;
}

export interface EvalContext {
  selection: Selection;
  meta: RequestMeta;
  /** Results of the classifiers on this rule's selection, by classifier id. */
  results: Map<string, ClassifierResult>;
  trace: ConditionTrace[];
  /** Spans that made conditions hold, for redaction. */
  spans: Span[];
  /** The tool call a rule with a `tool` scope is reading; absent for every other rule. */
  tool?: ToolCallView;
}

/** Thrown while evaluating a condition whose classifier failed; the rule then takes its onError action. */
export class ClassifierFailed extends Error {
  constructor(
    readonly classifier: string,
    reason: string,
  ) {
    super(`classifier ${classifier} failed: ${reason}`);
  }
}

export interface CompiledCondition {
  /** Classifier ids the condition reads. */
  classifiers: Set<string>;
  test(ctx: EvalContext): boolean;
}

const header = (headers: Record<string, string | string[] | undefined>, name: string): string | null => {
  if (CREDENTIAL_HEADERS.has(name)) return null;
  const v = headers[name];
  return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
};

const compare = (op: ScoreCondition['op'], a: number, b: number) =>
  op === '>=' ? a >= b : op === '>' ? a > b : op === '<=' ? a <= b : op === '<' ? a < b : a === b;

function score(c: ScoreCondition, path: string): CompiledCondition {
  const threshold = c.threshold;
  // Levels are resolved to numbers when the policy loads (policies/levels.ts); one left here is a loader bug.
  if (typeof threshold !== 'number') throw new Error(`${path}.threshold: level "${threshold}" was not resolved`);
  const name = `${c.classifier}.${c.label} ${c.op} ${threshold}`;
  return {
    classifiers: new Set([c.classifier]),
    test(ctx) {
      const r = ctx.results.get(c.classifier);
      if (!r || r.error !== undefined) throw new ClassifierFailed(c.classifier, r?.error?.message ?? 'did not run');
      const v = r.scores[c.label] ?? 0;
      const result = compare(c.op, v, threshold);
      ctx.trace.push({ condition: name, value: round(v, 4), result });
      if (result) for (const s of r.spans ?? []) if (s.label === c.label) ctx.spans.push(s);
      return result;
    },
  };
}

function text(c: TextCondition): CompiledCondition {
  const t = c.text;
  if ('regex' in t) {
    const re = authorRegex(t.regex, `${t.flags}g`);
    return {
      classifiers: new Set(),
      test(ctx) {
        re.lastIndex = 0;
        const spans = [...ctx.selection.text.matchAll(re)]
          .filter((m) => m[0].length > 0)
          .map((m) => ({ label: 'text', start: m.index, end: m.index + m[0].length }));
        ctx.trace.push({
          condition: `text matches /${t.regex}/${t.flags}`,
          value: spans.length,
          result: spans.length > 0,
        });
        ctx.spans.push(...spans);
        return spans.length > 0;
      },
    };
  }
  if ('contains' in t) {
    // A regex over the original text keeps match offsets right (lower-casing can change a string's length).
    const re = new RegExp(t.contains.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), t.caseSensitive ? 'u' : 'iu');
    return {
      classifiers: new Set(),
      test(ctx) {
        const m = re.exec(ctx.selection.text);
        ctx.trace.push({
          condition: `text contains ${JSON.stringify(t.contains)}`,
          value: m !== null,
          result: m !== null,
        });
        if (m) ctx.spans.push({ label: 'text', start: m.index, end: m.index + m[0].length });
        return m !== null;
      },
    };
  }
  const { min = 0, max = Infinity } = t.length;
  return {
    classifiers: new Set(),
    test(ctx) {
      const n = ctx.selection.text.length;
      const result = n >= min && n <= max;
      ctx.trace.push({ condition: `text length in [${min}, ${max}]`, value: n, result });
      return result;
    },
  };
}

/** The test a meta condition applies to the value, and how the trace names it (the schema allows exactly one). */
function valueTest(c: MetaCondition): { test: (value: string) => boolean; shown: string } {
  const { equals, in: oneOf, regex } = c;
  if (equals !== undefined) return { test: (value) => value === equals, shown: `== ${equals}` };
  if (oneOf !== undefined) return { test: (value) => oneOf.includes(value), shown: `in [${oneOf.join(', ')}]` };
  if (regex !== undefined) {
    const re = authorRegex(regex, '');
    return { test: (value) => re.test(value), shown: `matches /${regex}/` };
  }
  throw new Error('a meta condition needs exactly one of equals, in or regex');
}

function meta(c: MetaCondition): CompiledCondition {
  const { test, shown } = valueTest(c);
  let read: (ctx: EvalContext) => string | null;
  if (c.meta === 'tool') read = (ctx) => ctx.tool?.name ?? null;
  else if (c.meta !== 'header') {
    const field = c.meta;
    read = (ctx) => ctx.meta[field];
  } else if (c.name !== undefined) {
    const name = c.name.toLowerCase();
    read = (ctx) => header(ctx.meta.headers, name);
  } else throw new Error('a header condition names the header');
  const label = c.meta === 'header' ? `header ${c.name}` : c.meta;
  return {
    classifiers: new Set(),
    test(ctx) {
      const value = read(ctx);
      const result = value !== null && test(value);
      ctx.trace.push({ condition: `${label} ${shown}`, value, result });
      return result;
    },
  };
}

/**
 * Compiles a condition tree. Every branch is evaluated (no short-circuit), so the trace is complete and a
 * failed classifier anywhere in the tree sends the rule to its onError action.
 * Throws with the path of a regex that does not compile.
 */
export function compileCondition(c: Condition, path = 'when'): CompiledCondition {
  const join = (parts: CompiledCondition[]) => new Set(parts.flatMap((p) => [...p.classifiers]));
  if ('all' in c) {
    const parts = c.all.map((x, i) => compileCondition(x, `${path}.all[${i}]`));
    return { classifiers: join(parts), test: (ctx) => parts.map((p) => p.test(ctx)).every(Boolean) };
  }
  if ('any' in c) {
    const parts = c.any.map((x, i) => compileCondition(x, `${path}.any[${i}]`));
    return { classifiers: join(parts), test: (ctx) => parts.map((p) => p.test(ctx)).some(Boolean) };
  }
  if ('not' in c) {
    const inner = compileCondition(c.not, `${path}.not`);
    return {
      classifiers: inner.classifiers,
      test(ctx) {
        const spans = ctx.spans.length;
        const result = !inner.test(ctx);
        ctx.spans.length = spans; // spans under a negation explain nothing to redact
        return result;
      },
    };
  }
  try {
    if ('classifier' in c) return score(c, path);
    if ('text' in c) return text(c);
    if ('args' in c) return argsCondition();
    if ('arg' in c) return argCondition(c, path);
    return meta(c);
  } catch (e) {
    if ('arg' in c) throw e;
    throw new Error(`${path}${'text' in c ? '.text.regex' : '.regex'}: ${(e as Error).message}`);
  }
}
