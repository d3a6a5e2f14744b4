/**
 * Configuration of the chain log, validated with zod. `auditConfigFromEnv` maps `GATEWAY_AUDIT_*` variables;
 * mistakes throw at startup with the offending field named.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { parseMaskPath } from './mask.js';

const positiveInt = z.number().int().positive();

/**
 * Where signed checkpoints are also sent (audit/anchor.ts): witnesses that the log's writer cannot rewrite, so
 * that truncating the log or re-signing its checkpoints shows (`audit verify --anchor`).
 */
export const anchorConfigSchema = z.strictObject({
  /** An append-only file on another path (not inside the log directory). */
  file: z.string().min(1).optional(),
  /** One structured line per checkpoint in the operational log. */
  log: z.boolean().default(false),
  /** POST each checkpoint as JSON to this URL. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** Insert each checkpoint into a PostgreSQL table (`audit_anchor_checkpoints`), under `log` (default: the instance). */
  postgres: z
    .strictObject({
      url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
      log: z.string().min(1).optional(),
    })
    .optional(),
  /** Extra request headers for `url`, such as an authorization header. */
  headers: z.record(z.string(), z.string()).default({}),
  /** First retry delay after a failed publish; doubles per failure, up to a minute. */
  retryMs: positiveInt.default(1000),
  /** How long close waits for the anchors to take what is queued; the rest is sent on the next start. */
  closeTimeoutMs: z.number().int().min(0).default(5000),
});
export type AnchorConfig = z.output<typeof anchorConfigSchema>;

export const auditConfigSchema = z.object({
  /** Directory of segments and checkpoints. */
  dir: z.string().min(1),
  /** Written into markers; the gateway also sets `instance` on every decision record. */
  instance: z.string().min(1).default('gateway'),
  durability: z.enum(['group', 'fsync-per-record', 'none']).default('group'),
  groupWindowMs: z.number().min(0).max(1000).default(0),
  groupMaxRecords: positiveInt.default(512),
  groupMaxBytes: positiveInt.default(4 << 20),
  segmentMaxBytes: positiveInt.default(64 << 20),
  segmentMaxAgeMs: positiveInt.default(24 * 3600_000),
  /** Sign a checkpoint after this many new records… */
  checkpointEvery: positiveInt.default(1000),
  /** …or this long after the previous one, whichever comes first (if anything new was written). */
  checkpointIntervalMs: positiveInt.default(60_000),
  /** Ed25519 PKCS#8 PEM. Default `<dir>/checkpoint-key.pem`, generated on first start. */
  keyFile: z.string().min(1).optional(),
  masks: z
    .array(z.string())
    .default([])
    .superRefine((paths, ctx) => {
      for (const p of paths) {
        try {
          parseMaskPath(p);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      }
    }),
  retention: z
    .object({ maxSegments: positiveInt.optional(), maxAgeMs: positiveInt.optional(), maxBytes: positiveInt.optional() })
    .optional(),
  anchor: anchorConfigSchema.optional(),
});

/** What callers pass (defaults optional). */
export type AuditConfigInput = z.input<typeof auditConfigSchema>;
/** After defaults are applied. */
export type AuditConfig = z.output<typeof auditConfigSchema>;

/**
 * Validates options and fills defaults; throws a readable error on a bad value.
 * @example parseAuditConfig({ dir: '/var/lib/gateway/audit', durability: 'group', masks: ['$.content.prompt'] })
 */
export function parseAuditConfig(input: AuditConfigInput): AuditConfig & { keyFile: string } {
  const result = auditConfigSchema.safeParse(input);
  if (!result.success) {
    const msg = result.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new Error(`invalid audit configuration: ${msg}`);
  }
  const anchorFile = result.data.anchor?.file;
  if (anchorFile !== undefined) {
    const inside = relative(resolve(result.data.dir), resolve(anchorFile));
    if (!inside.startsWith('..') && !isAbsolute(inside))
      throw new Error(
        'invalid audit configuration: anchor.file: must be outside the log directory, where whoever can rewrite the log cannot',
      );
  }
  return { ...result.data, keyFile: result.data.keyFile ?? join(result.data.dir, 'checkpoint-key.pem') };
}

const num = (v: string | undefined): number | undefined => (v === undefined || v === '' ? undefined : Number(v));

/**
 * Reads `GATEWAY_AUDIT_*`; returns null when `GATEWAY_AUDIT_DIR` is unset (audit log off).
 * @example const cfg = auditConfigFromEnv(process.env); if (cfg) sink = await ChainLog.open(cfg);
 */
export function auditConfigFromEnv(env: NodeJS.ProcessEnv): AuditConfigInput | null {
  if (!env.GATEWAY_AUDIT_DIR) return null;
  const masks = env.GATEWAY_AUDIT_MASKS?.trim();
  const retention = {
    maxSegments: num(env.GATEWAY_AUDIT_RETENTION_MAX_SEGMENTS),
    maxAgeMs: num(env.GATEWAY_AUDIT_RETENTION_MAX_AGE_MS),
    maxBytes: num(env.GATEWAY_AUDIT_RETENTION_MAX_BYTES),
  };
  const cfg: Record<string, unknown> = {
    dir: env.GATEWAY_AUDIT_DIR,
    instance: env.GATEWAY_INSTANCE || undefined,
    durability: env.GATEWAY_AUDIT_DURABILITY || undefined,
    groupWindowMs: num(env.GATEWAY_AUDIT_GROUP_WINDOW_MS),
    groupMaxRecords: num(env.GATEWAY_AUDIT_GROUP_MAX_RECORDS),
    segmentMaxBytes: num(env.GATEWAY_AUDIT_SEGMENT_MAX_BYTES),
    segmentMaxAgeMs: num(env.GATEWAY_AUDIT_SEGMENT_MAX_AGE_MS),
    checkpointEvery: num(env.GATEWAY_AUDIT_CHECKPOINT_EVERY),
    checkpointIntervalMs: num(env.GATEWAY_AUDIT_CHECKPOINT_INTERVAL_MS),
    keyFile: env.GATEWAY_AUDIT_KEY_FILE || undefined,
    anchor: env.GATEWAY_AUDIT_ANCHOR_FILE ? { file: env.GATEWAY_AUDIT_ANCHOR_FILE } : undefined,
    // A JSON array, or comma-separated paths when no path needs a comma.
    masks: masks
      ? masks.startsWith('[')
        ? JSON.parse(masks)
        : masks
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
      : undefined,
    retention: Object.values(retention).some((v) => v !== undefined)
      ? Object.fromEntries(Object.entries(retention).filter(([, v]) => v !== undefined))
      : undefined,
  };
  for (const k of Object.keys(cfg)) if (cfg[k] === undefined) delete cfg[k];
  return cfg as AuditConfigInput;
}
