import type { Classifier, ClassifierResult, Span, Stage } from '../classifiers/types.js';
import { classifySelection } from './classify-selection.js';
import { ClassifierFailed, type ConditionTrace, type RequestMeta } from './conditions.js';
import type { CompiledRule, LoadedPolicy } from './load.js';
import { round } from './round.js';
import type { Action, Rule } from './schema.js';
import type { Selection, TextSelector } from './select.js';
import { evaluateToolRules } from './tool-rules.js';

export type { RequestMeta } from './conditions.js';

/** Precedence of actions: refuse beats redact beats route beats flag beats allow. */
export const ACTION_RANK: Record<Action, number> = { refuse: 4, redact: 3, route: 2, flag: 1, allow: 0 };

export interface RuleMatch {
  id: string;
  action: Action;
  /** Why it matched, in one line: the conditions that held, with their values. */
  reason: string;
  category?: string;
  severity: Rule['severity'];
  /** `shadow` matches are recorded and never enforced. */
  mode: 'enforce' | 'shadow';
  /** Every condition the rule evaluated, with its value and outcome. */
  values: ConditionTrace[];
  /** The first score condition that held, for quick reading of records. */
  classifier?: string;
  label?: string;
  score?: number;
  threshold?: number;
  /** True when the rule fired because a classifier it reads failed (onError). */
  onError?: boolean;
}

/** A span to replace inside the text at `pointer`, with offsets relative to that text. */
export interface Redaction extends Span {
  pointer: string;
  replacement: string;
}

/** One rule's evaluation, matched or not, for `explain`. */
export interface RuleTrace {
  id: string;
  matched: boolean;
  mode: Rule['mode'];
  select: string;
  conditions: ConditionTrace[];
  error?: string;
}

/** What every stage decision carries, whatever its action. */
interface StageOutcome {
  stage: Stage;
  /** Enforced rules that matched, winner first. */
  matches: RuleMatch[];
  /** Shadow rules (or a shadow policy's rules) that matched. */
  shadow: RuleMatch[];
  /** Spans to replace when the action is `redact` (or when redactions ride along with a route or flag). */
  redactions: Redaction[];
  /** The same redactions applied: pointer → new text. */
  rewrites: Map<string, string>;
  /** For `route` (or a route riding along with a redaction or flag): the model to send the request to. */
  route?: { model: string };
  classifiers: ClassifierResult[];
  /** The rule-by-rule explanation, for `policy explain`. */
  trace: RuleTrace[];
}

/** A stage that refuses, with the assistant message to send instead of an answer. */
export interface Refusal extends StageOutcome {
  action: 'refuse';
  message: string;
}

/** A stage that lets the request (or answer) through, possibly redacted, routed or flagged. */
export interface Passage extends StageOutcome {
  action: Exclude<Action, 'refuse'>;
}

/** A stage's decision, keyed on its action: a refusal always carries its message. */
export type StageDecision = Refusal | Passage;

/** The refusal message of a decision that refuses; undefined for any other. */
export const refusalMessage = (d: StageDecision): string | undefined => (d.action === 'refuse' ? d.message : undefined);

export interface StageRequest {
  stage: Stage;
  /** The request (input stage) or the response (output stage), as JSON. */
  doc: unknown;
  meta?: RequestMeta;
  /** For output-stage classifiers that read the prompt too. */
  prompt?: string;
  signal?: AbortSignal;
  /** Scores to use instead of running a classifier (policy tests): classifier id → label → score. */
  pinned?: Record<string, Record<string, number>>;
}

const NO_META: RequestMeta = { tenant: null, key: null, model: null, route: '', headers: {} };

/** Replaces spans in a text. Overlapping spans merge under the first one's replacement, so nothing leaks. */
export function applyRedactions(text: string, redactions: (Span & { replacement: string })[]): string {
  const sorted = [...redactions].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const r of sorted) {
    if (r.start < at) {
      at = Math.max(at, r.end);
      continue;
    }
    out += text.slice(at, r.start) + r.replacement;
    at = r.end;
  }
  return out + text.slice(at);
}

/**
 * Maps spans of a selection's joined text onto its segments. A span that runs over a segment's end (a pattern
 * that reads to the end of the text, across the blank line between two choices) is cut at each segment it
 * covers, so every part of it is replaced rather than none.
 */
function toRedactions(sel: Selection, spans: Span[], replacement: string): Redaction[] {
  const out: Redaction[] = [];
  for (const s of spans) {
    for (const seg of sel.segments) {
      const start = Math.max(s.start, seg.start) - seg.start;
      const end = Math.min(s.end, seg.start + seg.text.length) - seg.start;
      if (end > start)
        out.push({
          label: s.label,
          start,
          end,
          pointer: seg.pointer,
          replacement: replacement.replaceAll('{label}', s.label),
        });
    }
  }
  return out;
}

