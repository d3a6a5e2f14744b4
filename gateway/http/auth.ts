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

/**
 * Checks the client's API key against the configured keys in constant time and stores its hashed id on
 * `res.locals.keyId`. With auth off, every request passes with `keyId = null`.
 */
export const apiKeyAuth = ({ mode, keys }: { mode: 'keys' | 'off'; keys: string[] }): RequestHandler => {
  const digests = keys.map(digest);
  return function apiKeyAuth(req, res, next) {
    if (mode === 'off') {
      res.locals.keyId = null;
      return next();
    }
    const key = presentedKey(req.headers.authorization, req.headers['x-api-key']);
    if (!key) {
      return next(new GatewayError('invalid_api_key', 'missing API key: send it as "Authorization: Bearer <key>"'));
    }
    const d = digest(key);
    if (!digests.some((k) => timingSafeEqual(k, d))) {
      return next(new GatewayError('invalid_api_key', 'incorrect API key provided'));
    }
    res.locals.keyId = keyId(key);
    next();
  };
};
