/**
 * Choosing a level's thresholds. A level refuses an item when any calibrated label reaches its threshold (the
 * default pack refuses on each of them), so the thresholds are chosen together:
 *
 * - the objective is the benign refusal rate, `max(everyday, look-alikes ÷ factor)`: the share of everyday safe
 *   requests refused, and the share of safe requests that look like harmful ones, allowed `factor` times as much
 *   (look-alikes are hard by construction; the goals were 2% and 8%, a factor of 4); each is the worst
 *   of the pooled rate and the rate of every source with at least MIN_SOURCE safe items;
 * - every label gets the same budget `s`: its threshold is the lowest at which that label alone keeps the
 *   objective at or under `s`;
 * - `s` is the largest budget at which all the labels together keep the objective at or under the level's target.
 *
 * Only safe items set thresholds; unsafe items are only counted for the recall reported beside them.
 */
import type { LevelFigures, LevelName } from '../../classifiers/heads/levels.js';
import type { CalItem } from './items.js';

/**
 * How many times the everyday rate look-alikes may be refused. 2 leaves half of the 8% look-alike goal as
 * margin for look-alikes unlike the validation split's (homonyms, safe contexts); on the intent model's validation
 * split it cost 0.1 points of recall at balanced against 4 (look-alikes refused 3.9% instead of 5.4%, gate 0.671).
 */
export const DEFAULT_LOOKALIKE_FACTOR = 2;

export interface FitOptions {
  everyday: ReadonlySet<string>;
  lookalikes: ReadonlySet<string>;
  lookalikeFactor: number;
}

/** One item's served scores, by label. */
export interface Row {
  item: CalItem;
  scores: Record<string, number>;
}

/** Rounded up to 6 decimals, strictly above `v`: a threshold that lets a score of exactly `v` through. */
const above = (v: number) => Math.min(1, (Math.floor(v * 1e6) + 1) / 1e6);

/** Sources with fewer safe items than this count only in the pooled rate (one item of 21 would be 4.8%). */
export const MIN_SOURCE = 100;

/** The worst of the pooled rate and the rate of each source with at least MIN_SOURCE items. */
function worst(groups: Map<string, [number, number]>): number | null {
  if (groups.size === 0) return null;
  let refused = 0;
  let n = 0;
  let max = 0;
  for (const [r, k] of groups.values()) {
    refused += r;
    n += k;
    if (k >= MIN_SOURCE) max = Math.max(max, r / k);
  }
  return Math.max(max, refused / n);
}

/**
 * Objective of a refusal mask over the safe rows. Each rate is the worst of the pooled rate and each large
 * source's, so 1,110 math problems do not hide 142 chatbot prompts refused at three times the rate.
 */
function objective(refused: (r: Row) => boolean, safe: readonly Row[], o: FitOptions) {
  const ev = new Map<string, [number, number]>();
  const la = new Map<string, [number, number]>();
  for (const r of safe) {
    const group = o.everyday.has(r.item.source) ? ev : o.lookalikes.has(r.item.source) ? la : undefined;
    if (!group) continue;
    const g = group.get(r.item.source) ?? [0, 0];
    if (refused(r)) g[0]++;
    g[1]++;
    group.set(r.item.source, g);
  }
  const everyday = worst(ev);
  const lookalike = worst(la);
  return { everyday, lookalike, value: Math.max(everyday ?? 0, (lookalike ?? 0) / o.lookalikeFactor) };
}

/** Safe rows that count towards the objective; with none, every safe row counts as everyday. */
function benignRows(rows: readonly Row[], o: FitOptions): { safe: Row[]; o: FitOptions } {
  const safe = rows.filter((r) => r.item.label === 'safe');
  const counted = safe.filter((r) => o.everyday.has(r.item.source) || o.lookalikes.has(r.item.source));
  if (counted.length) return { safe: counted, o };
  return { safe, o: { ...o, everyday: new Set(safe.map((r) => r.item.source)) } };
}

