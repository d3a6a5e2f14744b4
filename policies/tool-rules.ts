import { runClassifier } from '../classifiers/run.js';
import type { ClassifierResult } from '../classifiers/types.js';
import { ClassifierFailed, type ConditionTrace, type EvalContext, type RequestMeta } from './conditions.js';
import type { Redaction, RuleMatch, RuleTrace } from './engine.js';
import type { CompiledRule, LoadedPolicy } from './load.js';
import { round } from './round.js';
import type { ToolCallView } from './tool-conditions.js';
import { argText, rawRedactions, toolCallsIn } from './tool-scope.js';
import { TOOL_ALLOW_RULE } from './tool-schema.js';

/**
 * Rules with a `tool` scope: each reads the answer's tool calls one at a time — the calls whose name matches, and
 * as its text the decoded string values its `args` JSONPath selects (every string by default; the raw text when
 * the arguments are not JSON). Classifier and text conditions run on that text; `arg`, `args` and `meta: "tool"`
 * conditions read the call itself. A redaction is written back into the arguments' raw JSON at the value's place,
 * escaped, so the arguments stay valid JSON.
 */

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
  const { defaults } = loaded.policy;
  const cache = new Map<string, Promise<ClassifierResult>>();
  const classify = (id: string, text: string): Promise<ClassifierResult> => {
    const key = `${id}\0${text}`;
    let p = cache.get(key);
    if (!p) {
      cache.set(key, (p = classifierResult(loaded, req, id, text)));
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
    // No call in scope: the trace says so (explain shows why the rule did not match).
    if (!conditions.length) conditions.push({ condition: 'tool call', value: null, result: false });
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
          ...(typeof score.threshold === 'number' && { threshold: score.threshold }),
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

/** A classifier's result on one call's text: pinned, not run (too long, undeclared: a failure), or run. */
function classifierResult(loaded: LoadedPolicy, req: ToolRequest, id: string, text: string): Promise<ClassifierResult> {
  const pin = req.pinned?.[id];
  if (pin) return Promise.resolve({ id, scores: pin, explanation: 'pinned score', latencyMs: 0 });
  const classifier = loaded.classifiers.get(id);
  const max = loaded.policy.classifiers.find((d) => d.id === id)?.maxTextChars ?? Infinity;
  const failed = (code: 'threw' | 'too_long', message: string): Promise<ClassifierResult> =>
    Promise.resolve({ id, scores: {}, explanation: 'classifier not run', latencyMs: 0, error: { code, message } });
  if (!classifier) return failed('threw', 'classifier not declared');
  if (text.length > max)
    return failed('too_long', `the text is ${text.length} characters, past this classifier's maxTextChars of ${max}`);
  return runClassifier(classifier, { stage: 'output', text, prompt: req.prompt }, req.signal);
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
