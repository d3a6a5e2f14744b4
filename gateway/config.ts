import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { jsonErrorText, parseJsonText } from '../policies/json-text.js';
import { anchorConfigSchema } from '../audit/config.js';
import { DEFAULT_MAX_ANSWER_BYTES, DEFAULT_MAX_STREAM_BYTES } from '../generator/openai-http.js';
import { GENERATOR_ENV, GENERATOR_ENV_PATH, GeneratorConfigSchema } from '../generator/local/config.js';
import { StreamOptionsSchema } from './pipeline/stream-options.js';
import { UpstreamFormatSchema } from './wire/upstream-format.js';
import { ResponsesSettingsSchema } from './wire/responses/settings.js';
import { PerMinuteLimitsSchema, RedisConfigSchema, SHARED_ENV, SHARED_ENV_PATH } from './shared/config.js';

/**
 * One API key as written in `GATEWAY_API_KEYS` or in the file's `auth.apiKeys`: `key`, or `tenant:key`. The
 * tenant is recorded with every decision and can select a policy by binding.
 *
 * @example parseApiKey('acme:sk-0123456789') // { tenant: 'acme', key: 'sk-0123456789' }
 */
export function parseApiKey(entry: string): { key: string; tenant: string | null } {
  const m = /^([A-Za-z0-9_.-]{1,64}):(.{8,})$/.exec(entry);
  const [, tenant, key] = m ?? [];
  return tenant !== undefined && key !== undefined ? { key, tenant } : { key: entry, tenant: null };
}

/** `tenant:key` as {key, tenant}; any other string as it is. */
function withTenant(entry: string): string | { key: string; tenant: string } {
  const { key, tenant } = parseApiKey(entry);
  return tenant === null ? entry : { key, tenant };
}

/**
 * A key a client can send as `Authorization: Bearer <key>`: 8 or more visible ASCII characters. A key with a space
 * (or anything else) could be configured but never presented, so it stops start-up instead.
 */
const bearerKey = z
  .string()
  .min(8, 'an API key must be at least 8 characters')
  .regex(/^[\x21-\x7e]+$/, 'an API key is visible ASCII characters only (no spaces), as a Bearer token is');
/** A client key: no `:` either, which would be read as `tenant:key` (`{"key", "tenant"}` names a tenant plainly). */
const clientKey = bearerKey.regex(
  /^[^:]+$/,
  'an API key must not contain ":" (read as tenant:key); give a tenant as tenant:key with a key free of ":", or as {"key", "tenant"}',
);