/** Per label, the lowest threshold at which that label alone keeps the objective at or under `s`. */
function thresholdsAt(s: number, labels: readonly string[], safe: readonly Row[], o: FitOptions) {
  const out: Record<string, number> = {};
  for (const label of labels) {
    // Candidate thresholds: just above each safe score, highest first; lower the threshold while it stays in budget.
    const cands = [...new Set(safe.map((r) => above(r.scores[label] ?? 0)))].sort((a, b) => a - b);
    let lo = 0;
    let hi = cands.length - 1; // the highest candidate refuses no safe row, so it is always in budget
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const t = cands[mid];
      if (objective((r) => (r.scores[label] ?? 0) >= t, safe, o).value <= s) hi = mid;
      else lo = mid + 1;
    }
    out[label] = cands.length ? cands[lo] : 1;
  }
  return out;
}

const refusedBy = (thresholds: Record<string, number>) => (r: Row) =>
  Object.entries(thresholds).some(([label, t]) => (r.scores[label] ?? 0) >= t);

/**
 * The thresholds of one level: the largest common budget whose union meets the target, then a fill: round after
 * round, each label in turn moves down to its next candidate while the union still meets the target (a safe item
 * another label already refuses costs nothing), until no label can move.
 * @example
 * const t = fitLevel(rows, ['unsafe', 'jailbreak'], 0.02, opts); // { unsafe: 0.83, jailbreak: 0.91 }
 */
export function fitLevel(
  rows: readonly Row[],
  labels: readonly string[],
  target: number,
  options: FitOptions,
): Record<string, number> {
  const { safe, o } = benignRows(rows, options);
  let lo = 0;
  let hi = target;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (objective(refusedBy(thresholdsAt(mid, labels, safe, o)), safe, o).value <= target) lo = mid;
    else hi = mid;
  }
  const t = thresholdsAt(lo, labels, safe, o);
  const cands = Object.fromEntries(
    labels.map((l) => [l, [...new Set(safe.map((r) => above(r.scores[l] ?? 0)))].sort((a, b) => b - a)]),
  );
  const stuck = new Set<string>();
  while (stuck.size < labels.length) {
    for (const label of labels) {
      if (stuck.has(label)) continue;
      const next = cands[label].find((c) => c < t[label]);
      const tried = next === undefined ? undefined : { ...t, [label]: next };
      if (tried && objective(refusedBy(tried), safe, o).value <= target) t[label] = tried[label];
      else stuck.add(label);
    }
  }
  return t;
}

const rate = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : null);
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** What a set of thresholds does on the rows: benign refusal per source, recall per source and per category. */
export function figuresOf(rows: readonly Row[], thresholds: Record<string, number>, options: FitOptions): LevelFigures {
  const refused = refusedBy(thresholds);
  const { safe, o } = benignRows(rows, options);
  const obj = objective(refused, safe, o);
  const bySource = (label: 'safe' | 'unsafe') => {
    const groups = new Map<string, boolean[]>();
    for (const r of rows.filter((x) => x.item.label === label)) {
      const g = groups.get(r.item.source) ?? [];
      g.push(refused(r));
      groups.set(r.item.source, g);
    }
    return Object.fromEntries([...groups].sort().map(([s, xs]) => [s, r4(rate(xs) ?? 0)]));
  };
  const unsafe = rows.filter((r) => r.item.label === 'unsafe');
  const categories = [...new Set(unsafe.flatMap((r) => r.item.categories))].sort(
    (a, b) => Number(a.slice(1)) - Number(b.slice(1)),
  );
  const recall = rate(unsafe.map(refused));
  return {
    benignRefusal: r4(obj.value),
    everydayRefusal: obj.everyday === null ? null : r4(obj.everyday),
    lookalikeRefusal: obj.lookalike === null ? null : r4(obj.lookalike),
    refusedSafeBySource: bySource('safe'),
    recallBySource: bySource('unsafe'),
    recallByCategory: Object.fromEntries(
      categories.map((c) => [c, r4(rate(unsafe.filter((r) => r.item.categories.includes(c)).map(refused)) ?? 0)]),
    ),
    recall: recall === null ? null : r4(recall),
  };
}

export const DEFAULT_TARGETS: Record<LevelName, number> = { strict: 0.05, balanced: 0.02, permissive: 0.005 };
