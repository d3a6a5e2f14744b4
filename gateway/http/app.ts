import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type winston from 'winston';
import { GatewayError, toGatewayError } from '../pipeline/errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { GatewayPolicies } from '../policies.js';
import { adminKeyChecker, adminRoutes } from './admin.js';
import { auditRoutes } from './audit-export.js';
import { keyChecker, type ClientKey } from './auth.js';
import { readJsonBody } from './body.js';
import { admissionControl } from './limits.js';
import { minuteAdmission } from './minute-limits.js';
import { LocalWindows, type WindowStore } from '../shared/minute-window.js';
import type { PerMinuteLimits } from '../shared/config.js';
import type { PolicySync } from '../shared/policy-sync.js';
import { publishRoutes } from './admin-publish.js';
import { consoleRoutes, type ConsoleOptions } from './admin-api/index.js';
import { errorBody } from './error-body.js';
import type { Metrics } from './metrics.js';
import { apiRoutes, decisionIds, type ApiRoute } from './routes.js';
import { responsesRoute, type ResponsesRouteOptions } from '../wire/responses/route.js';
import { queryOf, routePath, RouteTable, sendJson, type Exchange } from './router.js';
import { anthropicErrorBody } from '../wire/messages/errors.js';
import { messagesRoute } from '../wire/messages/route.js';

/** Routes whose errors take their API's own shape rather than OpenAI's. */
const ERROR_SHAPES: Record<string, (e: GatewayError, decisionId?: string) => object> = {
  '/v1/messages': anthropicErrorBody,
};

export interface AppOptions {
  pipeline: Pipeline;
  metrics: Metrics;
  logger: winston.Logger;
  auth: { mode: 'keys' | 'off'; keys: ClientKey[] };
  /** Keys for the admin routes (/v1/policies). */
  adminKeys?: string[];
  /** The chain log's directory, for the admin export route (unset: no export over HTTP). */
  auditDir?: string;
  /** The decision log database (`sink: postgres`), for the admin export route. */
  auditDatabaseUrl?: string;
  /** The policy lifecycle, for the admin routes. */
  policies?: GatewayPolicies;
  bodyLimitBytes: number;
  /** The longest wait for a request body once its headers are in (408 past it); default: no limit. */
  bodyTimeoutMs?: number;
  limits: { maxConcurrent: number; perKey?: { rps: number; burst: number }; perMinute?: PerMinuteLimits };
  /** POST /v1/messages: whether it goes to an Anthropic-compatible upstream natively (default: translated to chat). */
  messages?: { native: boolean };
  /** POST /v1/responses: its upstream format and conversation store (gateway/wire/responses). */
  responses: ResponsesRouteOptions;
  /** Where the per-minute windows live: Redis for every replica, or (default) this process. */
  windows?: WindowStore;
  /** Policies published in Redis: adds POST /v1/policies, POST /v1/policies/rollback, GET /v1/policies/revisions. */
  policySync?: PolicySync;
  /** The browser console at /console (gateway/http/admin-api): where its labels go, the signing key, the shadow file. */
  console?: Pick<ConsoleOptions, 'keyFile' | 'shadowPath' | 'labelsFile' | 'assetsDir'>;
  /** Readiness for /readyz: whether every classifier has loaded, and details (policy, classifiers, upstream). */
  readiness: () => { ready: boolean; details: Record<string, unknown> };
}

/**
 * The HTTP edge: parse, authenticate, hand plain data to the pipeline, write JSON or SSE. Nothing else.
 *
 * Every route is one entry of a RouteTable on plain node:http. The API routes (/v1/chat/completions,
 * /v1/responses, /v1/moderations, /v1/models) run the client key check, admission control and the JSON body
 * reader first; the admin routes check an admin key; an unknown /v1 path is authenticated before it is answered
 * 404, so it tells an unauthenticated caller nothing.
 *
 * @example
 * const handler = createApp({ pipeline, metrics, logger, auth: { mode: 'off', keys: [] }, bodyLimitBytes: 1 << 20, limits, readiness });
 * http.createServer(handler).listen(8080);
 */
