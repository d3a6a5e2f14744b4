import { Writable } from 'node:stream';
import type { ExportFilter } from '../../../audit/export.js';
import type { StoredDecision } from '../../../audit/types.js';
import { withExport, type AuditSource } from '../audit-export.js';

/**
 * Walks the decision records that pass `filter`, oldest first, through the audit export itself (the file log
 * or the database, with the export's own filter), so the console lists exactly what an export of the same
 * filter would hold.
 */
export async function scanDecisions(
  source: AuditSource,
  filter: ExportFilter,
  each: (r: StoredDecision) => void,
): Promise<void> {
  let rest = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line) each(JSON.parse(line) as StoredDecision);
      done();
    },
  });
  await withExport(source, (run) => run('jsonl', filter, out));
}

/** One row of the decisions table: what a person scans for, not the whole record. */
export function summaryOf(r: StoredDecision) {
  const rules = [...(r.stages.input?.rules ?? []), ...(r.stages.output?.rules ?? [])];
  return {
    seq: r.seq,
    decision_id: r.decision_id,
    time: r.time,
    tenant: r.tenant,
    api: r.api,
    route: r.route,
    model: r.model,
    action: r.action,
    status: r.status,
    rules: rules.map((m) => m.id),
    categories: [...new Set(rules.map((m) => m.category ?? m.label).filter((c): c is string => !!c))],
    grade: r.rbrm?.grade ?? null,
    shadow_action: r.shadow?.action ?? null,
    error: r.error?.type ?? null,
    latency_ms: r.latency_ms.total,
  };
}

/** The prompt text a record kept (modes `full` and `redacted`), or undefined. */
export const promptText = (r: StoredDecision): string | undefined =>
  typeof r.content?.prompt === 'string' ? r.content.prompt : undefined;

export const outputText = (r: StoredDecision): string | undefined =>
  typeof r.content?.output === 'string' ? r.content.output : undefined;

/** Whether a record's kept content contains `q` (case-insensitive), or its id or rules do. */
export function mentions(r: StoredDecision, q: string): boolean {
  const needle = q.toLowerCase();
  const hay = [r.decision_id, promptText(r), outputText(r), ...summaryOf(r).rules, r.tenant ?? '']
    .filter(Boolean)
    .join('\n')
    .toLowerCase();
  return hay.includes(needle);
}
