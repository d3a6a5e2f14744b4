import type { ClassifierError, Stage } from '../../classifiers/types.js';
import { ACTION_RANK, refusalMessage, type RuleMatch, type StageDecision } from '../engine.js';
import type { CompiledRule, LoadedPolicy } from '../load.js';
import type { Action, Condition } from '../schema.js';

/**
 * A stage decision explained rule by rule: what each rule read, each condition with its value, whether it
 * matched and why, and why the winner won (precedence refuse > redact > route > flag > allow, then priority,
 * then order in the policy).
 */

export interface ExplainedRule {
  id: string;
  /** `matched`, `no-match`, `error` (its classifier failed and onError applied), or `skipped`. */
  outcome: 'matched' | 'no-match' | 'error' | 'skipped';
  /** The action it takes (its onError action when its classifier failed). */
  action: Action;
  mode: string;
  priority: number;
  /** 1-based position in the policy. */
  order: number;
  select?: string;
  /** The condition tree, in one line. */
  when: string;
  conditions: { condition: string; value: unknown; result: boolean }[];
  /** Why it matched or not, in one line. */
  why: string;
}

export interface ExplainedStage {
  stage: Stage;
  action: Action;
  winner?: { id: string; action: Action; why: string[] };
  rules: ExplainedRule[];
  shadow: { id: string; action: Action; reason: string }[];
  message?: string;
  route?: { model: string };
  redactions: { pointer: string; label: string; start: number; end: number; replacement: string }[];
  rewrites: Record<string, string>;
  classifiers: {
    id: string;
    scores: Record<string, number>;
    latencyMs: number;
    error?: ClassifierError;
    explanation: string;
  }[];
}

/** A condition tree in one line: `all(hazards.S9 >= 0.5, not(text contains "x"))`. */
export function conditionText(c: Condition): string {
  if ('all' in c) return `all(${c.all.map(conditionText).join(', ')})`;
  if ('any' in c) return `any(${c.any.map(conditionText).join(', ')})`;
  if ('not' in c) return `not(${conditionText(c.not)})`;
  if ('classifier' in c) return `${c.classifier}.${c.label} ${c.op} ${c.threshold}`;
  if ('text' in c) {
    const t = c.text;
    if ('regex' in t) return `text matches /${t.regex}/${t.flags}`;
    if ('contains' in t) return `text contains ${JSON.stringify(t.contains)}`;
    return `text length in [${t.length.min ?? 0}, ${t.length.max ?? '∞'}]`;
  }
  if ('args' in c) return 'arguments are malformed JSON';
  if ('arg' in c) {
    const { path, regex, flags, equals, in: oneOf, exists } = c.arg;
    if (regex !== undefined) return `arg ${path} matches /${regex}/${flags ?? 'i'}`;
    if (oneOf !== undefined) return `arg ${path} in ${JSON.stringify(oneOf)}`;
    if (exists !== undefined) return `arg ${path} ${exists ? 'exists' : 'is absent'}`;
    return `arg ${path} == ${JSON.stringify(equals)}`;
  }
  const label = c.meta === 'header' ? `header ${c.name}` : c.meta;
  if (c.equals !== undefined) return `${label} == ${JSON.stringify(c.equals)}`;
  if (c.in !== undefined) return `${label} in ${JSON.stringify(c.in)}`;
  return `${label} matches /${c.regex}/`;
}

/** Why rule `a` (action `aa`) wins over rule `b` (action `ba`). */
export function beats(a: CompiledRule, aAction: Action, b: CompiledRule, bAction: Action): string {
  if (ACTION_RANK[aAction] !== ACTION_RANK[bAction]) return `${aAction} outranks ${bAction}`;
  if (a.rule.priority !== b.rule.priority) return `higher priority (${a.rule.priority} > ${b.rule.priority})`;
  return `same action and priority, earlier in the policy (#${a.order + 1} before #${b.order + 1})`;
}

const fmt = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Explains one stage decision against the policy that made it. */
export function explainStage(loaded: LoadedPolicy, decision: StageDecision): ExplainedStage {
  const byId = new Map(loaded.rules.map((r) => [r.rule.id, r]));
  const compiled = (id: string): CompiledRule => {
    const rule = byId.get(id);
    if (!rule) throw new Error(`rule ${id} decided ${decision.stage} but is not in policy ${loaded.policy.id}`);
    return rule;
  };
  const matches = new Map<string, RuleMatch>([...decision.matches, ...decision.shadow].map((m) => [m.id, m]));
  const traced = new Map(decision.trace.map((t) => [t.id, t]));
  const rules: ExplainedRule[] = loaded.rules.map((compiledRule) => {
    const ruleTrace = traced.get(compiledRule.rule.id);
    const match = matches.get(compiledRule.rule.id);
    const base = {
      id: compiledRule.rule.id,
      mode: compiledRule.rule.mode,
      priority: compiledRule.rule.priority,
      order: compiledRule.order + 1,
      when: conditionText(compiledRule.rule.when),
    };
    if (!ruleTrace) {
      const why =
        compiledRule.rule.mode === 'disabled' || loaded.policy.mode === 'disabled'
          ? 'disabled'
          : `runs on ${compiledRule.rule.stage}, not on ${decision.stage}`;
      return { ...base, outcome: 'skipped', action: compiledRule.rule.action, conditions: [], why };
    }
    const held = ruleTrace.conditions.filter((x) => x.result).map((x) => `${x.condition} (${fmt(x.value)})`);
    const failed = ruleTrace.conditions.filter((x) => !x.result).map((x) => `${x.condition} (${fmt(x.value)})`);
    const outcome = ruleTrace.error ? 'error' : ruleTrace.matched ? 'matched' : 'no-match';
    const why = ruleTrace.error
      ? `${ruleTrace.error}; onError ${match ? `→ ${match.action}` : '→ allow (ignored)'}`
      : ruleTrace.matched
        ? `held: ${held.join('; ') || 'no positive condition (a negation held)'}`
        : `did not hold: ${failed.join('; ') || '(the tree is false)'}`;
    return {
      ...base,
      outcome,
      action: match?.action ?? compiledRule.rule.action,
      select: ruleTrace.select,
      conditions: ruleTrace.conditions,
      why: match?.mode === 'shadow' ? `${why} (shadow: recorded, not enforced)` : why,
    };
  });
  const winner = decision.matches[0];
  let explainedWinner: ExplainedStage['winner'];
  if (winner) {
    const winning = compiled(winner.id);
    const why = [`${winner.action}, priority ${winning.rule.priority}, #${winning.order + 1} in the policy`];
    for (const other of decision.matches.slice(1))
      why.push(
        `beats ${other.id} (${other.action}): ${beats(winning, winner.action, compiled(other.id), other.action)}`,
      );
    explainedWinner = { id: winner.id, action: winner.action, why };
  }
  return {
    stage: decision.stage,
    action: decision.action,
    winner: explainedWinner,
    rules,
    shadow: decision.shadow.map((m) => ({ id: m.id, action: m.action, reason: m.reason })),
    message: refusalMessage(decision),
    route: decision.route,
    redactions: decision.redactions.map(({ pointer, label, start, end, replacement }) => ({
      pointer,
      label,
      start,
      end,
      replacement,
    })),
    rewrites: Object.fromEntries(decision.rewrites),
    classifiers: decision.classifiers.map((c) => ({
      id: c.id,
      scores: c.scores,
      latencyMs: Math.round(c.latencyMs * 1000) / 1000,
      explanation: c.explanation,
      ...(c.error !== undefined && { error: c.error }),
    })),
  };
}
