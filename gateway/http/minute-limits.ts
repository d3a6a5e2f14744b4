import type { ServerResponse } from 'node:http';
import { GatewayError } from '../pipeline/errors.js';
import type { PerMinuteLimits } from '../shared/config.js';
import type { WindowCheck, WindowState, WindowStore } from '../shared/minute-window.js';
import type { Caller } from './auth.js';

type Scope = 'key' | 'tenant';
type Measure = 'requests' | 'tokens';

/** What one response's tokens are charged to, once its usage is known (see reportUsage). */
const chargers = new WeakMap<ServerResponse, (tokens: number) => void>();

/**
 * Charges a response's tokens to its key's and tenant's per-minute windows; routes call it once the answer's
 * usage is known. A response without a token limit, or not admitted through minuteAdmission, charges nothing.
 *
 * @example reportUsage(res, completion.usage?.total_tokens);
 */
export function reportUsage(res: ServerResponse, totalTokens: number | undefined): void {
  if (totalTokens !== undefined && totalTokens > 0) chargers.get(res)?.(totalTokens);
  chargers.delete(res);
}

/** The `total_tokens` of an OpenAI usage object, when it holds a number there. */
export const totalTokens = (usage: unknown): number | undefined => {
  const t =
    typeof usage === 'object' && usage !== null ? (usage as { total_tokens?: unknown }).total_tokens : undefined;
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
};

/** `2s`, `1m5s`: how OpenAI writes its x-ratelimit-reset-* durations. */
const duration = (s: number) => (s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`);

/**
 * Per-minute limits (requests and tokens, per API key and per tenant) for the API routes, answered like OpenAI:
 * `x-ratelimit-limit-*`, `x-ratelimit-remaining-*` and `x-ratelimit-reset-*` on every admitted answer, and a 429
 * `rate_limited` with `retry-after` past a limit. Tokens are charged after the answer from its usage; admission
 * only asks that some are left, so one request can take a key past its token limit (the next ones wait).
 *
 * The windows live in `store`: Redis (shared by every replica, one round trip per request) or this process.
 *
 * @example
 * const admitMinute = minuteAdmission({ limits: { key: { requests: 100 } }, store: new LocalWindows() });
 * await admitMinute(caller, clientAddress, res);
 */
export function minuteAdmission({
  limits,
  store,
  onReject,
}: {
  limits: PerMinuteLimits;
  store: WindowStore;
  onReject?: (reason: 'rate_limited' | 'limits_unavailable') => void;
}): (caller: Caller, fallbackId: string, res: ServerResponse) => Promise<void> {
  return async function admitPerMinute(caller, fallbackId, res) {
    const subjects: [Scope, string | null][] = [
      ['key', caller.keyId ?? fallbackId],
      ['tenant', caller.tenant],
    ];
    const named: { scope: Scope; measure: Measure; check: WindowCheck }[] = [];
    for (const [scope, id] of subjects) {
      const l = limits[scope];
      if (!l || id === null) continue;
      if (l.requests)
        named.push({ scope, measure: 'requests', check: { key: `rpm:${scope}:${id}`, limit: l.requests, take: true } });
      if (l.tokens)
        named.push({ scope, measure: 'tokens', check: { key: `tpm:${scope}:${id}`, limit: l.tokens, take: false } });
    }
    if (!named.length) return;
    let verdict;
    try {
      verdict = await store.check(named.map((n) => n.check));
    } catch (e) {
      onReject?.('limits_unavailable');
      res.setHeader('retry-after', '1');
      throw e;
    }
    // The headers show, per measure, the window with the least left (a tenant's, when it is tighter than the key's).
    const tightest = new Map<Measure, { limit: number; state: WindowState }>();
    named.forEach((n, i) => {
      const state = verdict.states[i];
      const seen = tightest.get(n.measure);
      if (state && (!seen || n.check.limit - state.used < seen.limit - seen.state.used))
        tightest.set(n.measure, { limit: n.check.limit, state });
    });
    for (const [measure, { limit, state }] of tightest) {
      res.setHeader(`x-ratelimit-limit-${measure}`, String(limit));
      res.setHeader(`x-ratelimit-remaining-${measure}`, String(Math.max(0, limit - state.used)));
      res.setHeader(`x-ratelimit-reset-${measure}`, duration(state.retryAfterS || state.resetS));
    }
    if (!verdict.allowed) {
      const i = verdict.states.findIndex((s) => s.retryAfterS > 0);
      const n = named[i];
      const wait = verdict.states[i]?.retryAfterS ?? 1;
      onReject?.('rate_limited');
      res.setHeader('retry-after', String(wait));
      const what = n?.measure === 'tokens' ? 'tokens per minute (TPM)' : 'requests per minute (RPM)';
      throw new GatewayError(
        'rate_limited',
        `Rate limit reached for ${what} on this ${n?.scope ?? 'key'}: limit ${n?.check.limit}. Please try again in ${wait}s.`,
      );
    }
    const tokenKeys = named.filter((n) => n.measure === 'tokens').map((n) => n.check.key);
    if (tokenKeys.length) chargers.set(res, (tokens) => void store.charge(tokenKeys, tokens).catch(() => undefined));
  };
}
