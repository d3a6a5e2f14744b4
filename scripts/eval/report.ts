import type { Action } from '../../policies/schema.js';
import { averagePrecision, binaryFigures, confusion, quantile, rocAuc, type BinaryFigures } from './metrics.js';
import type { ItemResult } from './run.js';

/** Figures for one group of records (a file, a source, a stage, or all of them). */
export interface GroupReport {
  n: number;
  /** Records labelled unsafe. */
  positives: number;
  /** The decision "flagged": the final action is not `allow` (refuse, redact, flag or route). */
  flagged: BinaryFigures;
  /** The decision "refused": the final action is `refuse`. */
  refused: BinaryFigures;
  /** How many records ended in each action. */
  actions: Partial<Record<Action, number>>;
  /** How many safe and unsafe records each enforced rule matched: which rules refuse (or over-refuse) where. */
  rules: Record<string, { safe: number; unsafe: number }>;
  /** Ranking quality of the main score, over the records that have one; null unless both labels are among them. */
  score: { scored: number; auprc: number | null; rocAuc: number | null };
  /** Records on which at least one classifier failed (the policy's onError applied). */
  errors: number;
  latencyMs: { p50: number | null; p99: number | null; mean: number | null };
}

/** A group that was run on its own, so its wall time and throughput mean something. */
export interface TimedReport extends GroupReport {
  wallMs: number;
  /** Records per second of wall time. */
  throughput: number | null;
}

/**
 * Aggregates item results into the report figures.
 *
 * @example
 * const all = summarize(results); // all.flagged.recall, all.score.auprc, all.latencyMs.p99, …
 */
export function summarize(items: readonly ItemResult[]): GroupReport {
  const gold = items.map((r) => r.label === 'unsafe');
  const actions: Partial<Record<Action, number>> = {};
  const rules: Record<string, { safe: number; unsafe: number }> = {};
  for (const r of items) {
    actions[r.action] = (actions[r.action] ?? 0) + 1;
    for (const id of r.rules) (rules[id] ??= { safe: 0, unsafe: 0 })[r.label]++;
  }
  const scored = items.flatMap((r) =>
    r.score === undefined ? [] : [{ unsafe: r.label === 'unsafe', score: r.score }],
  );
  const scoredGold = scored.map((r) => r.unsafe);
  const scores = scored.map((r) => r.score);
  const latencies = items.map((r) => r.latencyMs);
  return {
    n: items.length,
    positives: gold.filter(Boolean).length,
    flagged: binaryFigures(
      confusion(
        items.map((r) => r.action !== 'allow'),
        gold,
      ),
    ),
    refused: binaryFigures(
      confusion(
        items.map((r) => r.action === 'refuse'),
        gold,
      ),
    ),
    actions,
    rules: Object.fromEntries(
      Object.entries(rules).sort(
        (a, b) => b[1].safe - a[1].safe || b[1].unsafe - a[1].unsafe || a[0].localeCompare(b[0]),
      ),
    ),
    // A ranking needs both classes: with safe items missing, average precision is 1 whatever the scores.
    score: {
      scored: scored.length,
      auprc: scoredGold.includes(false) ? averagePrecision(scores, scoredGold) : null,
      rocAuc: rocAuc(scores, scoredGold),
    },
    errors: items.filter((r) => r.errors.length > 0).length,
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null,
    },
  };
}

/** Summaries per value of `key`, in name order. */
export function groupBy(items: readonly ItemResult[], key: (r: ItemResult) => string): Record<string, GroupReport> {
  const groups = new Map<string, ItemResult[]>();
  for (const r of items) {
    const k = key(r);
    const list = groups.get(k);
    if (list) list.push(r);
    else groups.set(k, [r]);
  }
  return Object.fromEntries(
    [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, list]) => [k, summarize(list)]),
  );
}

/** A summary with its wall time and throughput. */
export function timed(items: readonly ItemResult[], wallMs: number): TimedReport {
  return { ...summarize(items), wallMs, throughput: wallMs > 0 ? items.length / (wallMs / 1000) : null };
}
