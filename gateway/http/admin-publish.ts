import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundlePackageSchema, unpackBundle, type BundlePackage } from '../../policies/package.js';
import { UnknownRevisionError } from '../../policies/published.js';
import type { PolicyStore } from '../../policies/store.js';
import { GatewayError } from '../pipeline/errors.js';
import type { PolicySync } from '../shared/policy-sync.js';
import type { adminKeyChecker } from './admin.js';
import { readJsonBody } from './body.js';
import { sendJson, type RouteTable } from './router.js';

/**
 * A publish body: a packed bundle `{main, files}` (what `npm run policy -- publish` sends to Redis), or one
 * policy document on its own (`{"apiVersion": …, "id": …}`), packed here as `policy.json`.
 */
function packageOf(body: unknown): BundlePackage {
  const packed = BundlePackageSchema.safeParse(body);
  if (packed.success) return packed.data;
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'apiVersion' in body)
    return { main: 'policy.json', files: { 'policy.json': JSON.stringify(body, null, 2) } };
  throw new GatewayError('invalid_request', 'expected a policy document, or a packed bundle {"main", "files"}');
}

/**
 * Policy distribution for every replica (with `redis.policies`): POST /v1/policies publishes a bundle once it has
 * loaded and passed its tests here (else 422 `policy_invalid`, nothing published); POST /v1/policies/rollback
 * puts an earlier revision back by id; GET /v1/policies/revisions lists what was put in force. Each answers once
 * this replica runs the new revision; the others follow within `redis.policyCheckMs` (at once through pub/sub).
 */
export function publishRoutes(
  routes: RouteTable,
  o: {
    store: PolicyStore;
    sync: PolicySync;
    checkAdminKey: ReturnType<typeof adminKeyChecker>;
    bodyLimitBytes: number;
    bodyTimeoutMs?: number;
  },
): void {
  routes.post('/v1/policies', async ({ req, res }) => {
    o.checkAdminKey(req.headers);
    const pkg = packageOf(await readJsonBody(req, o.bodyLimitBytes, o.bodyTimeoutMs));
    const dir = mkdtempSync(join(tmpdir(), 'gateway-candidate-'));
    try {
      let path: string;
      try {
        path = unpackBundle(pkg, dir);
      } catch (e) {
        throw new GatewayError('invalid_request', (e as Error).message);
      }
      const checked = await o.store.validate(path);
      if (!checked.ok)
        throw new GatewayError('policy_invalid', 'the policy was rejected; nothing was published', null, {
          details: { faults: checked.faults },
        });
      const event = await shared(() => o.sync.published.publish(checked.bundle.revision, pkg));
      sendJson(res, 200, { ...event, replica: await o.sync.check('admin publish', true) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  routes.post('/v1/policies/rollback', async ({ req, res }) => {
    o.checkAdminKey(req.headers);
    const body = await readJsonBody(req, o.bodyLimitBytes, o.bodyTimeoutMs);
    const revision = (body as { revision?: unknown } | null)?.revision;
    if (typeof revision !== 'string' || !revision)
      throw new GatewayError('invalid_request', 'revision: expected the id of a published revision', 'revision');
    const event = await shared(() => o.sync.published.rollback(revision));
    sendJson(res, 200, { ...event, replica: await o.sync.check('admin rollback', true) });
  });
  routes.get('/v1/policies/revisions', async ({ req, res }) => {
    o.checkAdminKey(req.headers);
    const [enforced, history] = await shared(() =>
      Promise.all([o.sync.published.enforced(), o.sync.published.history()]),
    );
    sendJson(res, 200, { enforced, history, replica: o.sync.status() });
  });
}

/** A Redis call on an admin route: an unknown revision is a 404, an unreachable Redis a 503. */
async function shared<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof UnknownRevisionError) throw new GatewayError('not_found', e.message, 'revision');
    throw new GatewayError('not_ready', 'the policy store (Redis) is unreachable; nothing changed', null, { cause: e });
  }
}
