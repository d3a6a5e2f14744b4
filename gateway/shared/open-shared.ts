import type { Redis } from 'ioredis';
import client from 'prom-client';
import type winston from 'winston';
import type { PolicyStore } from '../../policies/store.js';
import type { RedisConfig } from './config.js';
import { FailoverWindows } from './failover-windows.js';
import type { WindowStore } from './minute-window.js';
import { startPolicySync, type PolicySync, type PolicySyncStatus } from './policy-sync.js';
import { connectRedis } from './redis.js';

/** What `redis` in the configuration turns on: shared per-minute windows and the published policy. */
export interface SharedState {
  redis: Redis;
  windows: WindowStore;
  /** Present with `redis.policies`. */
  policySync?: PolicySync;
  /** For /readyz (admin details). */
  details(): Record<string, unknown>;
  close(): Promise<void>;
}

const SYNC_STATES: PolicySyncStatus['state'][] = ['starting', 'in-sync', 'unpublished', 'unreachable', 'rejected'];

/**
 * Connects to Redis and starts what it shares, with their metrics: `gateway_redis_up` (1 while connected),
 * `gateway_limit_checks_total{store}` (per-minute checks decided by `redis`, by this process while Redis is down:
 * `local`, or `refused`), and `gateway_policy_sync_state{state}` (1 for this replica's state, see PolicySyncStatus).
 * Start-up does not wait for Redis: a replica that cannot reach it serves with its local policy and fallback limits.
 *
 * @example
 * const shared = await openSharedState(config.redis, { logger, registry: metrics.registry, store: policies.store });
 */
export async function openSharedState(
  cfg: RedisConfig,
  o: { logger: winston.Logger; registry: client.Registry; store: PolicyStore },
): Promise<SharedState> {
  const up = new client.Gauge({
    name: 'gateway_redis_up',
    help: 'Whether this replica reaches Redis (shared limits and policies): 1 connected, 0 not',
    registers: [o.registry],
  });
  const checks = new client.Counter({
    name: 'gateway_limit_checks_total',
    help: 'Per-minute limit checks by the store that decided: redis, local (Redis down, per-process fallback), refused',
    labelNames: ['store'] as const,
    registers: [o.registry],
  });
  const syncState = new client.Gauge({
    name: 'gateway_policy_sync_state',
    help: 'This replica against the policy published in Redis: 1 for its current state',
    labelNames: ['state'] as const,
    registers: [o.registry],
  });
  up.set(0);
  const redis = connectRedis(cfg, o.logger, (isUp) => up.set(isUp ? 1 : 0));
  const series = { redis: checks.labels('redis'), local: checks.labels('local'), refused: checks.labels('refused') };
  const windows = new FailoverWindows(redis, cfg.keyPrefix, cfg.whenDown, (store) => series[store].inc());
  const showState = (s: PolicySyncStatus) => {
    for (const state of SYNC_STATES) syncState.set({ state }, state === s.state ? 1 : 0);
  };
  // Give the first connection a moment, so that a healthy replica starts on the published policy.
  await Promise.race([
    new Promise((resolve) => redis.once('ready', resolve)),
    new Promise((resolve) => setTimeout(resolve, 2000).unref()),
  ]);
  const policySync = cfg.policies
    ? await startPolicySync({
        redis,
        prefix: cfg.keyPrefix,
        store: o.store,
        logger: o.logger,
        checkMs: cfg.policyCheckMs,
        onState: showState,
      })
    : undefined;
  if (policySync) showState(policySync.status());
  return {
    redis,
    windows,
    policySync,
    details: () => ({
      redis: redis.status === 'ready' ? 'connected' : `unreachable (limits: ${cfg.whenDown})`,
      ...(policySync && { policy_store: policySync.status() }),
    }),
    async close() {
      await policySync?.close();
      // A shutdown is not an outage: no "unreachable" warning for the connection closed on purpose.
      redis.removeAllListeners('close');
      redis.removeAllListeners('error');
      redis.on('error', () => undefined);
      redis.disconnect();
    },
  };
}
