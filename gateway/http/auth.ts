import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { GatewayError } from '../pipeline/errors.js';

/** A key's id in records and logs: a truncated sha256, never the key. */
export const keyId = (key: string) => `key_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A lookup of a presented key among configured ones, in constant time: fixed-length digests, each compared in
 * full, and every one compared whether or not an earlier one matched. Client and admin keys both go through it.
 *
 * @example
 * const isAdmin = keyLookup([['sk-admin', true]]);
 * isAdmin('sk-admin'); // true
 */
export function keyLookup<T>(entries: readonly (readonly [key: string, value: T])[]): (key: string) => T | undefined {
  const digests = entries.map(([key, value]) => ({ digest: digest(key), value }));
  return function lookup(key) {
    const presented = digest(key);
    let found: T | undefined;
    for (const entry of digests) if (timingSafeEqual(entry.digest, presented)) found = entry.value;
    return found;
  };
}

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

/** Who sent a request: the hashed key id and the key's tenant (both null with auth off). */
export interface Caller {
  keyId: string | null;
  tenant: string | null;
}

const ANONYMOUS: Caller = { keyId: null, tenant: null };

/**
 * Returns a check of the client's API key against the configured keys, in constant time: the caller it
 * identifies, or a 401 GatewayError. With auth off, every request passes as anonymous.
 *
 * @example
 * const authenticate = keyChecker({ mode: 'keys', keys: [{ key: 'sk-1', tenant: 'acme' }] });
 * authenticate(req.headers); // { keyId: 'key_…', tenant: 'acme' }
 */
export function keyChecker({
  mode,
  keys,
}: {
  mode: 'keys' | 'off';
  keys: ClientKey[];
}): (headers: IncomingHttpHeaders) => Caller {
  const callerOf = keyLookup(keys.map((k) => [k.key, { keyId: keyId(k.key), tenant: k.tenant }] as const));
  return function authenticate(headers) {
    if (mode === 'off') return ANONYMOUS;
    const key = presentedKey(headers.authorization, headers['x-api-key']);
    if (!key)
      throw new GatewayError(
        'invalid_api_key',
        'missing API key: send it as "Authorization: Bearer <key>" or "x-api-key: <key>"',
      );
    const found = callerOf(key);
    if (!found) throw new GatewayError('invalid_api_key', 'incorrect API key provided');
    return found;
  };
}