const NO_RESULTS = new Map<string, ClassifierResult>();

/** What the model reads instead of a request this policy refused earlier in the conversation. */
export const WITHHELD = '[withheld by the gateway: it declined this message earlier]';

/** What a stage of a policy runs, worked out once per loaded policy: its rules, their selectors, and each classifier once per selector. */
interface StagePlan {
  rules: { compiled: CompiledRule; selector: TextSelector }[];
  /** Rules with a tool scope, evaluated per tool call (tool-rules.ts). */
  toolRules: CompiledRule[];
  selectors: TextSelector[];
  runs: { id: string; selector: TextSelector; classifier: Classifier; maxChars: number }[];
}
const plans = new WeakMap<LoadedPolicy, Partial<Record<Stage, StagePlan>>>();

function planOf(loaded: LoadedPolicy, stage: Stage): StagePlan {
  let byStage = plans.get(loaded);
  if (!byStage) plans.set(loaded, (byStage = {}));
  let plan = byStage[stage];
  if (plan) return plan;
  const rules =
    loaded.policy.mode === 'disabled'
      ? []
      : loaded.rules.filter((r) => r.stages.includes(stage) && r.rule.mode !== 'disabled');
  const selectors = new Map<string, TextSelector>();
  const runs = new Map<string, StagePlan['runs'][number]>();
  const planned: StagePlan['rules'] = [];
  const toolRules = rules.filter((r) => r.tool);
  for (const r of rules) {
    if (r.tool) continue;
    // Loading compiles a selector for every stage a rule applies to, and checks that its classifiers exist.
    const selector = r.selectors[stage];
    if (!selector) throw new Error(`rule ${r.rule.id} has no selector for the ${stage} stage`);
    planned.push({ compiled: r, selector });
    selectors.set(selector.path, selector);
    for (const id of r.condition.classifiers) {
      const classifier = loaded.classifiers.get(id);
      if (!classifier) throw new Error(`rule ${r.rule.id} reads classifier ${id}, which the policy does not declare`);
      const maxChars = loaded.policy.classifiers.find((d) => d.id === id)?.maxTextChars ?? Infinity;
      runs.set(`${id}\0${selector.path}`, { id, selector, classifier, maxChars });
    }
  }
  byStage[stage] = plan = { rules: planned, toolRules, selectors: [...selectors.values()], runs: [...runs.values()] };
  return plan;
}

/**
 * Evaluates a policy's rules for one stage: selects each rule's text, runs the classifiers the rules read
 * (once per classifier and selection, concurrently), evaluates the condition trees and picks one action.
 * Deterministic: matches are ordered by action precedence, then priority (higher first), then policy order.
 */
