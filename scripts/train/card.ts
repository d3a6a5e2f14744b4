/**
 * Renders MODEL_CARD.md from the manifest and the metrics of a training run. Tables are generated; the prose
 * (data choices, weaknesses, retraining) lives in card-text.ts so a retrain never leaves stale numbers.
 */
import type { Manifest } from '../../classifiers/heads/model.js';
import type { HeadMetrics } from './artifacts.js';
import { CARD_DATA_NOTES, CARD_HONESTY, CARD_INTRO, CARD_RETRAIN, CARD_WEAKNESSES } from './card-text.js';
import type { Figures } from './evaluate.js';

export interface DataFile {
  name: string;
  what: string;
  license: string;
  sha256: string;
}

const CATEGORY_NOTE =
  'For categories, the negatives of a code include unsafe inputs of other codes, so "flagged safe" there is the share of all negatives flagged. Test positives per code are few (4 to 300): read these rows as rough.';

const f3 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(3));

function testTable(m: HeadMetrics): string[] {
  const lines = [
    '| label | threshold | n | positives | ROC-AUC | AP | precision | recall | flagged safe |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of m.test) {
    const p = r.pooled;
    lines.push(
      `| ${r.label} | ${f3(r.threshold)} | ${p.n} | ${p.positives} | ${f3(p.rocAuc)} | ${f3(p.averagePrecision)} | ` +
        `${f3(p.precision)} | ${f3(p.recall)} | ${f3(p.flaggedSafe)} |`,
    );
  }
  return lines;
}

/** One row per source in the test split: recall on its unsafe items, flagged rate on its safe ones. */
function bySourceTable(m: HeadMetrics, label: string): string[] {
  const r = m.test.find((x) => x.label === label);
  if (!r) return [];
  const lines = [
    `| source (test split) | n | positives | recall | flagged safe | ROC-AUC |`,
    '|---|---|---|---|---|---|',
  ];
  for (const [s, p] of Object.entries(r.bySource))
    lines.push(`| ${s} | ${p.n} | ${p.positives} | ${f3(p.recall)} | ${f3(p.flaggedSafe)} | ${f3(p.rocAuc)} |`);
  return lines;
}

function heldOutTable(m: HeadMetrics): string[] {
  if (!m.heldOut.length) return ['(not run: train with held-out refits to fill this table)'];
  const lines = [
    '| held-out source | label | n | positives | recall | flagged safe | ROC-AUC |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const h of m.heldOut) {
    // Multi-label heads: a code's row shows when the source has positives for it, or it flags ≥ 5% of it.
    const rows = h.labels.filter(
      (l: { label: string } & Figures) => l.positives > 0 || h.labels.length === 1 || l.flaggedSafe >= 0.05,
    );
    const show = rows.length ? rows : h.labels.slice(0, 1);
    for (const l of show)
      lines.push(
        `| ${h.source} | ${l.label} | ${l.n} | ${l.positives} | ${f3(l.recall)} | ${f3(l.flaggedSafe)} | ` +
          `${f3(l.rocAuc)} |`,
      );
  }
  return lines;
}

export function renderCard({
  manifest,
  metrics,
  files,
  modelDir,
}: {
  manifest: Manifest;
  metrics: Record<string, HeadMetrics>;
  files: DataFile[];
  modelDir: string;
}): string {
  const out: string[] = [
    CARD_INTRO.replace('{modelDir}', modelDir)
      .replace('{encoder}', manifest.encoder)
      .replace('{seed}', String(manifest.seed)),
    '',
  ];
  out.push(
    '## Heads',
    '',
    '| head | labels | input | pooling | file | SHA-256 (first 16) |',
    '|---|---|---|---|---|---|',
  );
  for (const [name, e] of Object.entries(manifest.heads)) {
    if (e)
      out.push(
        `| ${name} | ${e.labels.join(', ')} | ${e.input} | ${e.pooling} | ${e.file} | ${e.sha256.slice(0, 16)} |`,
      );
  }
  out.push(
    '',
    '## Data',
    '',
    CARD_DATA_NOTES,
    '',
    '| file | what | license | SHA-256 (first 16) |',
    '|---|---|---|---|',
  );
  for (const f of files) out.push(`| ${f.name} | ${f.what} | ${f.license} | ${f.sha256} |`);
  out.push('', 'Examples per head and source (positives / negatives, all splits):', '');
  for (const [name, m] of Object.entries(metrics)) {
    const parts = Object.entries(m.sources).map(([s, c]) => `${s} ${c.positives}/${c.negatives}`);
    out.push(
      `- **${name}** (train ${m.items.train}, validation ${m.items.val}, test ${m.items.test}): ${parts.join(', ')}`,
    );
  }
  out.push(
    '',
    '## Metrics',
    '',
    'Thresholds and Platt calibration were fitted on the validation split. Everything below is on data not used for fitting: the test split, and held-out sources (the head refitted, calibrated and thresholded without that source or any text it contains, then scored on all of it; a name also covers its sub-sources, so held-out `advbench` also leaves out `advbench_strings`). "flagged safe" is the share of safe items flagged: the over-refusal rate. Produced by `npm run train` (seed 7); every figure is also in `metrics.json`.',
    '',
  );
  for (const [name, m] of Object.entries(metrics)) {
    out.push(`### ${name}`, '', ...testTable(m), '');
    if (name === 'categories') out.push(CATEGORY_NOTE, '');
    const first = m.test[0]?.label;
    if (first && name !== 'categories') out.push(...bySourceTable(m, first), '');
    out.push('Held-out sources:', '', ...heldOutTable(m), '');
  }
  out.push(
    '## Known weaknesses',
    '',
    CARD_WEAKNESSES,
    '',
    '## What was looked at before these figures',
    '',
    CARD_HONESTY,
    '',
    '## How to retrain',
    '',
    CARD_RETRAIN,
    '',
  );
  return out.join('\n');
}
