import { z } from 'zod';

/**
 * The configuration of shared state (Redis) and of the per-minute limits. It lives apart from config.ts, which
 * only hooks these schemas and variables in.
 */

/** Requests and tokens a key (or a tenant) may use in any 60-second window. */
const PerMinute = z
  .strictObject({
    requests: z.number().int().positive().optional(),
    tokens: z.number().int().positive().optional(),
  })
  .refine((m) => m.requests !== undefined || m.tokens !== undefined, 'set requests, tokens or both');

/**
 * `limits.perMinute`: per API key and per tenant. With `redis` configured the counts are shared by every
 * replica; without it (or while Redis is down under `whenDown: "local"`) each process counts on its own.
 */
export const PerMinuteLimitsSchema = z.strictObject({ key: PerMinute.optional(), tenant: PerMinute.optional() });
export type PerMinuteLimits = z.infer<typeof PerMinuteLimitsSchema>;

/** `redis`: shared limits and policy distribution across replicas. */
export const RedisConfigSchema = z.strictObject({
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. Never logged with its password. */
  url: z.string().regex(/^rediss?:\/\/./, 'expected a redis:// or rediss:// URL'),
  /** Prefix of every key and channel, so that several gateways (or tests) can share one Redis. */
  keyPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.:{}-]{1,64}$/)
    .default('gateway:'),
  /** While Redis is unreachable: `local` counts limits per process (and says so in metrics), `refuse` answers 503. */
  whenDown: z.enum(['local', 'refuse']).default('local'),
  /** Take the enforced policy from Redis (published with POST /v1/policies or `npm run policy -- publish`). */
  policies: z.boolean().default(true),
  /** How often a replica also polls the enforced revision, besides the pub/sub notification. */
  policyCheckMs: z.number().int().positive().default(1000),
  /** The longest wait for one Redis command before the request is decided as if Redis were down. */
  commandTimeoutMs: z.number().int().positive().default(250),
});
export type RedisConfig = z.infer<typeof RedisConfigSchema>;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const section = (raw: Raw, key: string): Raw => {
  const v = (raw[key] ??= {});
  return isObject(v) ? v : {};
};
const num = (v: string): number | string => (v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
const bool = (v: string): boolean | string =>
  ['on', 'true', '1'].includes(v) ? true : ['off', 'false', '0'].includes(v) ? false : v;

/** Environment overrides for shared state and per-minute limits (merged into config.ts's table). */
export const SHARED_ENV: Record<string, (raw: Raw, v: string) => void> = {
  GATEWAY_REDIS_URL: (c, v) => (section(c, 'redis').url = v),
  GATEWAY_REDIS_PREFIX: (c, v) => (section(c, 'redis').keyPrefix = v),
  GATEWAY_REDIS_WHEN_DOWN: (c, v) => (section(c, 'redis').whenDown = v),
  GATEWAY_REDIS_POLICIES: (c, v) => (section(c, 'redis').policies = bool(v)),
  GATEWAY_LIMIT_RPM: (c, v) => (section(section(section(c, 'limits'), 'perMinute'), 'key').requests = num(v)),
  GATEWAY_LIMIT_TPM: (c, v) => (section(section(section(c, 'limits'), 'perMinute'), 'key').tokens = num(v)),
  GATEWAY_TENANT_LIMIT_RPM: (c, v) => (section(section(section(c, 'limits'), 'perMinute'), 'tenant').requests = num(v)),
  GATEWAY_TENANT_LIMIT_TPM: (c, v) => (section(section(section(c, 'limits'), 'perMinute'), 'tenant').tokens = num(v)),
};

/** Where each of those variables lands, for error messages. */
export const SHARED_ENV_PATH: Record<string, string> = {
  'redis.url': 'GATEWAY_REDIS_URL',
  'redis.keyPrefix': 'GATEWAY_REDIS_PREFIX',
  'redis.whenDown': 'GATEWAY_REDIS_WHEN_DOWN',
  'redis.policies': 'GATEWAY_REDIS_POLICIES',
  'limits.perMinute.key.requests': 'GATEWAY_LIMIT_RPM',
  'limits.perMinute.key.tokens': 'GATEWAY_LIMIT_TPM',
  'limits.perMinute.tenant.requests': 'GATEWAY_TENANT_LIMIT_RPM',
  'limits.perMinute.tenant.tokens': 'GATEWAY_TENANT_LIMIT_TPM',
};

/**
 * A Redis URL fit for logs: the password (and user name) replaced.
 *
 * @example redactRedisUrl('redis://app:s3cret@10.0.0.5:6379/2') // 'redis://***@10.0.0.5:6379/2'
 */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, '$1***@');
}
