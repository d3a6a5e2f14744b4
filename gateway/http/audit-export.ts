import { Writable } from 'node:stream';
import { Router, type Request } from 'express';
import { z } from 'zod';
import { exportLog, type ExportFilter } from '../../audit/export.js';
import { GatewayError } from '../pipeline/errors.js';
import { adminAuth } from './admin.js';
import { paramOf } from './schemas.js';

const QuerySchema = z.strictObject({
  format: z.enum(['jsonl', 'csv']).default('jsonl'),
  from_seq: z.coerce.number().int().positive().optional(),
  to_seq: z.coerce.number().int().positive().optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  tenant: z.string().min(1).optional(),
  action: z.enum(['allow', 'refuse', 'redact', 'route', 'flag']).optional(),
  rule: z.string().min(1).optional(),
  category: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
  decision_id: z.string().min(1).optional(),
});

function parseQuery(req: Request) {
  const parsed = QuerySchema.safeParse(req.query);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GatewayError('invalid_request', `${paramOf(issue.path) ?? 'query'}: ${issue.message}`, paramOf(issue.path));
  }
  const q = parsed.data;
  const filter: ExportFilter = {
    fromSeq: q.from_seq, toSeq: q.to_seq, since: q.since, until: q.until, tenant: q.tenant,
    action: q.action, rule: q.rule, category: q.category, revision: q.revision, decisionId: q.decision_id,
  };
  return { format: q.format, filter: Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)) as ExportFilter };
}

/**
 * The audit export over HTTP, with the CLI's filters (admin key):
 * - `GET /v1/audit/export?format=jsonl|csv&since=…&tenant=…&action=…&rule=…&category=…&revision=…&decision_id=…`
 *   streams the records; the manifest's count and sha256 follow as HTTP trailers.
 * - `GET /v1/audit/export/manifest?…` answers the manifest alone (count, seq range, sha256, covering checkpoint).
 */
export function auditRoutes(dir: string, auth: { mode: 'keys' | 'off'; keys: string[] }): Router {
  const router = Router();
  router.use('/v1/audit', adminAuth(auth));
  router.get('/v1/audit/export/manifest', async (req, res) => {
    const { format, filter } = parseQuery(req);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    res.json(await exportLog({ dir, format, filter, out: sink }));
  });
  router.get('/v1/audit/export', async (req, res) => {
    const { format, filter } = parseQuery(req);
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
  return router;
}
