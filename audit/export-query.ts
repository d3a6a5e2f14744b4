/**
 * One parser for export filters, shared by the CLI and the gateway's admin HTTP endpoint, so both accept the
 * same filters with the same meaning. `from`/`to` take a seq number or an ISO time.
 */
import { z } from 'zod';
import type { ExportFilter, ExportFormat } from './export.js';
import { REWARD_FORMATS, type RewardExportOptions } from './export-rewards.js';
import type { Action } from './types.js';

const bound = z
  .string()
  .refine((v) => /^\d+$/.test(v) || !Number.isNaN(Date.parse(v)), 'must be a seq number or an ISO time')
  .optional();

export const exportQuerySchema = z.object({
  format: z.enum(['jsonl', 'csv', ...REWARD_FORMATS]).default('jsonl'),
  from: bound,
  to: bound,
  tenant: z.string().min(1).optional(),
  action: z.enum(['allow', 'refuse', 'redact', 'route', 'flag'] as const satisfies readonly Action[]).optional(),
  rule: z.string().min(1).optional(),
  category: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
  decision_id: z.string().min(1).optional(),
  /** dpo/kto: the desired-style refusal paired with rejected answers to unsafe prompts (see export-rewards.ts). */
  refusal: z.string().min(1).optional(),
});

export type ExportQuery = z.input<typeof exportQuerySchema>;

export type ParsedExportQuery =
  | { ok: true; format: ExportFormat; filter: ExportFilter; rewards?: RewardExportOptions }
  | { ok: false; error: string };

/**
 * Validates query parameters (strings) into a format and an `ExportFilter`.
 * @example
 * const q = parseExportQuery(req.query); // { format: 'csv', tenant: 'acme', from: '2026-01-01T00:00:00Z' }
 * if (!q.ok) return res.status(400).json({ error: q.error });
 * const manifest = await exportLog({ dir, format: q.format, filter: q.filter, out: res });
 */
export function parseExportQuery(query: Record<string, unknown>): ParsedExportQuery {
  const parsed = exportQuerySchema.safeParse(query);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
    };
  }
  const q = parsed.data;
  const filter: ExportFilter = {};
  const put = <K extends keyof ExportFilter>(k: K, v: ExportFilter[K] | undefined): void => {
    if (v !== undefined) filter[k] = v;
  };
  const split = (v: string | undefined) =>
    v === undefined ? {} : /^\d+$/.test(v) ? { seq: Number(v) } : { time: new Date(v).toISOString() };
  const from = split(q.from);
  const to = split(q.to);
  put('fromSeq', from.seq);
  put('since', from.time);
  put('toSeq', to.seq);
  put('until', to.time);
  put('tenant', q.tenant);
  put('action', q.action);
  put('rule', q.rule);
  put('category', q.category);
  put('revision', q.revision);
  put('decisionId', q.decision_id);
  if (q.refusal !== undefined && q.format !== 'dpo' && q.format !== 'kto')
    return { ok: false, error: 'refusal: only the dpo and kto formats take a refusal' };
  return { ok: true, format: q.format, filter, ...(q.refusal !== undefined && { rewards: { refusal: q.refusal } }) };
}

/** The command-line options of `audit export` (file log and database alike), for node:util parseArgs. */
export const EXPORT_CLI_OPTIONS = {
  format: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  tenant: { type: 'string' },
  action: { type: 'string' },
  rule: { type: 'string' },
  category: { type: 'string' },
  revision: { type: 'string' },
  'decision-id': { type: 'string' },
  refusal: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;
