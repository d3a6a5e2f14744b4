import { Writable } from 'node:stream';
import pg from 'pg';
import { exportLog } from '../../audit/export.js';
import type { ExportFilter, ExportFormat } from '../../audit/export.js';
import type { RewardExportOptions } from '../../audit/export-rewards.js';
import { parseExportQuery } from '../../audit/export-query.js';
import { exportDatabase } from '../../audit/pg/export.js';
import { GatewayError } from '../pipeline/errors.js';
import { adminKeyChecker } from './admin.js';
import { sendJson, type Exchange, type RouteTable } from './router.js';

function parseQuery(query: Exchange['query']) {
  const q = parseExportQuery(query);
  if (!q.ok) {
    const param = /^([\w.]+):/.exec(q.error)?.[1] ?? null;
    throw new GatewayError('invalid_request', q.error, param);
  }
  return q;
}

/** The reward formats are JSON lines too: `audit-export.dpo.jsonl`. */
const extensionOf = (format: ExportFormat): string =>
  format === 'csv' || format === 'jsonl' ? format : `${format}.jsonl`;

/** Where the decision log is: the file log's directory, or the PostgreSQL database (`sink: postgres`). */
export type AuditSource = { dir: string } | { databaseUrl: string };

type Export = (
  format: ExportFormat,
  filter: ExportFilter,
  out: Writable,
  rewards?: RewardExportOptions,
) => Promise<{ count: number; sha256: string }>;

/**
 * Runs `use` with an export over the source. A database export connects first, so an unreachable database is a
 * 503 before any header goes out, and closes its connection after.
 */
export async function withExport<T>(source: AuditSource, use: (run: Export) => Promise<T>): Promise<T> {
  if ('dir' in source)
    return use((format, filter, out, rewards) => exportLog({ dir: source.dir, format, filter, out, rewards }));
  const client = new pg.Client({ connectionString: source.databaseUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    await client.end().catch(() => undefined);
    // The URL (and its password) stays out of the message.
    throw new GatewayError('audit_unavailable', 'the decision log database is unreachable');
  }
  try {
    return await use((format, filter, out, rewards) => exportDatabase(client, { format, filter, out, rewards }));
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The export's two handlers, without their authentication (the caller checks first): the manifest alone, and
 * the streamed export whose manifest follows as HTTP trailers. The admin routes below and the console's
 * (gateway/http/admin-api) both use them.
 */
export function exportHandlers(source: AuditSource) {
  return {
    async manifest({ res, query }: Pick<Exchange, 'res' | 'query'>): Promise<void> {
      const { format, filter, rewards } = parseQuery(query);
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      sendJson(res, 200, await withExport(source, (run) => run(format, filter, sink, rewards)));
    },
    async stream({ res, query }: Pick<Exchange, 'res' | 'query'>): Promise<void> {
      const { format, filter, rewards } = parseQuery(query);
      await withExport(source, async (run) => {
        res.writeHead(200, {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="audit-export.${extensionOf(format)}"`,
          trailer: 'x-export-count, x-export-sha256',
        });
        // The export ends its output stream; the response stays open for the trailers.
        const out = new Writable({
          write(chunk, _enc, cb) {
            if (res.write(chunk)) cb();
            else res.once('drain', () => cb());
          },
        });
        res.on('close', () => out.destroy());
        const manifest = await run(format, filter, out, rewards);
        res.addTrailers({ 'x-export-count': String(manifest.count), 'x-export-sha256': manifest.sha256 });
        res.end();
      });
    },
  };
}

/**
 * The audit export over HTTP, with the CLI's filters (admin key):
 * - `GET /v1/audit/export?format=jsonl|csv|rbrm|dpo|kto&from=…&to=…&tenant=…&action=…&rule=…&category=…&revision=…&decision_id=…`
 *   (`refusal=…` with dpo/kto, as the CLI's `--refusal`)
 *   (`from`/`to`: a seq number or an ISO time) streams the records; the manifest's count and sha256 follow as
 *   HTTP trailers.
 * - `GET /v1/audit/export/manifest?…` answers the manifest alone (count, seq range, sha256, covering checkpoint).
 * With the PostgreSQL sink, both read the database: every replica's chain, merged by time, as `audit export
 * --database-url` does.
 */
export function auditRoutes(
  routes: RouteTable,
  source: AuditSource,
  auth: { mode: 'keys' | 'off'; keys: string[] },
): void {
  const checkAdminKey = adminKeyChecker(auth);
  const handlers = exportHandlers(source);
  routes.get('/v1/audit/export/manifest', async (x) => {
    checkAdminKey(x.req.headers);
    await handlers.manifest(x);
  });
  routes.get('/v1/audit/export', async (x) => {
    checkAdminKey(x.req.headers);
    await handlers.stream(x);
  });
}
