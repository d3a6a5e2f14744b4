import type { Action, DecisionRecord, StageRecord } from '../audit/types.js';
import { ACTION_RANK } from './engine.js';

/**
 * Where a shadow policy disagreed with the enforced one, per rule, from decision records. A record disagrees
 * when its `shadow.action` differs from the enforced `action`; the rules held responsible are those that
 * matched on one side only (or with a different action), stage by stage, else the two winners.
 */

export interface ShadowRuleCount {
  id: string;
  /** Disagreeing decisions this rule took part in. */
  disagreements: number;
  /** It matched in the shadow policy only / the enforced policy only / both with different actions. */
  shadowOnly: number;
  enforcedOnly: number;
  actionChanged: number;
  /** `enforced→shadow` action → count. */
  transitions: Record<string, number>;
  examples: string[];
}

export interface ShadowReport {
  records: number;
  withShadow: number;
  agree: number;
  disagree: number;
  /** The shadow policies seen, with how many records each. */
  policies: { id: string; revision: string; records: number }[];
  transitions: { from: Action; to: Action; count: number; examples: string[] }[];
  rules: ShadowRuleCount[];
  /**
   * Rules in `shadow` mode inside the enforced policy: how often they matched and would have changed the stage's
   * action.
   */
  shadowModeRules: { id: string; matched: number; wouldChange: number; examples: string[] }[];
}

type Stages = DecisionRecord['stages'];
const STAGES = ['input', 'output'] as const;
const actions = (s: StageRecord | undefined) => new Map((s?.rules ?? []).map((r) => [r.id, r.action]));

/** Rule ids whose match differs between the enforced and the shadow stages, with how it differs. */
function involved(enforced: Stages, shadow: Stages): Map<string, 'shadowOnly' | 'enforcedOnly' | 'actionChanged'> {
  const out = new Map<string, 'shadowOnly' | 'enforcedOnly' | 'actionChanged'>();
  for (const st of STAGES) {
    const e = actions(enforced[st]);
    const s = actions(shadow[st]);
    for (const [id, a] of s)
      if (!e.has(id)) out.set(id, 'shadowOnly');
      else if (e.get(id) !== a && !out.has(id)) out.set(id, 'actionChanged');
    for (const id of e.keys()) if (!s.has(id) && !out.has(id)) out.set(id, 'enforcedOnly');
  }
  if (out.size === 0) {
    for (const st of STAGES) {
      const sw = shadow[st]?.rules[0]?.id;
      const ew = enforced[st]?.rules[0]?.id;
      if (sw) out.set(sw, 'actionChanged');
      if (ew && !out.has(ew)) out.set(ew, 'actionChanged');
    }
  }
  return out;
}

/** The map's entry for `key`, created by `create` on first use. */
function entry<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = create()));
  return value;
}

/** Accumulates a shadow report one record at a time (for streaming readers). */
export class ShadowCounter {
  private totals: ShadowReport = {
    records: 0,
    withShadow: 0,
    agree: 0,
    disagree: 0,
    policies: [],
    transitions: [],
    rules: [],
    shadowModeRules: [],
  };
  private rules = new Map<string, ShadowRuleCount>();
  private modeRules = new Map<string, ShadowReport['shadowModeRules'][number]>();
  constructor(private readonly maxExamples = 5) {}

  add(rec: DecisionRecord): void {
    const { totals } = this;
    const addExample = (list: string[]) =>
      void (list.length < this.maxExamples && !list.includes(rec.decision_id) && list.push(rec.decision_id));
    totals.records++;
    for (const stageName of STAGES) {
      const stage = rec.stages?.[stageName];
      for (const match of stage?.shadow_rules ?? []) {
        const counts = entry(this.modeRules, match.id, () => ({
          id: match.id,
          matched: 0,
          wouldChange: 0,
          examples: [],
        }));
        counts.matched++;
        if (stage && ACTION_RANK[match.action] > ACTION_RANK[stage.action]) {
          counts.wouldChange++;
          addExample(counts.examples);
        }
      }
    }
    const shadow = rec.shadow;
    if (!shadow) return;
    totals.withShadow++;
    const seen = totals.policies.find((x) => x.id === shadow.policy.id && x.revision === shadow.policy.revision);
    if (seen) seen.records++;
    else totals.policies.push({ ...shadow.policy, records: 1 });
    if (shadow.action === rec.action) return void totals.agree++;
    totals.disagree++;
    let transition = totals.transitions.find((x) => x.from === rec.action && x.to === shadow.action);
    if (!transition)
      totals.transitions.push((transition = { from: rec.action, to: shadow.action, count: 0, examples: [] }));
    transition.count++;
    addExample(transition.examples);
    const key = `${rec.action}→${shadow.action}`;
    const ids = involved(rec.stages ?? {}, shadow.stages ?? {});
    if (ids.size === 0) ids.set('(no rule)', 'actionChanged');
    for (const [id, how] of ids) {
      const counts = entry(this.rules, id, () => ({
        id,
        disagreements: 0,
        shadowOnly: 0,
        enforcedOnly: 0,
        actionChanged: 0,
        transitions: {},
        examples: [],
      }));
      counts.disagreements++;
      counts[how]++;
      counts.transitions[key] = (counts.transitions[key] ?? 0) + 1;
      addExample(counts.examples);
    }
  }

  report(): ShadowReport {
    const byCount = <T extends { id: string }>(xs: T[], n: (x: T) => number) =>
      xs.sort((a, b) => n(b) - n(a) || a.id.localeCompare(b.id));
    return {
      ...this.totals,
      transitions: [...this.totals.transitions].sort((a, b) => b.count - a.count),
      rules: byCount([...this.rules.values()], (x) => x.disagreements),
      shadowModeRules: byCount([...this.modeRules.values()], (x) => x.wouldChange),
    };
  }
}

/**
 * Counts, per rule, where the shadow policy disagreed with the enforced one.
 *
 * @example
 * const report = shadowReport(records);
 * report.rules[0];
 * // { id: 'weapons-v2', disagreements: 12, shadowOnly: 12, transitions: { 'allow→refuse': 12 }, examples: ['dec_…'] }
 */
export function shadowReport(records: Iterable<DecisionRecord>, { examples = 5 } = {}): ShadowReport {
  const counter = new ShadowCounter(examples);
  for (const r of records) counter.add(r);
  return counter.report();
}
