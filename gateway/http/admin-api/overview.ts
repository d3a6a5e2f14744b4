import { readCheckpoints } from '../../../audit/checkpoints.js';
import type { StoredDecision } from '../../../audit/types.js';
import { ACTIONS } from '../../../audit/types.js';
import { policyStatus, type GatewayPolicies } from '../../policies.js';
import type { PolicySync } from '../../shared/policy-sync.js';
import type { AuditSource } from '../audit-export.js';
import type { Metrics } from '../metrics.js';
import { sendJson, type Exchange } from '../router.js';
import { intParam } from './decisions.js';
import { scanDecisions } from './records.js';

/** The p50, p95 and p99 of a list of milliseconds (nearest rank), with the count. */
export function percentiles(values: number[]): { n: number; p50: number; p95: number; p99: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? 0;
  return { n: s.length, p50: at(50), p95: at(95), p99: at(99) };
}

/** Every decision of the last `minutes`, in one-minute buckets: what the Overview page draws. */
export function aggregate(records: StoredDecision[], since: number, minutes: number) {
  const buckets = Array.from({ length: minutes }, (_, i) => since + i * 60_000);
  const byAction = Object.fromEntries(ACTIONS.map((a) => [a, buckets.map(() => 0)])) as Record<string, number[]>;
  const errors = buckets.map(() => 0);
  const categories = new Map<string, { refused: number; matched: number }>();
  const classifierMs = new Map<string, number[]>();
  const stageMs: Record<string, number[]> = { input: [], generator: [], output: [], total: [] };
  const grades: Record<string, number> = {};
  for (const r of records) {
    const i = Math.floor((Date.parse(r.time) - since) / 60_000);
    if (i < 0 || i >= minutes) continue;
    const counts = (byAction[r.action] ??= buckets.map(() => 0));
    counts[i] = (counts[i] ?? 0) + 1;
    if (r.error) errors[i] = (errors[i] ?? 0) + 1;
    for (const stage of [r.stages.input, r.stages.output]) {
      for (const m of stage?.rules ?? []) {
        const c = m.category ?? m.label ?? m.id;
        const entry = categories.get(c) ?? { refused: 0, matched: 0 };
        entry.matched++;
        if (m.action === 'refuse' && r.action === 'refuse') entry.refused++;
        categories.set(c, entry);
      }
      for (const c of stage?.classifiers ?? []) {
        const list = classifierMs.get(c.id) ?? [];
        list.push(c.latency_ms);
        classifierMs.set(c.id, list);
      }
    }
    for (const k of ['input', 'generator', 'output', 'total'] as const) {
      const v = r.latency_ms[k];
      if (typeof v === 'number') stageMs[k]?.push(v);
    }
    if (r.rbrm) grades[r.rbrm.grade] = (grades[r.rbrm.grade] ?? 0) + 1;
  }
  const total = records.length;
  return {
    minutes: buckets.map((t) => new Date(t).toISOString()),
    actions: byAction,
    errors,
    total,
    refusal_rate_by_category: [...categories]
      .map(([category, c]) => ({
        category,
        refused: c.refused,
        matched: c.matched,
        rate: total ? c.refused / total : 0,
      }))
      .sort((a, b) => b.refused - a.refused || b.matched - a.matched),
    classifier_latency_ms: [...classifierMs].map(([id, v]) => ({ id, ...percentiles(v) })),
    stage_latency_ms: Object.entries(stageMs).map(([id, v]) => ({ id, ...percentiles(v) })),
    grades,
  };
}

/** The chain's head and its checkpoints (file log only: the database's chains are in `audit verify`). */
async function chainStatus(source: AuditSource, last: StoredDecision | undefined) {
  if (!('dir' in source)) return { sink: 'postgres' };
  const { checkpoints } = await readCheckpoints(source.dir);
  const cp = checkpoints.at(-1);
  return {
    sink: 'chain',
    last_seq: last?.seq ?? null,
    head_hash: last?.hash ?? null,
    checkpoints: checkpoints.length,
    last_checkpoint: cp ? { last_seq: cp.last_seq, time: cp.time } : null,
    unsigned_records: last ? last.seq - (cp?.last_seq ?? 0) : 0,
  };
}

/** GET /console/api/overview?minutes=60: the Overview page's data, read from the decision log and the metrics. */
export async function overview(
  o: { source?: AuditSource; policies: GatewayPolicies; metrics: Metrics; policySync?: PolicySync },
  { res, query }: Exchange,
): Promise<void> {
  const minutes = intParam(query, 'minutes', 60, 1, 24 * 60);
  const since = Math.floor(Date.now() / 60_000) * 60_000 - (minutes - 1) * 60_000;
  const records: StoredDecision[] = [];
  let last: StoredDecision | undefined;
  if (o.source)
    await scanDecisions(o.source, { since: new Date(since).toISOString() }, (r) => {
      records.push(r);
      last = r;
    });
  const errorMetric = await o.metrics.errors.get();
  const revisions = o.policySync ? await o.policySync.published.history().catch(() => undefined) : undefined;
  sendJson(res, 200, {
    generated_at: new Date().toISOString(),
    ...aggregate(records, since, minutes),
    error_responses: errorMetric.values.map((v) => ({ ...v.labels, count: v.value })),
    policy: policyStatus(o.policies),
    published: revisions ?? null,
    chain: o.source ? await chainStatus(o.source, last) : null,
  });
}