export async function evaluateStage(loaded: LoadedPolicy, req: StageRequest): Promise<StageDecision> {
  const { stage, doc, meta = NO_META, prompt, signal, pinned } = req;
  const policyMode = loaded.policy.mode;
  const { rules, toolRules, selectors, runs: planned } = planOf(loaded, stage);

  const selections = new Map<string, Selection>();
  for (const selector of selectors) selections.set(selector.path, selector.select(doc));
  const selectionOf = (selector: TextSelector) => selections.get(selector.path) ?? selector.select(doc);
  // Rules that read the conversation differently often select the same text (one user message): run once.
  const same = new Map<string, Promise<ClassifierResult>>();
  const results = await Promise.all(
    planned.map(({ id, selector, classifier, maxChars }) => {
      const pin = pinned?.[id];
      if (pin) return Promise.resolve({ id, scores: pin, explanation: 'pinned score', latencyMs: 0 });
      const sel = selectionOf(selector);
      const key = `${id}\0${sel.text}`;
      const run = same.get(key) ?? classifySelection(id, classifier, sel, { stage, prompt, maxChars, signal });
      same.set(key, run);
      return run;
    }),
  );
  /** Per selector path: classifier id → its result on that path's text. */
  const byPath = new Map<string, Map<string, ClassifierResult>>();
  planned.forEach(({ id, selector }, i) => {
    let m = byPath.get(selector.path);
    if (!m) byPath.set(selector.path, (m = new Map()));
    const result = results[i];
    if (result) m.set(id, result);
  });

  const { defaults } = loaded.policy;
  const fired: { c: CompiledRule; match: RuleMatch; spans: Span[]; sel?: Selection; redactions?: Redaction[] }[] = [];
  const trace: RuleTrace[] = [];
  for (const { compiled: c, selector } of rules) {
    const path = selector.path;
    const sel = selectionOf(selector);
    const ctx = {
      selection: sel,
      meta,
      results: byPath.get(path) ?? NO_RESULTS,
      trace: [] as ConditionTrace[],
      spans: [] as Span[],
    };
    const mode = policyMode === 'shadow' || c.rule.mode === 'shadow' ? 'shadow' : 'enforce';
    const base = { id: c.rule.id, category: c.rule.category, severity: c.rule.severity, mode } as const;
    try {
      const matched = c.condition.test(ctx);
      trace.push({ id: c.rule.id, matched, mode: c.rule.mode, select: path, conditions: ctx.trace });
      if (!matched) continue;
      const held = ctx.trace.filter((t) => t.result);
      const first = c.rule.when && 'classifier' in c.rule.when ? c.rule.when : undefined;
      const match: RuleMatch = {
        ...base,
        action: c.rule.action,
        reason:
          held.map((t) => `${t.condition} (${JSON.stringify(t.value)})`).join('; ') || 'no condition held (negation)',
        values: ctx.trace,
        ...(first && {
          classifier: first.classifier,
          label: first.label,
          score: round(ctx.results.get(first.classifier)?.scores[first.label] ?? 0, 4),
          ...(typeof first.threshold === 'number' && { threshold: first.threshold }),
        }),
      };
      fired.push({ c, match, spans: ctx.spans, sel });
    } catch (e) {
      if (!(e instanceof ClassifierFailed)) throw e;
      const onError = c.rule.onError ?? defaults.onError;
      trace.push({
        id: c.rule.id,
        matched: onError !== 'allow',
        mode: c.rule.mode,
        select: path,
        conditions: ctx.trace,
        error: e.message,
      });
      if (onError === 'allow') continue;
      fired.push({
        c,
        match: { ...base, action: onError, reason: e.message, values: ctx.trace, onError: true },
        spans: [],
        sel,
      });
    }
  }

  const tools = await evaluateToolRules(loaded, toolRules, { doc, meta, prompt, signal, pinned });
  fired.push(...tools.fired.map((f) => ({ ...f, spans: [] })));
  trace.push(...tools.trace);
  results.push(...tools.classifiers);

  const rank = (f: (typeof fired)[number]) => ACTION_RANK[f.match.action];
  fired.sort((a, b) => rank(b) - rank(a) || b.c.rule.priority - a.c.rule.priority || a.c.order - b.c.order);
  const enforced = fired.filter((f) => f.match.mode === 'enforce');
  const winner = enforced[0];
  const outcome: StageOutcome = {
    stage,
    matches: enforced.map((f) => f.match),
    shadow: fired.filter((f) => f.match.mode === 'shadow').map((f) => f.match),
    redactions: [],
    rewrites: new Map(),
    classifiers: [...new Set(results)],
    trace,
  };
  // What a conversation left out as already refused goes to the model withheld, whatever passes (conversation.ts).
  for (const { pointer } of [...selections.values()].flatMap((s) => s.withheld ?? []))
    outcome.rewrites.set(pointer, WITHHELD);
  if (!winner) return { ...outcome, action: 'allow' };
  const action = winner.match.action;
  if (action === 'refuse') {
    const r = winner.c.rule;
    const text = winner.match.onError
      ? defaults.errorRefusal
      : (r.message ?? (r.category && defaults.messages[r.category]) ?? defaults.refusal);
    return { ...outcome, action, message: text.replaceAll('{rule}', r.id).replaceAll('{category}', r.category ?? '') };
  }
  const decision: Passage = { ...outcome, action };
  for (const f of enforced) {
    if (f.match.action === 'redact' && !f.match.onError)
      decision.redactions.push(...(f.redactions ?? (f.sel ? toRedactions(f.sel, f.spans, f.c.rule.replacement) : [])));
    if (f.match.action === 'route' && !decision.route) decision.route = f.c.rule.route;
  }
  const byPointer = new Map<string, Redaction[]>();
  for (const r of decision.redactions) byPointer.set(r.pointer, [...(byPointer.get(r.pointer) ?? []), r]);
  for (const [pointer, list] of byPointer) {
    const text =
      tools.texts.get(pointer) ??
      [...selections.values()].flatMap((s) => s.segments).find((s) => s.pointer === pointer)?.text;
    // Redactions are made from these segments; one without its segment would go unapplied, so fail instead.
    if (text === undefined) throw new Error(`redaction at ${pointer} is outside the selected text`);
    decision.rewrites.set(pointer, applyRedactions(text, list));
  }
  return decision;
}
