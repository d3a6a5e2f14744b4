/**
 * The columns of an `audit_records` row, derived from the stored record: copies of the fields the export filters
 * use, so that PostgreSQL can find records by index. `line` (the canonical JSON that was hashed) stays the
 * truth; verify checks every column against it, so an UPDATE of a column alone is caught as well.
 */
import type { RuleMatch, StoredRecord } from '../types.js';

export interface RecordRow {
  chain: string;
  seq: number;
  hash: string;
  prev_hash: string;
  kind: string;
  time: string;
  decision_id: string | null;
  tenant: string | null;
  action: string | null;
  policy_revision: string | null;
  rules: string[];
  categories: string[];
  line: string;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function ruleMatches(stage: unknown, key: 'rules' | 'shadow_rules'): RuleMatch[] {
  const list = (stage as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(list) ? (list.filter((m) => typeof m === 'object' && m !== null) as RuleMatch[]) : [];
}

/**
 * The row for a stored record (as parsed from `line`, or as built before it was serialised).
 * `rules` holds every matched rule id, enforced or shadow (the `--rule` filter); `categories` the enforced
 * rules' categories and labels (the `--category` filter).
 * @example rowOf(JSON.parse(line), line)
 */
export function rowOf(rec: StoredRecord, line: string): RecordRow {
  const r = rec as unknown as Record<string, unknown>;
  const stages = (r.stages ?? {}) as Record<string, unknown>;
  const enforced = [...ruleMatches(stages.input, 'rules'), ...ruleMatches(stages.output, 'rules')];
  const shadow = [...ruleMatches(stages.input, 'shadow_rules'), ...ruleMatches(stages.output, 'shadow_rules')];
  const policy = r.policy as Record<string, unknown> | undefined;
  const uniq = (xs: unknown[]): string[] => [...new Set(xs.filter((x): x is string => typeof x === 'string'))];
  return {
    chain: str(r.chain) ?? '',
    seq: rec.seq,
    hash: rec.hash,
    prev_hash: rec.prev_hash,
    kind: str(r.kind) ?? '',
    time: str(r.time) ?? new Date(0).toISOString(),
    decision_id: str(r.decision_id),
    tenant: str(r.tenant),
    action: str(r.action),
    policy_revision: str(policy?.revision),
    rules: uniq([...enforced, ...shadow].map((m) => m.id)),
    categories: uniq(enforced.flatMap((m) => [m.category, m.label])),
    line,
  };
}

/** The columns of `audit_records` in insert order (json_to_recordset's column list). */
export const ROW_COLUMNS =
  'chain text, seq bigint, hash text, prev_hash text, kind text, time timestamptz, decision_id text, tenant text, ' +
  'action text, policy_revision text, rules text[], categories text[], line text';

/** One multi-row INSERT of a whole batch, its rows passed as one JSON parameter. */
export const INSERT_ROWS = `INSERT INTO audit_records
  SELECT * FROM json_to_recordset($1::json) AS r(${ROW_COLUMNS})`;

/**
 * Where a row's columns disagree with its line, one phrase per column; empty when they agree.
 * @example columnMismatches(row, rowOf(JSON.parse(row.line), row.line)) // ['action is "allow", the record says "refuse"']
 */
export function columnMismatches(stored: RecordRow, derived: RecordRow): string[] {
  const out: string[] = [];
  for (const k of Object.keys(derived) as Array<keyof RecordRow>) {
    if (k === 'line') continue;
    const a = stored[k];
    const b = derived[k];
    const same =
      k === 'time'
        ? Date.parse(String(a)) === Date.parse(String(b))
        : Array.isArray(b)
          ? JSON.stringify([...((a as string[] | null) ?? [])].sort()) === JSON.stringify([...b].sort())
          : String(a) === String(b);
    if (!same) out.push(`${k} is ${JSON.stringify(a)}, the record says ${JSON.stringify(b)}`);
  }
  return out;
}
