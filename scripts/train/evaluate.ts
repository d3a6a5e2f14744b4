/**
 * Reported figures, never used for fitting: the test split (per label, pooled and per source) and
 * held-out sources (the head is refitted without a source, and its texts, then scored on all of it).
 */
import { averagePrecision, countsAt, rocAuc } from '../../classifiers/heads/metrics.js';
import { normalise } from './data.js';
import { fitHead, scoreItem, windowsOf, type Features, type FittedHead, type HeadSpec } from './fit.js';
import type { Item } from './heads-data.js';

export interface Figures {
  n: number;
  positives: number;
  /** NaN when one class is missing. */
  rocAuc: number;
  averagePrecision: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of safe items flagged (over-refusal). */
  flaggedSafe: number;
}

function figures(scores: number[], y: number[], threshold: number): Figures {
  const counts = countsAt(scores, y, threshold);
  return { ...counts, rocAuc: rocAuc(scores, y), averagePrecision: averagePrecision(scores, y) };
}

export interface LabelReport {
  label: string;
  threshold: number;
  pooled: Figures;
  bySource: Record<string, Figures>;
}

/** Per label: pooled and per-source figures over `items` at the fitted thresholds. */
export function evaluate(fit: FittedHead, spec: HeadSpec, items: readonly Item[], features: Features): LabelReport[] {
  const scored = items.map((it) => scoreItem(fit, spec.pooling, windowsOf(features, it)));
  return spec.labels.map((label, j) => {
    const keep = items.map((_, i) => i).filter((i) => !Number.isNaN(items[i].y[j]));
    const pick = (idx: number[]) =>
      figures(
        idx.map((i) => scored[i][j]),
        idx.map((i) => items[i].y[j]),
        fit.thresholds[j],
      );
    const sources = [...new Set(keep.map((i) => items[i].source))].sort();
    const bySource = Object.fromEntries(sources.map((s) => [s, pick(keep.filter((i) => items[i].source === s))]));
    return { label, threshold: fit.thresholds[j], pooled: pick(keep), bySource };
  });
}

export interface HeldOutReport {
  source: string;
  labels: Array<{ label: string } & Figures>;
}

/**
 * For each source: fit without it (and without any text it contains), then score all of its items.
 * A name also covers its sub-sources (`coconot_pref` covers `coconot_pref_chosen`).
 * @example
 * const rows = heldOut(spec, items, features, ['cse_frr', 'coconot_pref']);
 */
export function heldOut(
  spec: HeadSpec,
  items: readonly Item[],
  features: Features,
  sources: readonly string[],
  log: (s: string) => void,
): HeldOutReport[] {
  const out: HeldOutReport[] = [];
  for (const source of sources) {
    const inSource = (it: Item) => it.source === source || it.source.startsWith(`${source}_`);
    const target = items.filter(inSource);
    const texts = new Set(target.map((it) => normalise(it.text)));
    const rest = items.filter((it) => !inSource(it) && !texts.has(normalise(it.text)));
    const started = performance.now();
    let fit: FittedHead;
    try {
      fit = fitHead(spec, rest, features);
    } catch (e) {
      log(`  held-out ${source}: skipped (${(e as Error).message})`);
      continue;
    }
    const report = evaluate(fit, spec, target, features);
    out.push({ source, labels: report.map((r) => ({ label: r.label, ...r.pooled })) });
    const main = report.find((r) => r.pooled.positives > 0) ?? report[0];
    const msg =
      main.pooled.positives > 0
        ? `recall ${main.pooled.recall.toFixed(3)}`
        : `flagged ${main.pooled.flaggedSafe.toFixed(3)}`;
    log(
      `  held-out ${source} (${target.length}): ${main.label} ${msg} [${Math.round(performance.now() - started)} ms]`,
    );
  }
  return out;
}
