import { basename } from 'node:path';
import { GRADES } from './data.js';
import type { EvalReport } from './harness.js';
import type { GroupReport, TimedReport } from './report.js';

const num = (v: number | null | undefined, digits = 3) => (v === null || v === undefined ? '—' : v.toFixed(digits));
const HEAD = [
  '',
  'n',
  'unsafe',
  'P',
  'R',
  'F1',
  'safe flagged',
  'refuse P',
  'refuse R',
  'safe refused',
  'AUPRC',
  'ROC-AUC',
  'p50 ms',
  'p99 ms',
  'rec/s',
];

function row(name: string, g: GroupReport | TimedReport): string[] {
  return [
    name,
    String(g.n),
    String(g.positives),
    num(g.flagged.precision),
    num(g.flagged.recall),
    num(g.flagged.f1),
    num(g.flagged.flaggedSafe),
    num(g.refused.precision),
    num(g.refused.recall),
    num(g.refused.flaggedSafe),
    num(g.score.auprc),
    num(g.score.rocAuc),
    num(g.latencyMs.p50, 2),
    num(g.latencyMs.p99, 2),
    'throughput' in g ? num(g.throughput, 0) : '',
  ];
}

/** A Markdown table (it also reads well in a terminal). */
export function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

const name = (file: string) => basename(file).replace(/\.jsonl$/, '');

/**
 * The report as text: one table per file and overall, one per source, and the rubric matrix.
 *
 * @example
 * process.stdout.write(formatReport(await runEval({ data: ['advbench.jsonl'] })));
 */
export function formatReport(r: EvalReport): string {
  const out: string[] = [];
  out.push(`policy ${r.policy.id} @ ${r.policy.revision.slice(0, 12)} (${r.policy.source})`);
  out.push(
    `classifiers: ${Object.entries(r.policy.classifiers)
      .map(([id, v]) => `${id} ${v}`)
      .join(', ')}`,
  );
  out.push(`${r.decision}`);
  out.push(
    `main score: input ${r.score.input.join(', ') || '(none)'}; output ${r.score.output.join(', ') || '(none)'}`,
  );
  out.push('');
  out.push(
    markdownTable(
      HEAD.map((h, i) => (i === 0 ? 'file' : h)),
      [...r.files.map((f) => row(name(f.file), f)), row('overall', r.overall)],
    ),
  );
  out.push('');
  out.push(
    markdownTable(
      HEAD.slice(0, -1).map((h, i) => (i === 0 ? 'source' : h)),
      Object.entries(r.sources).map(([s, g]) => row(s, g).slice(0, -1)),
    ),
  );
  const overFlagging = r.files.flatMap((f) => {
    const safe = Object.entries(f.rules).filter(([, c]) => c.safe > 0);
    return safe.length ? [`  ${name(f.file)}: ${safe.map(([id, c]) => `${id} ${c.safe}`).join(', ')}`] : [];
  });
  if (overFlagging.length) out.push('', 'rules that matched safe records:', ...overFlagging);
  const errors = r.overall.errors;
  if (errors) out.push('', `${errors} record(s) had a classifier failure (the policy's onError applied).`);
  if (r.bad.length)
    out.push('', `${r.bad.length} bad line(s) skipped, first: ${r.bad[0].file}:${r.bad[0].line}: ${r.bad[0].message}`);
  if (r.rubric) {
    out.push('');
    if ('skipped' in r.rubric) out.push(`rubric: ${r.rubric.skipped}`);
    else {
      const k = r.rubric;
      out.push(`rubric (${k.classifier}): ${k.n} graded, ${k.errors} failed; accuracy ${num(k.accuracy)}`);
      const rows = GRADES.map((g) => [
        g,
        ...GRADES.map((p) => String(k.matrix[g][p])),
        String(k.perGrade[g].n),
        num(k.perGrade[g].accuracy),
      ]);
      out.push(markdownTable(['gold \\ predicted', ...GRADES, 'n', 'accuracy'], rows));
      out.push(
        `over-refusal (safe prompts graded B): gold ${num(k.overRefusal.gold)}, predicted ` +
          `${num(k.overRefusal.predicted)} over ${k.overRefusal.safePrompts} safe-prompt records`,
      );
    }
  }
  return out.join('\n') + '\n';
}
