import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import type winston from 'winston';
import { GatewayError, toGatewayError } from '../pipeline/errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayPolicies } from '../policies.js';
import { adminRoutes } from './admin.js';
import { auditRoutes } from './audit-export.js';
import { apiKeyAuth, keyChecker, type ClientKey } from './auth.js';
import { jsonBody, readJsonBody } from './body.js';
import { admission, admissionControl } from './limits.js';
import { errorBody } from './error-body.js';
import type { Metrics } from './metrics.js';
import { apiRoutes, decisionIds, hotRoutes, type HotRoute } from './routes.js';

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
  /** Readiness for /readyz: whether every classifier has loaded, and details (policy, classifiers, upstream). */
  readiness: () => { ready: boolean; details: Record<string, unknown> };
}

/**
 * The HTTP edge: parse, authenticate, hand plain data to the pipeline, write JSON or SSE. Nothing else.
 *
 * The two hot routes (POST /v1/chat/completions and POST /v1/moderations) are dispatched on node:http directly:
 * key check, admission, JSON body, route, error response — the same functions the Express middleware wraps, so
 * both paths behave alike. Everything else (health, metrics, admin, audit export, /v1/models, 404s) goes
 * through Express.
 *
 * @example
 * const handler = createApp({ pipeline, metrics, logger, auth: { mode: 'off', keys: [] }, bodyLimitBytes: 1 << 20, limits, readiness });
 * http.createServer(handler).listen(8080);
 */
export function createApp(o: AppOptions): RequestListener {
  const authenticate = keyChecker(o.auth);
  const admit = admissionControl({ ...o.limits, onReject: (r) => o.metrics.rejected.inc({ reason: r }) });
  const logRequests = o.logger.isLevelEnabled('http');
  const logWhenDone = (req: IncomingMessage, res: ServerResponse, started: number) =>
    res.on('finish', () =>
      o.logger.http('request', {
        method: req.method,
        path: pathOf(req.url),
        status: res.statusCode,
        decision: res.getHeader('x-gateway-decision'),
        decision_id: decisionIds.get(res),
        ms: Math.round((performance.now() - started) * 1000) / 1000,
      }),
    );

  /** Sends a failure as OpenAI's error body; `route` labels the error metric ('none' before a route matched). */
  const sendError = (err: unknown, req: IncomingMessage, res: ServerResponse, route: string) => {
    const e = toGatewayError(err);
    o.metrics.errors.inc({ route, code: e.code });
    const decisionId = decisionIds.get(res);
    if (e.status >= 500 && e.code !== 'upstream_not_configured') {
      o.logger.error('request failed', {
        path: pathOf(req.url),
        code: e.code,
        error: String(e.cause ?? e.message),
        decision_id: decisionId,
      });
    }
    if (res.headersSent) return void res.end();
    const text = JSON.stringify(errorBody(e));
    res.statusCode = e.status;
    if (decisionId) res.setHeader('x-gateway-decision-id', decisionId);
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(text));
    res.end(text);
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(function timing(req, res, next) {
    res.locals.started = performance.now();
    if (logRequests) logWhenDone(req, res, res.locals.started);
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
  app.use('/v1', apiKeyAuth(authenticate), admission(admit), jsonBody({ limit: o.bodyLimitBytes }));
  app.use(apiRoutes(o.pipeline));
  app.use(function notFound(req, _res, next) {
    next(new GatewayError('not_found', `no route for ${req.method} ${req.path}`));
  });
  const onError: ErrorRequestHandler = (err, req, res, _next) => sendError(err, req, res, req.route?.path ?? 'none');
  app.use(onError);

  const hot = hotRoutes(o.pipeline);
  const serveHot = async (
    route: string,
    handler: HotRoute,
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
  ) => {
    let matched = 'none';
    try {
      const caller = authenticate(req.headers);
      admit(caller.keyId ?? req.socket.remoteAddress ?? 'unknown', res);
      const body = await readJsonBody(req, o.bodyLimitBytes);
      matched = route;
      await handler(body, req, res, caller, started);
    } catch (e) {
      sendError(e, req, res, matched);
    }
  };

  return function edge(req, res) {
    const started = performance.now();
    if (req.method === 'POST') {
      const route = pathOf(req.url).toLowerCase().replace(/\/$/, '');
      const handler = hot.get(route);
      if (handler) {
        if (logRequests) logWhenDone(req, res, started);
        return void serveHot(route, handler, req, res, started);
      }
    }
    app(req, res);
  };
}

/** The path of a request URL, without the query string. */
const pathOf = (url = '/') => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};
