import type { ServerResponse } from 'node:http';
import { ShadowCounter } from '../../../policies/shadow.js';
import type { GatewayPolicies } from '../../policies.js';
import type { PolicySync } from '../../shared/policy-sync.js';
import { adminKeyChecker } from '../admin.js';
import { exportHandlers, type AuditSource } from '../audit-export.js';
import { readJsonBody } from '../body.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { Metrics } from '../metrics.js';
import type { Exchange, RouteTable } from '../router.js';
import { findDecision, intParam, listDecisions, verify } from './decisions.js';
import { overview } from './overview.js';
import * as playground from './policy.js';
import { ReviewLabels, reviewQueue } from './review.js';
import { ConsoleSessions } from './session.js';
import { ASSETS, SECURITY_HEADERS, sendAsset } from './static.js';
import { scanDecisions } from './records.js';

export interface ConsoleOptions {
  policies: GatewayPolicies;
  metrics: Metrics;
  adminAuth: { mode: 'keys' | 'off'; keys: string[] };
  /** The decision log (file log or database); unset, the decision pages are empty and say so. */
  source?: AuditSource;
  /** The checkpoint signing key file, whose `.pub.pem` verify uses (default: the one in the log directory). */
  keyFile?: string;
  shadowPath?: string;
  policySync?: PolicySync;
  /** Where reviewers' labels are appended (JSONL). */
  labelsFile?: string;
  bodyLimitBytes: number;
  bodyTimeoutMs?: number;
  /** The built front-end (default dist/console). */
  assetsDir?: string;
}

/** A JSON answer with the console's security headers. */
function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...SECURITY_HEADERS,
  });
  res.end(text);
}

/**
 * The console (`/console`) and its JSON admin endpoints (`/console/api/*`, documented in README.md beside
 * this file). Every endpoint takes an admin key as a Bearer token, or the session cookie a login opened (with the
 * CSRF token on every POST); tenant keys get 403.
 */
export function consoleRoutes(routes: RouteTable, o: ConsoleOptions): void {
  const checkAdminKey = adminKeyChecker(o.adminAuth);
  const sessions = new ConsoleSessions(checkAdminKey);
  const labels = new ReviewLabels(o.labelsFile ?? 'console-labels.jsonl');
  const body = async (x: Exchange) => {
    const b = await readJsonBody(x.req, o.bodyLimitBytes, o.bodyTimeoutMs);
    if (!b || typeof b !== 'object' || Array.isArray(b))
      throw new GatewayError('invalid_request', 'the request body must be a JSON object');
    return b as Record<string, unknown>;
  };
  const needLog = (): AuditSource => {
    if (!o.source)
      throw new GatewayError('not_found', 'no decision log is configured (GATEWAY_AUDIT_DIR or sink postgres)');
    return o.source;
  };
  const get = (path: string, run: (x: Exchange) => Promise<unknown> | unknown) =>
    routes.get(path, async (x) => {
      sessions.authenticate(x.req);
      const out = await run(x);
      if (out !== undefined) send(x.res, 200, out);
    });
  const post = (path: string, run: (b: Record<string, unknown>, x: Exchange) => Promise<unknown> | unknown) =>
    routes.post(path, async (x) => {
      sessions.authenticate(x.req);
      send(x.res, 200, await run(await body(x), x));
    });

  // The page shell carries no data; a request that presents a key that is not an admin key is still refused.
  const shell = ({ req, res }: Exchange) => {
    if (req.headers.authorization || req.headers['x-api-key']) checkAdminKey(req.headers);
    sendAsset(res, 'index.html', o.assetsDir);
  };
  routes.get('/console', shell);
  for (const name of Object.keys(ASSETS) as (keyof typeof ASSETS)[])
    if (name !== 'index.html') routes.get(`/console/${name}`, ({ res }) => sendAsset(res, name, o.assetsDir));

  routes.post('/console/api/login', async (x) => {
    const b = await body(x);
    send(x.res, 200, sessions.login(x.req, x.res, b.key));
  });
  routes.post('/console/api/logout', ({ req, res }) => {
    sessions.logout(req, res);
    send(res, 200, { ok: true });
  });
  // Answered 200 either way: a page asking whether it is logged in is not an authentication failure.
  routes.get('/console/api/session', ({ req, res }) => {
    const s = sessions.session(req);
    send(
      res,
      200,
      s ? { authenticated: true, csrf: s.csrf, expires: new Date(s.expires).toISOString() } : { authenticated: false },
    );
  });

  get('/console/api/overview', (x) => overview({ ...o }, x).then(() => undefined));
  get('/console/api/decisions', (x) => listDecisions(needLog(), x).then(() => undefined));
  get('/console/api/decision', (x) => findDecision(needLog(), x.query.id));
  const exports = () => exportHandlers(needLog());
  get('/console/api/export', (x) => exports().stream(x));
  get('/console/api/export/manifest', (x) => exports().manifest(x));
  post('/console/api/verify', async (_b, x) => {
    await verify({ source: needLog(), keyFile: o.keyFile }, x);
    return undefined;
  });
  get('/console/api/shadow-report', async ({ query }) => {
    const counter = new ShadowCounter(intParam(query, 'examples', 5, 0, 100));
    await scanDecisions(needLog(), {}, (r) => counter.add(r));
    return counter.report();
  });

  const pg = { policies: o.policies, source: o.source, shadowPath: o.shadowPath, policySync: o.policySync };
  get('/console/api/policy', () => playground.policyTexts(pg));
  post('/console/api/policy/validate', (b) => playground.validate(pg, b));
  post('/console/api/policy/explain', (b) => playground.explain(pg, b));
  post('/console/api/policy/test', (b) => playground.test(pg, b));
  post('/console/api/policy/diff', (b) => playground.diff(pg, b));
  post('/console/api/policy/publish', (b) => playground.publish(pg, b));

  get('/console/api/review', ({ query }) =>
    reviewQueue(needLog(), o.policies.store.current().default, query.kind, intParam(query, 'limit', 100, 1, 1000)),
  );
  post('/console/api/review/label', (b) => labels.add(needLog(), b));
  get('/console/api/review/labels', async () => ({ data: [...(await labels.all()).values()] }));
  get('/console/api/review/export', async ({ res }) => {
    const { lines, skipped } = await labels.trainingData(needLog());
    const text = lines.map((l) => `${l}\n`).join('');
    res.writeHead(200, {
      'content-type': 'application/x-ndjson; charset=utf-8',
      'content-disposition': 'attachment; filename="console-labels.jsonl"',
      'x-skipped-without-text': String(skipped),
      ...SECURITY_HEADERS,
    });
    res.end(text);
    return undefined;
  });
}
