import { join } from 'node:path';
import pg from 'pg';
import { parseExportQuery } from '../../../audit/export-query.js';
import { loadPublicKey, publicKeyPathFor } from '../../../audit/keys.js';
import { verifyDatabase } from '../../../audit/pg/verify.js';
import type { StoredDecision } from '../../../audit/types.js';
import { verifyLog } from '../../../audit/verify.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { AuditSource } from '../audit-export.js';
import { sendJson, type Exchange } from '../router.js';
import { mentions, scanDecisions, summaryOf } from './records.js';

/** The export filters (`from`, `to`, `tenant`, `action`, `rule`, `category`, `revision`, `decision_id`), or a 400. */
export function filterOf(query: Exchange['query']) {
  const { q: _q, page: _p, limit: _l, kind: _k, ...rest } = query;
  const parsed = parseExportQuery(rest);
  if (!parsed.ok) {
    const param = /^([\w.]+):/.exec(parsed.error)?.[1] ?? null;
    throw new GatewayError('invalid_request', parsed.error, param);
  }
  return parsed.filter;
}

/** A whole-number query parameter in [min, max], or its default; anything else is a 400 naming it. */
export function intParam(query: Exchange['query'], name: string, dflt: number, min: number, max: number): number {
  const v = query[name];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new GatewayError('invalid_request', `${name}: expected a whole number from ${min} to ${max}`, name);
  return Number(v);
}

/**
 * GET /console/api/decisions: the records passing the export filters (and `q`, a text the id, rules, tenant or
 * kept content must contain), newest first, a page at a time.
 */
export async function listDecisions(source: AuditSource, { res, query }: Exchange): Promise<void> {
  const filter = filterOf(query);
  const limit = intParam(query, 'limit', 50, 1, 500);
  const page = intParam(query, 'page', 1, 1, 1_000_000);
  const q = typeof query.q === 'string' && query.q ? query.q : undefined;
  const rows: ReturnType<typeof summaryOf>[] = [];
  await scanDecisions(source, filter, (r) => {
    if (!q || mentions(r, q)) rows.push(summaryOf(r));
  });
  rows.reverse();
  sendJson(res, 200, {
    total: rows.length,
    page,
    limit,
    pages: Math.max(1, Math.ceil(rows.length / limit)),
    data: rows.slice((page - 1) * limit, page * limit),
  });
}

/** One decision record, whole, by `id`; 404 when the log holds none. */
export async function findDecision(source: AuditSource, id: unknown): Promise<StoredDecision> {
  if (typeof id !== 'string' || !id) throw new GatewayError('invalid_request', 'id: expected a decision id', 'id');
  let found: StoredDecision | undefined;
  await scanDecisions(source, { decisionId: id }, (r) => (found = r));
  if (!found) throw new GatewayError('not_found', `no decision ${id} in the log`, 'id');
  return found;
}

/**
 * POST /console/api/verify: `audit verify` over the log — the file log with the public key beside its signing
 * key (or `publicKeyFile`), or every chain of the database with the keys it registered.
 */
export async function verify(
  o: { source: AuditSource; keyFile?: string; publicKeyFile?: string },
  { res }: Exchange,
): Promise<void> {
  const started = performance.now();
  if ('dir' in o.source) {
    const file = o.publicKeyFile ?? publicKeyPathFor(o.keyFile ?? join(o.source.dir, 'checkpoint-key.pem'));
    let key;
    try {
      key = await loadPublicKey(file);
    } catch {
      throw new GatewayError('not_ready', 'no public key to verify with yet (no checkpoint has been signed)');
    }
    const report = await verifyLog({ dir: o.source.dir, publicKeys: [key] });
    sendJson(res, 200, { ...report, ms: Math.round(performance.now() - started) });
    return;
  }
  const client = new pg.Client({ connectionString: o.source.databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const report = await verifyDatabase(client);
    sendJson(res, 200, { ...report, ms: Math.round(performance.now() - started) });
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    throw new GatewayError('audit_unavailable', 'the decision log database is unreachable');
  } finally {
    await client.end().catch(() => undefined);
  }
}
