import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readDecisionRecords } from '../records.js';
import { ShadowCounter } from '../shadow.js';
import { EXIT, say, sayJson, table, UsageError, type ExitCode, type Io } from './io.js';

export { shadowReport, ShadowCounter, type ShadowReport, type ShadowRuleCount } from '../shadow.js';

export const SHADOW_USAGE = `shadow-report [--dir DIR|FILE] [--examples N] [--json]
          Per rule, where the shadow policy disagreed with the enforced one, with example decision ids. Reads
          the hash-chained segments and/or decisions.jsonl in DIR (default $GATEWAY_AUDIT_DIR, then .data/audit).`;

/** `shadow-report`: exit 0 when the records were read (whatever they say), 2 when they cannot be. */
export async function shadowReportCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { dir: { type: 'string' }, json: { type: 'boolean', default: false }, examples: { type: 'string' } },
  });
  if (values.examples !== undefined && !/^\d+$/.test(values.examples))
    throw new UsageError('--examples expects a whole number');
  const dir = resolve(io.cwd, values.dir ?? io.env.GATEWAY_AUDIT_DIR ?? '.data/audit');
  const counter = new ShadowCounter(values.examples === undefined ? 5 : Number(values.examples));
  const read = await readDecisionRecords(dir, (r) => counter.add(r));
  const report = counter.report();
  if (values.json) {
    sayJson(io, { source: dir, files: read.files, skipped: read.skipped, ...report });
    return EXIT.ok;
  }
  const out = (t = '') => say(io.stdout, t);
  out(
    `${report.records} decisions in ${read.files.length} file${read.files.length === 1 ? '' : 's'} under ${dir}` +
      (read.skipped.length ? ` (${read.skipped.length} lines skipped)` : ''),
  );
  out(`${report.withShadow} with a shadow decision: ${report.agree} agree, ${report.disagree} disagree`);
  for (const p of report.policies) out(`  shadow policy ${p.id} ${p.revision.slice(0, 12)}: ${p.records} decisions`);
  for (const t of report.transitions)
    out(`  enforced ${t.from} → shadow ${t.to}: ${t.count}  e.g. ${t.examples.join(', ')}`);
  if (report.rules.length) {
    out('\nper rule (where the two disagreed):');
    const rows = [['rule', 'disagree', 'shadow-only', 'enforced-only', 'action-changed', 'transitions', 'examples']];
    for (const r of report.rules) {
      const ts = Object.entries(r.transitions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      rows.push([
        r.id,
        String(r.disagreements),
        String(r.shadowOnly),
        String(r.enforcedOnly),
        String(r.actionChanged),
        ts,
        r.examples.join(' '),
      ]);
    }
    for (const line of table(rows)) out(`  ${line}`);
  }
  if (report.shadowModeRules.length) {
    out('\nshadow-mode rules in the enforced policy:');
    for (const r of report.shadowModeRules)
      out(
        `  ${r.id}: matched ${r.matched}, would have changed the action ${r.wouldChange}` +
          (r.examples.length ? `  e.g. ${r.examples.join(', ')}` : ''),
      );
  }
  return EXIT.ok;
}
