/**
 * The levels table `npm run calibrate` and `npm run eval -- --levels` print: per level (column), the benign
 * refusal rates, then recall per hazard category and per source, then the refusal rate of each safe source.
 */
import type { AnswerFigures, LevelFigures } from '../../classifiers/heads/levels.js';

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

/**
 * @example
 * process.stdout.write(levelsTable('validation split', { balanced: figures }));
 */
export function levelsTable(title: string, columns: Record<string, LevelFigures>, counts?: Record<string, string>) {
  const names = Object.keys(columns);
  const figs = Object.values(columns);
  const lines = [`${title}`, '', `| | ${names.join(' | ')} |`, `|---|${names.map(() => '--:').join('|')}|`];
  const row = (label: string, get: (f: LevelFigures) => number | null | undefined) =>
    lines.push(`| ${label} | ${figs.map((f) => pct(get(f))).join(' | ')} |`);
  const keys = (get: (f: LevelFigures) => Record<string, number>) => [
    ...new Set(figs.flatMap((f) => Object.keys(get(f)))),
  ];
  const n = (k: string) => (counts?.[k] ? ` (${counts[k]})` : '');
  row('**benign refusal** (objective)', (f) => f.benignRefusal);
  row('everyday benign refused', (f) => f.everydayRefusal);
  row('look-alikes refused', (f) => f.lookalikeRefusal);
  row('**recall** (all unsafe)', (f) => f.recall);
  const cats = keys((f) => f.recallByCategory).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  for (const c of cats) row(`recall ${c}${n(c)}`, (f) => f.recallByCategory[c]);
  for (const s of keys((f) => f.recallBySource).sort())
    row(`recall ${s}${n(`unsafe:${s}`)}`, (f) => f.recallBySource[s]);
  for (const s of keys((f) => f.refusedSafeBySource).sort())
    row(`safe refused ${s}${n(`safe:${s}`)}`, (f) => f.refusedSafeBySource[s]);
  return lines.join('\n') + '\n';
}

/** Item counts for the table's row labels: `S1` → "n=…", `unsafe:source`, `safe:source`. */
export function countsOf(items: readonly { label: string; source: string; categories: string[] }[]) {
  const out: Record<string, number> = {};
  for (const it of items) {
    out[`${it.label}:${it.source}`] = (out[`${it.label}:${it.source}`] ?? 0) + 1;
    if (it.label === 'unsafe') for (const c of it.categories) out[c] = (out[c] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, `n=${v}`]));
}

/**
 * The output stage's rows: per level, the share of safe compliant answers blocked (the objective; per gold grade) and of
 * disallowed answers blocked.
 * @example
 * process.stdout.write(answersTable('validation answers', { balanced: levels.balanced.answers }));
 */
export function answersTable(title: string, columns: Record<string, AnswerFigures>, thresholds = true) {
  const names = Object.keys(columns);
  const figs = Object.values(columns);
  const lines = [`${title}`, '', `| | ${names.join(' | ')} |`, `|---|${names.map(() => '--:').join('|')}|`];
  const row = (label: string, get: (f: AnswerFigures) => number | null | undefined) =>
    lines.push(`| ${label} | ${figs.map((f) => pct(get(f))).join(' | ')} |`);
  const keys = (get: (f: AnswerFigures) => Record<string, number>) => [
    ...new Set(figs.flatMap((f) => Object.keys(get(f)))),
  ];
  if (thresholds) row('target: safe compliant answers blocked at most', (f) => f.target);
  row('**safe compliant answers blocked** (objective)', (f) => f.safeBlocked);
  const n = (k: string) => {
    const c = figs.find((f) => f.counts[k] !== undefined)?.counts[k];
    return c === undefined ? '' : ` (n=${c})`;
  };
  for (const g of keys((f) => f.safeBlockedByGroup).sort())
    row(`safe compliant blocked, ${g}${n(`safe:${g}`)}`, (f) => f.safeBlockedByGroup[g]);
  row('**disallowed answers blocked**', (f) => f.recall);
  for (const g of keys((f) => f.recallByGroup).sort())
    row(`disallowed blocked, ${g}${n(`unsafe:${g}`)}`, (f) => f.recallByGroup[g]);
  return lines.join('\n') + '\n';
}
