import type { ServerResponse } from 'node:http';
import { GatewayError } from '../pipeline/errors.js';

export interface LimitOptions {
  /** Requests handled at once; past it, new ones get 429 at once (never queued unchecked, never forwarded). */
  maxConcurrent: number;
  /** Per API key (or client address when auth is off): sustained requests per second and burst size. */
  perKey?: { rps: number; burst: number };
  /** Called for each rejection, for metrics. */
  onReject?: (reason: 'overloaded' | 'rate_limited') => void;
}

/**
 * Admission control for the API routes. A request over the concurrency limit, or over its key's rate, is
 * answered 429 with `retry-after` before anything else happens — it is never checked halfway or forwarded, so
 * overload cannot make the gateway fail open. Accepted requests run to completion unaffected.
 *
 * The returned function admits one request for `key` (its key id, or the client address when auth is off) and
 * counts it in flight until `res` finishes or closes; over a limit, it sets `retry-after` on `res` and throws the
 * 429 GatewayError.
 *
 * @example
 * const admit = admissionControl({ maxConcurrent: 256, perKey: { rps: 20, burst: 40 } });
 * admit(caller.keyId ?? req.socket.remoteAddress, res);
 */
export function admissionControl({
  maxConcurrent,
  perKey,
  onReject,
}: LimitOptions): (key: string, res: ServerResponse) => void {
  let inFlight = 0;
  const buckets = new Map<string, { tokens: number; at: number }>();
  const take = (key: string): number => {
    if (!perKey) return 0;
    const now = performance.now();
    const b = buckets.get(key) ?? { tokens: perKey.burst, at: now };
    b.tokens = Math.min(perKey.burst, b.tokens + ((now - b.at) / 1000) * perKey.rps);
    b.at = now;
    buckets.set(key, b);
    const oldest = buckets.keys().next();
    if (buckets.size > 100_000 && !oldest.done) buckets.delete(oldest.value);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / perKey.rps);
  };
  return function admit(key, res) {
    if (inFlight >= maxConcurrent) {
      onReject?.('overloaded');
      res.setHeader('retry-after', '1');
      throw new GatewayError(
        'overloaded',
        `the gateway is at its limit of ${maxConcurrent} requests in flight; retry shortly`,
      );
    }
    const wait = take(key);
    if (wait > 0 && perKey) {
      onReject?.('rate_limited');
      res.setHeader('retry-after', String(wait));
      throw new GatewayError(
        'rate_limited',
        `rate limit of ${perKey.rps} requests per second for this key reached; retry after ${wait} s`,
      );
    }
    inFlight++;
    let done = false;
    const release = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.once('finish', release);
    res.once('close', release);
  };
}
