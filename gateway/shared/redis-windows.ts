import type { Redis } from 'ioredis';
import { WINDOW_S, type WindowCheck, type WindowStore, type WindowVerdict } from './minute-window.js';

/**
 * minute-window.ts's windows in Redis, one hash per window (field: a second, value: the count in it), checked and
 * taken by one Lua script: one round trip per request, atomic across every replica. The clock is Redis's own
 * (`TIME`), so replicas whose clocks disagree still count the same seconds. Token charges waiting to be sent ride
 * along with the next check (see RedisWindows.charge), so they cost no round trip of their own.
 *
 * ARGV[1]: n, the windows to check; KEYS[1..n] with ARGV[2..2n+1]: per window, its limit and 1 (take one) or 0
 * (check only). KEYS[n+1..] with the ARGV after: windows charged first, and by how much.
 * Returns: allowed (1/0), then per checked window: used, retry-after seconds, reset seconds.
 */
const CHECK_SCRIPT = `
local now = tonumber(redis.call('TIME')[1])
local window = ${WINDOW_S}
local n = tonumber(ARGV[1])
for j = n + 1, #KEYS do
  redis.call('HINCRBY', KEYS[j], now, ARGV[n + 1 + j])
  redis.call('EXPIRE', KEYS[j], window + 1)
end
local out = {1}
local live = {}
for i = 1, n do
  local key = KEYS[i]
  local limit = tonumber(ARGV[2 * i])
  local flat = redis.call('HGETALL', key)
  local buckets, stale, used = {}, {}, 0
  for j = 1, #flat, 2 do
    local sec, n = tonumber(flat[j]), tonumber(flat[j + 1])
    if sec <= now - window then stale[#stale + 1] = flat[j]
    else buckets[#buckets + 1] = {sec, n}; used = used + n end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  local reset, retry = 0, 0
  if buckets[1] then reset = buckets[1][1] + window - now end
  if used + 1 > limit then
    local left = used
    for _, b in ipairs(buckets) do
      left = left - b[2]
      retry = b[1] + window - now
      if left + 1 <= limit then break end
    end
    out[1] = 0
  end
  live[i] = {used, retry, reset}
end
for i = 1, n do
  local key = KEYS[i]
  local s = live[i]
  if out[1] == 1 and ARGV[2 * i + 1] == '1' then
    redis.call('HINCRBY', key, now, 1)
    redis.call('EXPIRE', key, window + 1)
    s[1] = s[1] + 1
    if s[3] == 0 then s[3] = window end
  end
  out[#out + 1] = s[1]; out[#out + 1] = s[2]; out[#out + 1] = s[3]
end
return out
`;

/** Adds ARGV[i] to the window KEYS[i], in the current second (Redis's clock). */
const CHARGE_SCRIPT = `
local now = redis.call('TIME')[1]
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, now, ARGV[i])
  redis.call('EXPIRE', key, ${WINDOW_S + 1})
end
return 1
`;

/** The most windows with charges waiting; past it, a flush goes out at once. */
const MAX_PENDING = 10_000;

interface WindowCommands {
  minuteWindowCheck(...args: (string | number)[]): Promise<number[]>;
  minuteWindowCharge(...args: (string | number)[]): Promise<number>;
}

/**
 * The windows in Redis. The scripts are sent with EVALSHA (ioredis falls back to EVAL when a restarted Redis
 * no longer knows them). Names are prefixed with `prefix`, so tests and several deployments can share a server.
 *
 * @example
 * const windows = new RedisWindows(redis, 'gateway:');
 * await windows.check([{ key: 'rpm:key:key_ab12', limit: 100, take: true }]);
 */
export class RedisWindows implements WindowStore {
  private readonly redis: Redis & WindowCommands;
  /** Charges not yet in Redis: window (prefixed) → amount. */
  private pending = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    /** The longest a charge waits for a check to ride on before it is sent alone. */
    private readonly flushMs = 50,
  ) {
    redis.defineCommand('minuteWindowCheck', { lua: CHECK_SCRIPT });
    redis.defineCommand('minuteWindowCharge', { lua: CHARGE_SCRIPT });
    this.redis = redis as Redis & WindowCommands;
  }

  async check(checks: WindowCheck[]): Promise<WindowVerdict> {
    const keys = checks.map((c) => this.prefix + c.key);
    const argv = checks.flatMap((c) => [c.limit, c.take ? 1 : 0]);
    const charges = this.takePending();
    let out: number[];
    try {
      out = await this.redis.minuteWindowCheck(
        keys.length + charges.length,
        ...keys,
        ...charges.map(([k]) => k),
        checks.length,
        ...argv,
        ...charges.map(([, n]) => n),
      );
    } catch (e) {
      this.requeue(charges);
      throw e;
    }
    const states = checks.map((_, i) => ({
      used: Number(out[1 + 3 * i]),
      retryAfterS: Number(out[2 + 3 * i]),
      resetS: Number(out[3 + 3 * i]),
    }));
    return { allowed: out[0] === 1, states };
  }

  /**
   * Queues `amount` for each window; it is sent with this replica's next check, or within `flushMs` when no
   * check comes. Other replicas see the tokens that much later: a bound on how far a burst can overrun.
   */
  charge(keys: string[], amount: number): Promise<void> {
    if (amount <= 0) return Promise.resolve();
    this.requeue(keys.map((k) => [this.prefix + k, Math.round(amount)]));
    if (this.pending.size >= MAX_PENDING) return this.flush();
    this.flushTimer ??= setTimeout(() => void this.flush().catch(() => undefined), this.flushMs);
    this.flushTimer.unref();
    return Promise.resolve();
  }

  /** Sends the waiting charges now (they go back in the queue if Redis does not take them). */
  async flush(): Promise<void> {
    const charges = this.takePending();
    if (!charges.length) return;
    try {
      await this.redis.minuteWindowCharge(charges.length, ...charges.map(([k]) => k), ...charges.map(([, n]) => n));
    } catch (e) {
      this.requeue(charges);
      throw e;
    }
  }

  private takePending(): [string, number][] {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const charges = [...this.pending];
    this.pending = new Map();
    return charges;
  }

  private requeue(charges: [string, number][]): void {
    for (const [k, n] of charges) this.pending.set(k, (this.pending.get(k) ?? 0) + n);
  }
}
