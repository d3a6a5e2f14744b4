import express, { type ErrorRequestHandler } from 'express';
import type winston from 'winston';
import { GatewayError, toGatewayError } from '../pipeline/errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayPolicies } from '../policies.js';
import { adminRoutes } from './admin.js';
import { auditRoutes } from './audit-export.js';
import { apiKeyAuth, type ClientKey } from './auth.js';
import { jsonBody } from './body.js';
import { admission } from './limits.js';
import { errorBody } from './error-body.js';
import type { Metrics } from './metrics.js';
import { apiRoutes } from './routes.js';

export interface AppOptions {
  pipeline: Pipeline;
  metrics: Metrics;
  logger: winston.Logger;
  auth: { mode: 'keys' | 'off'; keys: ClientKey[] };
  /** Keys for the admin routes (/v1/policies). */
  adminKeys?: string[];
  /** The chain log's directory, for the admin export route (unset: no export over HTTP). */
  auditDir?: string;
  /** The policy lifecycle, for the admin routes. */
  policies?: GatewayPolicies;
  bodyLimitBytes: number;
  limits: { maxConcurrent: number; perKey?: { rps: number; burst: number } };
  /** Readiness: null when ready, else what is still missing. */
  readiness: () => { ready: boolean; details: Record<string, unknown> };
}

/**
 * The Express edge: parse, authenticate, hand plain data to the pipeline, write JSON or SSE. Nothing else.
 *
 * @example
 * const app = createApp({ pipeline, metrics, logger, auth: { mode: 'off', keys: [] }, bodyLimitBytes: 1 << 20, readiness });
 * app.listen(8080);
 */
export function createApp(o: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const logRequests = o.logger.isLevelEnabled('http');
  app.use(function timing(req, res, next) {
    const started = performance.now();
    res.locals.started = started;
    if (logRequests) {
      res.on('finish', () =>
        o.logger.http('request', {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          decision: res.getHeader('x-gateway-decision'),
          decision_id: res.locals.decisionId,
          ms: Math.round((performance.now() - started) * 1000) / 1000,
        }),
      );
    }
    next();
  });

  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => {
    const r = o.readiness();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not ready', ...r.details });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('content-type', o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });

  if (o.policies) app.use(adminRoutes(o.policies, { mode: o.auth.mode, keys: o.adminKeys ?? [] }, o.auditDir));
  if (o.auditDir) app.use(auditRoutes(o.auditDir, { mode: o.auth.mode, keys: o.adminKeys ?? [] }));
  app.use('/v1', apiKeyAuth(o.auth), admission({ ...o.limits, onReject: (r) => o.metrics.rejected.inc({ reason: r }) }), jsonBody({ limit: o.bodyLimitBytes }));
  app.use(apiRoutes(o.pipeline));

  app.use(function notFound(req, _res, next) {
    next(new GatewayError('not_found', `no route for ${req.method} ${req.path}`));
  });

  const onError: ErrorRequestHandler = function onError(err, req, res, _next) {
    const e = toGatewayError(err);
    o.metrics.errors.inc({ route: req.route?.path ?? 'none', code: e.code });
    if (e.status >= 500 && e.code !== 'upstream_not_configured') {
      o.logger.error('request failed', { path: req.path, code: e.code, error: String(e.cause ?? e.message), decision_id: res.locals.decisionId });
    }
    if (res.headersSent) return void res.end();
    if (res.locals.decisionId) res.set('x-gateway-decision-id', res.locals.decisionId);
    res.status(e.status).json(errorBody(e));
  };
  app.use(onError);
  return app;
}