export function createApp(o: AppOptions): RequestListener {
  const authenticate = keyChecker(o.auth);
  const admit = admissionControl({ ...o.limits, onReject: (r) => o.metrics.rejected.inc({ reason: r }) });
  const { perMinute } = o.limits;
  const admitPerMinute =
    perMinute &&
    minuteAdmission({
      limits: perMinute,
      store: o.windows ?? new LocalWindows(),
      onReject: (r) => o.metrics.rejected.inc({ reason: r }),
    });
  const logRequests = o.logger.isLevelEnabled('http');
  const logWhenDone = (req: IncomingMessage, res: ServerResponse, started: number) =>
    res.on('finish', () =>
      o.logger.http('request', {
        method: req.method,
        path: routePath(req.url),
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
        path: routePath(req.url),
        code: e.code,
        error: String(e.cause ?? e.message),
        decision_id: decisionId,
      });
    }
    if (res.headersSent) return void res.end();
    // An unauthenticated or stalled client does not keep its socket: it would hold it for keepAliveTimeout.
    const close = e.code === 'invalid_api_key' || e.code === 'request_timeout';
    // An unknown path under an API's prefix (/v1/messages/count_tokens) answers in that API's shape too.
    const shape = ERROR_SHAPES[route] ?? ERROR_SHAPES[routePath(req.url).split('/').slice(0, 3).join('/')];
    sendJson(res, e.status, shape ? shape(e, decisionId) : errorBody(e), {
      ...(decisionId && { 'x-gateway-decision-id': decisionId }),
      ...(close && { connection: 'close' }),
    });
  };

  /**
   * An API route behind the client key check, the JSON body (for POST) and admission control. A request takes
   * an admission slot only once its body is in: a client trickling its body holds a socket (until
   * `bodyTimeoutMs`), never a slot that a complete request could use.
   */
  const api =
    (route: ApiRoute) =>
    async ({ req, res, started }: Exchange): Promise<void> => {
      const caller = authenticate(req.headers);
      const body = req.method === 'POST' ? await readJsonBody(req, o.bodyLimitBytes, o.bodyTimeoutMs) : undefined;
      const client = caller.keyId ?? req.socket.remoteAddress ?? 'unknown';
      admit(client, res);
      await admitPerMinute?.(caller, client, res);
      await route(body, req, res, caller, started);
    };

  const adminAuth = { mode: o.auth.mode, keys: o.adminKeys ?? [] };
  const isAdmin = passes(adminKeyChecker(adminAuth));
  const routes = new RouteTable()
    .get('/healthz', ({ res }) => sendJson(res, 200, { status: 'ok' }))
    .get('/readyz', ({ req, res }) => {
      const r = o.readiness();
      // The details (policy path, revisions, bindings) tell an outsider how requests are judged: admin keys only.
      const details = isAdmin(req.headers) ? r.details : {};
      sendJson(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ...details });
    })
    .get('/metrics', async ({ res }) => {
      const text = await o.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
      res.end(text);
    });
  const api_ = apiRoutes(o.pipeline);
  routes.post('/v1/chat/completions', api(api_.chat));
  routes.post('/v1/moderations', api(api_.moderations));
  routes.get('/v1/models', api(api_.models));
  routes.post('/v1/messages', api(messagesRoute(o.pipeline, o.messages ?? { native: false })));
  routes.post('/v1/responses', api(responsesRoute(o.pipeline, o.responses)));
  if (o.policies) adminRoutes(routes, o.policies, adminAuth, o.auditDir);
  if (o.policies && o.policySync)
    publishRoutes(routes, {
      store: o.policies.store,
      sync: o.policySync,
      checkAdminKey: adminKeyChecker(adminAuth),
      bodyLimitBytes: o.bodyLimitBytes,
      bodyTimeoutMs: o.bodyTimeoutMs,
    });
  if (o.policies)
    consoleRoutes(routes, {
      ...o.console,
      policies: o.policies,
      metrics: o.metrics,
      adminAuth,
      source: o.auditDatabaseUrl ? { databaseUrl: o.auditDatabaseUrl } : o.auditDir ? { dir: o.auditDir } : undefined,
      policySync: o.policySync,
      bodyLimitBytes: o.bodyLimitBytes,
      bodyTimeoutMs: o.bodyTimeoutMs,
    });
  if (o.auditDatabaseUrl) auditRoutes(routes, { databaseUrl: o.auditDatabaseUrl }, adminAuth);
  else if (o.auditDir) auditRoutes(routes, { dir: o.auditDir }, adminAuth);

  const serve = async (req: IncomingMessage, res: ServerResponse, started: number) => {
    const path = routePath(req.url);
    const found = routes.find(req.method, path);
    try {
      if (!found) {
        if (path.startsWith('/v1/')) authenticate(req.headers);
        throw new GatewayError('not_found', `no route for ${req.method} ${path}`);
      }
      await found.route({ req, res, path, query: queryOf(req.url), started });
    } catch (e) {
      sendError(e, req, res, found?.path ?? 'none');
    }
  };

  return function edge(req, res) {
    const started = performance.now();
    if (logRequests) logWhenDone(req, res, started);
    void serve(req, res, started);
  };
}

/** A throwing check as a yes/no question. */
const passes =
  <T>(check: (x: T) => void) =>
  (x: T): boolean => {
    try {
      check(x);
      return true;
    } catch {
      return false;
    }
  };
