import { Router, type RequestHandler } from 'express';
import { GatewayError } from '../pipeline/errors.js';
import { readDecisionRecords, RecordsError } from '../../policies/records.js';
import { ShadowCounter } from '../../policies/shadow.js';
import { policyStatus, type GatewayPolicies } from '../policies.js';
import { keyLookup, presentedKey } from './auth.js';

/** Admin routes need an admin key; with auth off (local development) they are open like everything else. */
export const adminAuth = ({ mode, keys }: { mode: 'keys' | 'off'; keys: string[] }): RequestHandler => {
  const isAdmin = keyLookup(keys.map((key) => [key, true] as const));
  return function adminAuth(req, _res, next) {
    if (mode === 'off') return next();
    const key = presentedKey(req.headers.authorization, req.headers['x-api-key']);
    if (!key)
      return next(new GatewayError('invalid_api_key', 'missing admin key: send it as "Authorization: Bearer <key>"'));
    if (!isAdmin(key))
      return next(new GatewayError('forbidden', 'this key is not an admin key (set GATEWAY_ADMIN_KEYS)'));
    next();
  };
};

/**
 * Policy administration: what is in force (GET /v1/policies) and a reload (POST /v1/policies/reload) that
 * validates and tests the candidate before swapping it in; a failing candidate answers 422 and changes nothing.
 * With an audit directory, GET /v1/policies/shadow-report counts per rule where the shadow candidate disagreed.
 */
export function adminRoutes(
  policies: GatewayPolicies,
  auth: { mode: 'keys' | 'off'; keys: string[] },
  auditDir?: string,
): Router {
  const router = Router();
  router.use('/v1/policies', adminAuth(auth));
  router.get('/v1/policies', (_req, res) => void res.json(policyStatus(policies)));
  router.post('/v1/policies/reload', async (_req, res) => {
    const result = await policies.store.reload('admin endpoint');
    res
      .status(result.ok ? 200 : 422)
      .json(
        result.ok
          ? result
          : {
              error: {
                message: 'the candidate policy was rejected; the last good revision stays in force',
                type: 'invalid_request_error',
                code: 'policy_invalid',
                param: null,
              },
              ...result,
            },
      );
  });
  if (auditDir) {
    router.get('/v1/policies/shadow-report', async (req, res) => {
      const examples = Number(req.query.examples ?? 5);
      if (!Number.isInteger(examples) || examples < 0 || examples > 100)
        throw new GatewayError('invalid_request', 'examples: expected a whole number from 0 to 100', 'examples');
      const counter = new ShadowCounter(examples);
      try {
        await readDecisionRecords(auditDir, (r) => counter.add(r));
      } catch (e) {
        if (!(e instanceof RecordsError)) throw e;
      }
      res.json(counter.report());
    });
  }
  return router;
}
