import { Writable } from 'node:stream';
import { exportLog } from '../../audit/export.js';
import { parseExportQuery } from '../../audit/export-query.js';
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

/**
 * The audit export over HTTP, with the CLI's filters (admin key):
 * - `GET /v1/audit/export?format=jsonl|csv|rbrm&from=…&to=…&tenant=…&action=…&rule=…&category=…&revision=…&decision_id=…`
 *   (`from`/`to`: a seq number or an ISO time) streams the records; the manifest's count and sha256 follow as
 *   HTTP trailers.
 * - `GET /v1/audit/export/manifest?…` answers the manifest alone (count, seq range, sha256, covering checkpoint).
 */
export function auditRoutes(routes: RouteTable, dir: string, auth: { mode: 'keys' | 'off'; keys: string[] }): void {
  const checkAdminKey = adminKeyChecker(auth);
  routes.get('/v1/audit/export/manifest', async ({ req, res, query }) => {
    checkAdminKey(req.headers);
    const { format, filter } = parseQuery(query);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    sendJson(res, 200, await exportLog({ dir, format, filter, out: sink }));
  });
  routes.get('/v1/audit/export', async ({ req, res, query }) => {
    checkAdminKey(req.headers);
    const { format, filter } = parseQuery(query);
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="audit-export.${format}"`,
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
    const manifest = await exportLog({ dir, format, filter, out });
    res.addTrailers({ 'x-export-count': String(manifest.count), 'x-export-sha256': manifest.sha256 });
    res.end();
  });
}
