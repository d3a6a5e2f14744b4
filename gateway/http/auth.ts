import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { GatewayError } from '../pipeline/errors.js';

/** A key's id in records and logs: a truncated sha256, never the key. */
export const keyId = (key: string) => `key_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Reads the key from `Authorization: Bearer <key>` (or `x-api-key`). */
export function presentedKey(header: string | undefined, alt: string | string[] | undefined): string | undefined {
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }
  return typeof alt === 'string' && alt ? alt : undefined;
}

export interface ClientKey {
  key: string;
  tenant: string | null;
}

/**
 * Checks the client's API key against the configured keys in constant time and stores its hashed id and
 * tenant on `res.locals.keyId` / `res.locals.tenant`. With auth off, every request passes with neither.
 */
export const apiKeyAuth = ({ mode, keys }: { mode: 'keys' | 'off'; keys: ClientKey[] }): RequestHandler => {
  const digests = keys.map((k) => ({ d: digest(k.key), id: keyId(k.key), tenant: k.tenant }));
  return function apiKeyAuth(req, res, next) {
    if (mode === 'off') {
      res.locals.keyId = null;
      res.locals.tenant = null;
      return next();
    }
    const key = presentedKey(req.headers.authorization, req.headers['x-api-key']);
    if (!key) {
      return next(new GatewayError('invalid_api_key', 'missing API key: send it as "Authorization: Bearer <key>"'));
    }
    const d = digest(key);
    let found: (typeof digests)[number] | undefined;
    for (const k of digests) if (timingSafeEqual(k.d, d)) found = k;
    if (!found) return next(new GatewayError('invalid_api_key', 'incorrect API key provided'));
    res.locals.keyId = found.id;
    res.locals.tenant = found.tenant;
    next();
  };
};
