import type { Redis } from 'ioredis';
import { WINDOW_S, type WindowCheck, type WindowStore, type WindowVerdict } from './minute-window.js';

/**
 * minute-window.ts's windows in Redis, one hash per window (field: a second, value: the count in it), checked and
 * taken by one Lua script: one round trip per request, atomic across every replica. The clock is Redis's own
 * (`TIME`), so replicas whose clocks disagree still count the same seconds.
 *
 * KEYS: the windows. ARGV: per window, its limit and 1 (take one) or 0 (check only).
 * Returns: allowed (1/0), then per window: used, retry-after seconds, reset seconds.
 */
const CHECK_SCRIPT = `
local now = tonumber(redis.call('TIME')[1])
local window = ${WINDOW_S}
local out = {1}
local live = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
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
for i, key in ipairs(KEYS) do
  local s = live[i]
  if out[1] == 1 and ARGV[2 * i] == '1' then
    redis.call('HINCRBY', key, now, 1)
    redis.call('EXPIRE', key, window + 1)
    s[1] = s[1] + 1
    if s[3] == 0 then s[3] = window end
  end
  out[#out + 1] = s[1]; out[#out + 1] = s[2]; out[#out + 1] = s[3]
end
return out
`;

/** Adds ARGV[1] to every window in KEYS, in the current second (Redis's clock). */
const CHARGE_SCRIPT = `
local now = redis.call('TIME')[1]
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, now, ARGV[1])
  redis.call('EXPIRE', key, ${WINDOW_S + 1})
end
return 1
`;

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

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('minuteWindowCheck', { lua: CHECK_SCRIPT });
    redis.defineCommand('minuteWindowCharge', { lua: CHARGE_SCRIPT });
    this.redis = redis as Redis & WindowCommands;
  }

  async check(checks: WindowCheck[]): Promise<WindowVerdict> {
    const keys = checks.map((c) => this.prefix + c.key);
    const argv = checks.flatMap((c) => [c.limit, c.take ? 1 : 0]);
    const out = await this.redis.minuteWindowCheck(keys.length, ...keys, ...argv);
    const states = checks.map((_, i) => ({
      used: Number(out[1 + 3 * i]),
      retryAfterS: Number(out[2 + 3 * i]),
      resetS: Number(out[3 + 3 * i]),
    }));
    return { allowed: out[0] === 1, states };
  }

  async charge(keys: string[], amount: number): Promise<void> {
    if (!keys.length || amount <= 0) return;
    const full = keys.map((k) => this.prefix + k);
    await this.redis.minuteWindowCharge(full.length, ...full, Math.round(amount));
  }
}
