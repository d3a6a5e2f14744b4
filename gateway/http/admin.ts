import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../pipeline/errors.js';
import { readDecisionRecords, RecordsError } from '../../policies/records.js';
import { ShadowCounter } from '../../policies/shadow.js';
import { policyStatus, type GatewayPolicies } from '../policies.js';
import { keyLookup, presentedKey } from './auth.js';
import { sendJson, type RouteTable } from './router.js';

/**
 * The admin key check: throws the 401/403 GatewayError, or returns. Admin keys, once set, are always required:
 * auth `off` opens the client routes only (an operator who set GATEWAY_ADMIN_KEYS expects them to be asked for).
 * With auth off and no admin keys (local development) the admin routes are open like everything else.
 *
 * @example
 * const checkAdminKey = adminKeyChecker({ mode: 'off', keys: ['sk-admin-0123456789'] });
 * checkAdminKey(req.headers); // throws 401 without the key, although client auth is off
 */
export const adminKeyChecker = ({ mode, keys }: { mode: 'keys' | 'off'; keys: string[] }) => {
  const isAdmin = keyLookup(keys.map((key) => [key, true] as const));
  return function checkAdminKey(headers: IncomingHttpHeaders): void {
    if (mode === 'off' && keys.length === 0) return;
    const key = presentedKey(headers.authorization, headers['x-api-key']);
    if (!key) throw new GatewayError('invalid_api_key', 'missing admin key: send it as "Authorization: Bearer <key>"');
    if (!isAdmin(key)) throw new GatewayError('forbidden', 'this key is not an admin key (set GATEWAY_ADMIN_KEYS)');
  };
};

/**
 * Policy administration: what is in force (GET /v1/policies) and a reload (POST /v1/policies/reload) that
 * validates and tests the candidate before swapping it in; a failing candidate answers 422 and changes nothing.
 * With an audit directory, GET /v1/policies/shadow-report counts per rule where the shadow candidate disagreed.
 */
export function adminRoutes(
  routes: RouteTable,
  policies: GatewayPolicies,
  auth: { mode: 'keys' | 'off'; keys: string[] },
  auditDir?: string,
): void {
  const checkAdminKey = adminKeyChecker(auth);
  routes.get('/v1/policies', ({ req, res }) => {
    checkAdminKey(req.headers);
    sendJson(res, 200, policyStatus(policies));
  });
  routes.post('/v1/policies/reload', async ({ req, res }) => {
    checkAdminKey(req.headers);
    const result = await policies.store.reload('admin endpoint');
    if (!result.ok)
      throw new GatewayError(
        'policy_invalid',
        'the candidate policy was rejected; the last good revision stays in force',
        null,
        { details: result },
      );
    sendJson(res, 200, result);
  });
  if (auditDir) {
    routes.get('/v1/policies/shadow-report', async ({ req, res, query }) => {
      checkAdminKey(req.headers);
      const examples = Number(query.examples ?? 5);
      if (!Number.isInteger(examples) || examples < 0 || examples > 100)
        throw new GatewayError('invalid_request', 'examples: expected a whole number from 0 to 100', 'examples');
      const counter = new ShadowCounter(examples);
      try {
        await readDecisionRecords(auditDir, (r) => counter.add(r));
      } catch (e) {
        if (!(e instanceof RecordsError)) throw e;
      }
      sendJson(res, 200, counter.report());
    });
  }
}
