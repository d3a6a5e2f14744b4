import { authorRegex } from '../classifiers/regex.js';
import type { Span } from '../classifiers/types.js';
import type { Redaction } from './engine.js';
import { jsonEscaped, parsePositioned, type PositionedString } from './json-positions.js';
import { compileSelector, type Selector } from './jsonpath.js';
import type { PolicyIssue } from './load.js';
import type { Rule } from './schema.js';
import { joinSegments, type Selection } from './select.js';
import { toolOnlyConditionAt, type ToolCallView } from './tool-conditions.js';
import { TOOL_ALLOW_RULE, TOOL_DECLARED_RULE, type ToolScope } from './tool-schema.js';

/**
 * A rule's tool scope: which calls it reads (compiled and checked at load), the calls of an answer, the text a
 * rule reads in one call, and the way a span of that text maps back into the call's raw arguments.
 */

export interface CompiledToolScope {
  matches(name: string): boolean;
  /** The values the rule reads; undefined: every string. */
  args?: Selector;
}

/** Compiles a rule's tool scope; throws `tool.<field>: reason` for a bad pattern or JSONPath. */
export function compileToolScope(scope: ToolScope): CompiledToolScope {
  const { name, nameRegex, args } = scope;
  let matches: (n: string) => boolean = () => true;
  if (typeof name === 'string') matches = (n) => n === name;
  else if (name) matches = (n) => name.includes(n);
  else if (nameRegex !== undefined) {
    let re: RegExp;
    try {
      re = authorRegex(nameRegex, 'i');
    } catch (e) {
      throw new Error(`tool.nameRegex: ${(e as Error).message}`);
    }
    matches = (n) => re.test(n);
  }
  try {
    return { matches, ...(args !== undefined && { args: compileSelector(args) }) };
  } catch (e) {
    throw new Error(`tool.args: ${(e as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Every tool call of an answer (`choices[].message.tool_calls[]`, and the legacy `function_call`). */
export function toolCallsIn(doc: unknown): ToolCallView[] {
  const out: ToolCallView[] = [];
  const add = (pointer: string, fn: unknown) => {
    if (!isObject(fn) || typeof fn.arguments !== 'string') return;
    const raw = fn.arguments;
    out.push({ name: typeof fn.name === 'string' ? fn.name : '', pointer, raw, args: parsePositioned(raw) });
  };
  const choices = isObject(doc) && Array.isArray(doc.choices) ? doc.choices : [];
  choices.forEach((choice: unknown, i) => {
    const m = isObject(choice) ? choice.message : undefined;
    if (!isObject(m)) return;
    if (Array.isArray(m.tool_calls))
      m.tool_calls.forEach((call: unknown, j) => {
        if (isObject(call)) add(`/choices/${i}/message/tool_calls/${j}/function/arguments`, call.function);
      });
    add(`/choices/${i}/message/function_call/arguments`, m.function_call);
  });
  return out;
}

/** The text a rule reads in one call, and each segment's map back to the raw arguments. */
export function argText(call: ToolCallView, args: Selector | undefined): { sel: Selection; maps: (number[] | null)[] } {
  if (!call.args.ok) return { sel: joinSegments([{ pointer: call.pointer, text: call.raw }]), maps: [null] };
  let strings: PositionedString[] = call.args.strings;
  if (args) {
    // A string is read when its pointer or one of its ancestors' was selected: a walk up its (at most 64) levels,
    // not a scan of every selected root per string (`$..*` selects every node).
    const roots = new Set(args.select(call.args.value).map((s) => s.pointer));
    strings = strings.filter((s) => {
      for (let p = s.pointer; ; p = p.slice(0, p.lastIndexOf('/'))) {
        if (roots.has(p)) return true;
        if (p === '') return false;
      }
    });
  }
  return {
    sel: joinSegments(strings.map((s) => ({ pointer: s.pointer, text: s.text }))),
    maps: strings.map((s) => s.raw),
  };
}

/** Spans of the joined text as redactions of the raw arguments string (a JSON value's span maps through its map). */
export function rawRedactions(
  call: ToolCallView,
  sel: Selection,
  maps: (number[] | null)[],
  spans: Span[],
  replacement: string,
): Redaction[] {
  const out: Redaction[] = [];
  for (const s of spans)
    sel.segments.forEach((seg, k) => {
      const start = Math.max(s.start, seg.start) - seg.start;
      const end = Math.min(s.end, seg.start + seg.text.length) - seg.start;
      if (end <= start) return;
      const map = maps[k];
      const text = replacement.replaceAll('{label}', s.label);
      out.push({
        label: s.label,
        pointer: call.pointer,
        start: map ? (map[start] ?? 0) : start,
        end: map ? (map[end] ?? 0) : end,
        replacement: map ? jsonEscaped(text) : text,
      });
    });
  return out;
}

/**
 * A rule's compiled tool scope (undefined without one), or null after reporting its faults: a bad pattern or
 * JSONPath, a reserved id, or tool-only conditions (`arg`, `args`, `meta: "tool"`) in a rule without a scope.
 */
export function toolScopeOf(rule: Rule, at: string, issues: PolicyIssue[]): CompiledToolScope | undefined | null {
  if (rule.id === TOOL_ALLOW_RULE || rule.id === TOOL_DECLARED_RULE)
    issues.push({ path: `${at}.id`, message: `"${rule.id}" is the id of a built-in rule of the tools block` });
  if (!rule.tool) {
    const misplaced = toolOnlyConditionAt(rule.when);
    if (misplaced)
      issues.push({
        path: `${at}.${misplaced}`,
        message: 'arg, args and meta "tool" conditions read a tool call: give the rule a tool scope',
      });
    return undefined;
  }
  try {
    return compileToolScope(rule.tool);
  } catch (e) {
    const m = /^(tool\.\w+): (.*)$/s.exec((e as Error).message);
    issues.push({ path: `${at}.${m?.[1] ?? 'tool'}`, message: m?.[2] ?? (e as Error).message });
    return null;
  }
}
