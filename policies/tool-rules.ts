import { authorRegex } from '../classifiers/regex.js';
import { runClassifier } from '../classifiers/run.js';
import type { ClassifierResult, Span } from '../classifiers/types.js';
import { ClassifierFailed, type ConditionTrace, type EvalContext, type RequestMeta } from './conditions.js';
import type { Redaction, RuleMatch, RuleTrace } from './engine.js';
import { jsonEscaped, parsePositioned, type PositionedString } from './json-positions.js';
import { compileSelector, type Selector } from './jsonpath.js';
import type { CompiledRule, LoadedPolicy } from './load.js';
import { round } from './round.js';
import { joinSegments, type Selection } from './select.js';
import type { ToolCallView } from './tool-conditions.js';
import { TOOL_ALLOW_RULE, type ToolScope } from './tool-schema.js';

/**
 * Rules with a `tool` scope: each reads the answer's tool calls one at a time — the calls whose name matches, and
 * as its text the decoded string values its `args` JSONPath selects (every string by default; the raw text when
 * the arguments are not JSON). Classifier and text conditions run on that text; `arg`, `args` and `meta: "tool"`
 * conditions read the call itself. A redaction is written back into the arguments' raw JSON at the value's place,
 * escaped, so the arguments stay valid JSON.
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
      re = authorRegex(nameRegex, '');
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
function argText(call: ToolCallView, args: Selector | undefined): { sel: Selection; maps: (number[] | null)[] } {
  if (!call.args.ok) return { sel: joinSegments([{ pointer: call.pointer, text: call.raw }]), maps: [null] };
  let strings: PositionedString[] = call.args.strings;
  if (args) {
    const roots = args.select(call.args.value).map((s) => s.pointer);
    strings = strings.filter((s) => roots.some((r) => s.pointer === r || s.pointer.startsWith(`${r}/`)));
  }
  return {
    sel: joinSegments(strings.map((s) => ({ pointer: s.pointer, text: s.text }))),
    maps: strings.map((s) => s.raw),
  };
}

/** Spans of the joined text as redactions of the raw arguments string (a JSON value's span maps through its map). */
function rawRedactions(
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

export interface ToolFired {
  c: CompiledRule;
  match: RuleMatch;
  redactions: Redaction[];
}

export interface ToolStage {
  fired: ToolFired[];
  trace: RuleTrace[];
  classifiers: ClassifierResult[];
  /** pointer → the raw arguments string, for writing redactions back. */
  texts: Map<string, string>;
}

interface ToolRequest {
  doc: unknown;
  meta: RequestMeta;
  prompt?: string;
  signal?: AbortSignal;
  pinned?: Record<string, Record<string, number>>;
}

/** Evaluates the tool-scoped rules of a policy's output stage over every tool call of the answer. */
export async function evaluateToolRules(
  loaded: LoadedPolicy,
  rules: CompiledRule[],
  req: ToolRequest,
): Promise<ToolStage> {
  const stage: ToolStage = { fired: [], trace: [], classifiers: [], texts: new Map() };
  const calls = rules.length ? toolCallsIn(req.doc) : [];
  if (!calls.length) return stage;
  const { defaults } = loaded.policy;
  const cache = new Map<string, Promise<ClassifierResult>>();
  const classify = (id: string, text: string): Promise<ClassifierResult> => {
    const key = `${id}\0${text}`;
    let p = cache.get(key);
    if (!p) {
      const pin = req.pinned?.[id];
      const classifier = loaded.classifiers.get(id);
      const max = loaded.policy.classifiers.find((d) => d.id === id)?.maxTextChars ?? Infinity;
      p = pin
        ? Promise.resolve({ id, scores: pin, explanation: 'pinned score', latencyMs: 0 })
        : !classifier
          ? Promise.resolve({
              id,
              scores: {},
              explanation: '',
              latencyMs: 0,
              error: { code: 'threw', message: 'classifier not declared' },
            } as ClassifierResult)
          : text.length > max
            ? Promise.resolve({
                id,
                scores: {},
                explanation: 'classifier not run: text too long',
                latencyMs: 0,
                error: {
                  code: 'too_long',
                  message: `the text is ${text.length} characters, past this classifier's maxTextChars of ${max}`,
                },
              } as ClassifierResult)
            : runClassifier(classifier, { stage: 'output', text, prompt: req.prompt }, req.signal);
      cache.set(key, p);
      void p.then((r) => stage.classifiers.push(r));
    }
    return p;
  };
  for (const c of rules) {
    const scope = c.tool;
    if (!scope) continue;
    const conditions: ConditionTrace[] = [];
    const matched: { call: ToolCallView; ctx: EvalContext; error?: string }[] = [];
    let redactions: Redaction[] = [];
    for (const call of calls) {
      if (!scope.matches(call.name)) continue;
      const { sel, maps } = argText(call, scope.args);
      const results = new Map<string, ClassifierResult>();
      for (const id of c.condition.classifiers) results.set(id, await classify(id, sel.text));
      const ctx: EvalContext = { selection: sel, meta: req.meta, results, trace: [], spans: [], tool: call };
      ctx.trace.push({ condition: 'tool call', value: call.name, result: true });
      try {
        if (c.condition.test(ctx)) {
          matched.push({ call, ctx });
          if (c.rule.action === 'redact')
            redactions = redactions.concat(rawRedactions(call, sel, maps, ctx.spans, c.rule.replacement));
          stage.texts.set(call.pointer, call.raw);
        }
      } catch (e) {
        if (!(e instanceof ClassifierFailed)) throw e;
        matched.push({ call, ctx, error: e.message });
      }
      conditions.push(...ctx.trace);
    }
    const error = matched.find((m) => m.error)?.error;
    const onError = c.rule.onError ?? defaults.onError;
    const fires = matched.some((m) => !m.error) || (error !== undefined && onError !== 'allow');
    stage.trace.push({
      id: c.rule.id,
      matched: fires,
      mode: c.rule.mode,
      select: scopeText(c),
      conditions,
      ...(error && { error }),
    });
    if (!fires) continue;
    const first = matched[0];
    const names = [...new Set(matched.map((m) => m.call.name))];
    const mode = loaded.policy.mode === 'shadow' || c.rule.mode === 'shadow' ? 'shadow' : 'enforce';
    const byError = !matched.some((m) => !m.error);
    const held = conditions.filter((t) => t.result && t.condition !== 'tool call');
    const score = c.rule.when && 'classifier' in c.rule.when ? c.rule.when : undefined;
    const match: RuleMatch = {
      id: c.rule.id,
      category: c.rule.category,
      severity: c.rule.severity,
      mode,
      action: byError ? (onError as RuleMatch['action']) : c.rule.action,
      reason: `tool ${names.join(', ')}: ${byError ? (error ?? '') : why(c, req.meta, held)}`,
      values: conditions,
      ...(byError && { onError: true }),
      ...(score &&
        first && {
          classifier: score.classifier,
          label: score.label,
          score: round(first.ctx.results.get(score.classifier)?.scores[score.label] ?? 0, 4),
          threshold: score.threshold,
        }),
    };
    const message = c.rule.message?.replaceAll('{tool}', first?.call.name ?? '');
    stage.fired.push({
      c: message === c.rule.message ? c : { ...c, rule: { ...c.rule, message } },
      match,
      redactions: byError ? [] : redactions,
    });
  }
  await Promise.all(cache.values());
  return stage;
}

/** Why a tool rule matched, in one line; the allow-list says it plainly rather than through its negations. */
const why = (c: CompiledRule, meta: RequestMeta, held: ConditionTrace[]): string =>
  c.rule.id === TOOL_ALLOW_RULE
    ? `not in the allow-list of tenant ${meta.tenant ?? '(none)'}`
    : held.map((t) => `${t.condition} (${JSON.stringify(t.value)})`).join('; ') || 'no condition held (negation)';

/** How explain shows a tool rule's selection. */
const scopeText = (c: CompiledRule): string => {
  const t = c.rule.tool ?? {};
  const which = t.name !== undefined ? JSON.stringify(t.name) : t.nameRegex !== undefined ? `/${t.nameRegex}/` : '*';
  return `tool ${which} ${t.args ?? '(every string)'}`;
};