/** The gateway's configuration. Every field has a default, so `npm start` serves with no file at all. */
export const ConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8080),
  /** Loopback by default; listening beyond it needs API keys. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Request body limit, in bytes (over it: 413). */
  bodyLimitBytes: z.number().int().positive().default(1_048_576),
  upstream: z
    .strictObject({
      /** An OpenAI-compatible base URL such as http://127.0.0.1:11434/v1. Unset: chat completions answer 503. */
      url: z.url({ protocol: /^https?$/ }).optional(),
      apiKey: z.string().min(1).optional(),
      timeoutMs: z.number().int().positive().default(60_000),
      /** Caps on what the upstream may send: a JSON answer's bytes, a stream's bytes (past either: 502 answer_too_large). */
      maxAnswerBytes: z.number().int().positive().default(DEFAULT_MAX_ANSWER_BYTES),
      maxStreamBytes: z.number().int().positive().default(DEFAULT_MAX_STREAM_BYTES),
      /** Gateway model name → upstream model name. Unmapped names pass through unchanged. */
      models: z.record(z.string(), z.string()).default({}),
      /** How /v1/responses and /v1/messages reach the upstream: `chat`, `native` or `auto` (wire/upstream-format.ts). */
      format: UpstreamFormatSchema,
    })
    .prefault({}),
  /** Which generator answers: the upstream above (`http`), or a GGUF model in this process (generator/README.md). */
  generator: GeneratorConfigSchema,
  /** POST /v1/responses: the conversation store for `previous_response_id`. */
  responses: ResponsesSettingsSchema,
  /** A policy file, or a folder holding `policy.json` (and optionally `bindings.json`). Default: policies/default. */
  policy: z.string().min(1).optional(),
  /** A candidate policy run in shadow beside the enforced one: recorded, never enforced. */
  shadowPolicy: z.string().min(1).optional(),
  /** Reload the policy when its files change (also on SIGHUP and POST /v1/policies/reload). */
  policyWatch: z.boolean().default(true),
  audit: z
    .strictObject({
      dir: z.string().min(1).default('.data/audit'),
      /** How much conversation text each decision record keeps. */
      content: z.enum(['full', 'redacted', 'hash', 'none']).default('none'),
      /** `chain`: the hash-chained, checkpointed compliance log. `jsonl`: plain lines, no chain, no fsync (development). */
      /** `postgres`: the same chain and checkpoints in PostgreSQL (`databaseUrl`), one chain per replica. */
      sink: z.enum(['chain', 'jsonl', 'postgres']).default('chain'),
      /** `postgres://user:password@host:5432/db` for `sink: postgres` (GATEWAY_DATABASE_URL); never logged. */
      databaseUrl: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
        .optional(),
      /** When an answer waits for its record: `group` (fsynced, shared fsyncs), `fsync-per-record`, `none` (OS cache). */
      durability: z.enum(['group', 'fsync-per-record', 'none']).default('group'),
      /** JSONPath-like paths masked before anything is stored, e.g. `$.content.prompt`. */
      masks: z.array(z.string()).default([]),
      /** Ed25519 private key (PKCS#8 PEM) for checkpoints; default `<dir>/checkpoint-key.pem`, generated on first start. */
      keyFile: z.string().min(1).optional(),
      checkpointEvery: z.number().int().positive().default(1000),
      checkpointIntervalMs: z.number().int().positive().default(60_000),
      segmentMaxBytes: z
        .number()
        .int()
        .positive()
        .default(64 << 20),
      segmentMaxAgeMs: z
        .number()
        .int()
        .positive()
        .default(24 * 3600_000),
      retention: z
        .strictObject({
          maxSegments: z.number().int().positive().optional(),
          maxAgeMs: z.number().int().positive().optional(),
          maxBytes: z.number().int().positive().optional(),
        })
        .optional(),
      /** Where signed checkpoints are also sent, as witnesses outside the log directory (audit/README.md). */
      anchor: anchorConfigSchema.optional(),
    })
    .refine((a) => a.sink !== 'postgres' || a.databaseUrl, {
      message: 'sink postgres needs databaseUrl (GATEWAY_DATABASE_URL)',
      path: ['databaseUrl'],
    })
    .prefault({}),
  auth: z
    .strictObject({
      /**
       * `keys`: clients present one of apiKeys. `off`: local development, every request is accepted.
       * Unset: `keys` when keys are configured; otherwise `off`, allowed only on a loopback host.
       */
      mode: z.enum(['keys', 'off']).optional(),
      /** Keys clients must present as `Authorization: Bearer <key>`: `key`, `tenant:key`, or `{key, tenant}`. */
      apiKeys: z
        .preprocess(
          // A `tenant:key` string becomes {key, tenant} first, so that a `:` left in the key is refused below.
          (keys) => (Array.isArray(keys) ? keys.map((k) => (typeof k === 'string' ? withTenant(k) : k)) : keys),
          z
            .array(
              z.union([
                clientKey,
                z.strictObject({
                  key: clientKey,
                  tenant: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a tenant is 1-64 letters, digits, _ . -'),
                }),
              ]),
            )
            .default([]),
        )
        .transform((keys) => keys.map((k) => (typeof k === 'string' ? { key: k, tenant: null } : k))),
      /** Keys for /v1/policies and other admin routes. Client keys are not admin keys. */
      adminKeys: z.array(bearerKey).default([]),
    })
    .prefault({}),
  /** Admission control: requests in flight, and per-key rates. Past either, 429 with retry-after. */
  limits: z
    .strictObject({
      maxConcurrent: z.number().int().positive().default(512),
      /** The longest wait for a request's headers, then for its body; past either, 408 and the socket is closed. */
      headersTimeoutMs: z.number().int().positive().default(10_000),
      bodyTimeoutMs: z.number().int().positive().default(30_000),
      perKey: z.strictObject({ rps: z.number().positive(), burst: z.number().int().positive() }).optional(),
      /** Requests and tokens per minute, per key and per tenant; shared by every replica with `redis` set. */
      perMinute: PerMinuteLimitsSchema.optional(),
    })
    .prefault({}),
  /** Shared state across replicas: limits and policy distribution (gateway/shared/config.ts). */
  redis: RedisConfigSchema.optional(),
  /** How streamed output is moderated (gateway/pipeline/stream-options.ts). */
  stream: StreamOptionsSchema.prefault({}),
  log: z.strictObject({ level: z.enum(['error', 'warn', 'info', 'http', 'debug']).default('info') }).prefault({}),
  /** A name for this gateway instance, recorded in every decision. */
  instance: z.string().min(1).optional(),
  /** Where `npm start` writes its process id (for `kill -HUP`), removed on a clean exit; `false`: no file. */
  pidFile: z.union([z.string().min(1), z.literal(false)]).default('.data/gateway.pid'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/** A number, or the raw text so that validation names the variable and says what was expected. */
const num = (v: string): number | string => (v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
const bool = (v: string): boolean | string =>
  ['on', 'true', '1'].includes(v) ? true : ['off', 'false', '0'].includes(v) ? false : v;

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The object at `raw[key]` for an environment variable to write into, created when absent. Where the file holds
 * something else there, the variable writes into a throwaway object so that validation still reports the file's value.
 */
function section(raw: Raw, key: string): Raw {
  const v = (raw[key] ??= {});
  return isObject(v) ? v : {};
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Environment overrides: variable → where it lands in the configuration and how it is parsed. */
const ENV: Record<string, (raw: Raw, v: string) => void> = {
  GATEWAY_PORT: (c, v) => (c.port = num(v)),
  GATEWAY_HOST: (c, v) => (c.host = v),
  GATEWAY_UPSTREAM_URL: (c, v) => (section(c, 'upstream').url = v),
  GATEWAY_UPSTREAM_API_KEY: (c, v) => (section(c, 'upstream').apiKey = v),
  GATEWAY_UPSTREAM_TIMEOUT_MS: (c, v) => (section(c, 'upstream').timeoutMs = num(v)),
  GATEWAY_UPSTREAM_MAX_ANSWER_BYTES: (c, v) => (section(c, 'upstream').maxAnswerBytes = num(v)),
  GATEWAY_UPSTREAM_MAX_STREAM_BYTES: (c, v) => (section(c, 'upstream').maxStreamBytes = num(v)),
  GATEWAY_UPSTREAM_FORMAT: (c, v) => (section(c, 'upstream').format = v),
  GATEWAY_RESPONSES_MAX_CONVERSATIONS: (c, v) => (section(c, 'responses').maxConversations = num(v)),
  GATEWAY_RESPONSES_UNKNOWN_PREVIOUS_ID: (c, v) => (section(c, 'responses').unknownPreviousId = v),
  GATEWAY_POLICY: (c, v) => (c.policy = v),
  GATEWAY_SHADOW_POLICY: (c, v) => (c.shadowPolicy = v),
  GATEWAY_POLICY_WATCH: (c, v) => (c.policyWatch = bool(v)),
  GATEWAY_AUDIT_DIR: (c, v) => (section(c, 'audit').dir = v),
  GATEWAY_AUDIT_CONTENT: (c, v) => (section(c, 'audit').content = v),
  GATEWAY_AUDIT_SINK: (c, v) => (section(c, 'audit').sink = v),
  GATEWAY_DATABASE_URL: (c, v) => (section(c, 'audit').databaseUrl = v),
  GATEWAY_AUDIT_DURABILITY: (c, v) => (section(c, 'audit').durability = v),
  GATEWAY_AUDIT_MASKS: (c, v) => (section(c, 'audit').masks = list(v)),
  GATEWAY_AUDIT_KEY_FILE: (c, v) => (section(c, 'audit').keyFile = v),
  GATEWAY_AUDIT_ANCHOR_FILE: (c, v) => (section(section(c, 'audit'), 'anchor').file = v),
  GATEWAY_AUDIT_ANCHOR_DATABASE_URL: (c, v) => (section(section(c, 'audit'), 'anchor').postgres = { url: v }),
  // `key` or `tenant:key`, read by parseApiKey as the file's entries are.
  GATEWAY_API_KEYS: (c, v) => (section(c, 'auth').apiKeys = list(v)),
  GATEWAY_ADMIN_KEYS: (c, v) => (section(c, 'auth').adminKeys = list(v)),
  GATEWAY_AUTH: (c, v) => (section(c, 'auth').mode = v),
  GATEWAY_LOG_LEVEL: (c, v) => (section(c, 'log').level = v),
  GATEWAY_MAX_CONCURRENT: (c, v) => (section(c, 'limits').maxConcurrent = num(v)),
  GATEWAY_HEADERS_TIMEOUT_MS: (c, v) => (section(c, 'limits').headersTimeoutMs = num(v)),
  GATEWAY_BODY_TIMEOUT_MS: (c, v) => (section(c, 'limits').bodyTimeoutMs = num(v)),
  // `rps` or `rps/burst`, e.g. 20/40
  GATEWAY_KEY_RATE: (c, v) => {
    const [rps, burst] = v.split('/').map(num);
    section(c, 'limits').perKey = {
      rps,
      burst: burst ?? (typeof rps === 'number' ? Math.max(1, Math.ceil(rps)) : rps),
    };
  },
  GATEWAY_STREAM_MODE: (c, v) => (section(c, 'stream').mode = v),
  GATEWAY_STREAM_WINDOW_CHARS: (c, v) => (section(c, 'stream').windowChars = num(v)),
  GATEWAY_STREAM_OVERLAP_CHARS: (c, v) => (section(c, 'stream').overlapChars = num(v)),
  GATEWAY_STREAM_FINAL_CHECK: (c, v) => (section(c, 'stream').finalCheck = bool(v)),
  GATEWAY_STREAM_CONCURRENT_INPUT: (c, v) => (section(c, 'stream').concurrentInput = bool(v)),
  GATEWAY_STREAM_KEEPALIVE_MS: (c, v) => (section(c, 'stream').keepAliveMs = num(v)),
  GATEWAY_INSTANCE: (c, v) => (c.instance = v),
  GATEWAY_PID_FILE: (c, v) => (c.pidFile = v === 'off' ? false : v),
  ...SHARED_ENV,
  ...GENERATOR_ENV,
};

/** Where in the configuration each environment variable lands, for error messages. */
const ENV_PATH: Record<string, string> = {
  port: 'GATEWAY_PORT',
  host: 'GATEWAY_HOST',
  'upstream.url': 'GATEWAY_UPSTREAM_URL',
  'upstream.apiKey': 'GATEWAY_UPSTREAM_API_KEY',
  'upstream.timeoutMs': 'GATEWAY_UPSTREAM_TIMEOUT_MS',
  'upstream.maxAnswerBytes': 'GATEWAY_UPSTREAM_MAX_ANSWER_BYTES',
  'upstream.maxStreamBytes': 'GATEWAY_UPSTREAM_MAX_STREAM_BYTES',
  'upstream.format': 'GATEWAY_UPSTREAM_FORMAT',
  'responses.maxConversations': 'GATEWAY_RESPONSES_MAX_CONVERSATIONS',
  'responses.unknownPreviousId': 'GATEWAY_RESPONSES_UNKNOWN_PREVIOUS_ID',
  policy: 'GATEWAY_POLICY',
  shadowPolicy: 'GATEWAY_SHADOW_POLICY',
  policyWatch: 'GATEWAY_POLICY_WATCH',
  'audit.dir': 'GATEWAY_AUDIT_DIR',
  'audit.content': 'GATEWAY_AUDIT_CONTENT',
  'audit.sink': 'GATEWAY_AUDIT_SINK',
  'audit.databaseUrl': 'GATEWAY_DATABASE_URL',
  'audit.durability': 'GATEWAY_AUDIT_DURABILITY',
  'audit.masks': 'GATEWAY_AUDIT_MASKS',
  'audit.keyFile': 'GATEWAY_AUDIT_KEY_FILE',
  'auth.apiKeys': 'GATEWAY_API_KEYS',
  'auth.adminKeys': 'GATEWAY_ADMIN_KEYS',
  'auth.mode': 'GATEWAY_AUTH',
  'log.level': 'GATEWAY_LOG_LEVEL',
  'limits.maxConcurrent': 'GATEWAY_MAX_CONCURRENT',
  'limits.headersTimeoutMs': 'GATEWAY_HEADERS_TIMEOUT_MS',
  'limits.bodyTimeoutMs': 'GATEWAY_BODY_TIMEOUT_MS',
  'limits.perKey.rps': 'GATEWAY_KEY_RATE',
  'limits.perKey.burst': 'GATEWAY_KEY_RATE',
  'stream.mode': 'GATEWAY_STREAM_MODE',
  'stream.windowChars': 'GATEWAY_STREAM_WINDOW_CHARS',
  'stream.overlapChars': 'GATEWAY_STREAM_OVERLAP_CHARS',
  'stream.finalCheck': 'GATEWAY_STREAM_FINAL_CHECK',
  'stream.concurrentInput': 'GATEWAY_STREAM_CONCURRENT_INPUT',
  'stream.keepAliveMs': 'GATEWAY_STREAM_KEEPALIVE_MS',
  instance: 'GATEWAY_INSTANCE',
  pidFile: 'GATEWAY_PID_FILE',
  ...SHARED_ENV_PATH,
  ...GENERATOR_ENV_PATH,
};

/**
 * Loads the configuration: the JSON file (if any), then environment overrides, then zod validation.
 * Throws a ConfigError naming the path of the bad field and the reason.
 *
 * @example
 * const config = loadConfig({ file: process.env.GATEWAY_CONFIG, env: process.env });
 */
export function loadConfig({
  file,
  env = {},
}: { file?: string; env?: Record<string, string | undefined> } = {}): Config {
  let raw: Raw = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(resolve(file), 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(e as Error).message}`);
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok) throw new ConfigError(`configuration file ${file}: ${jsonErrorText(parsed)}`);
    if (!isObject(parsed.value))
      throw new ConfigError(`configuration file ${file}: expected a JSON object at the top level`);
    raw = parsed.value;
  }
  for (const [name, apply] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') apply(raw, v);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      const from = ENV_PATH[path] && env[ENV_PATH[path]] !== undefined ? ` (from ${ENV_PATH[path]})` : '';
      return `${path || '(root)'}${from}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const config = parsed.data;
  const noKeys = config.auth.apiKeys.length === 0;
  if (config.auth.mode === 'keys' && noKeys) {
    throw new ConfigError('auth.apiKeys: auth is on but no API keys are configured; set GATEWAY_API_KEYS=key1,key2');
  }
  if (config.auth.mode === undefined && noKeys && !isLoopback(config.host)) {
    throw new ConfigError(
      `auth.apiKeys: host ${config.host} is reachable beyond this machine but no API keys are configured; ` +
        'set GATEWAY_API_KEYS=key1,key2 (or GATEWAY_AUTH=off to accept every request on purpose)',
    );
  }
  config.auth.mode ??= noKeys ? 'off' : 'keys';
  return config;
}
