import type { Redis } from 'ioredis';
import { GatewayError } from '../pipeline/errors.js';
import { LocalWindows, type WindowCheck, type WindowStore, type WindowVerdict } from './minute-window.js';
import { redisReady } from './redis.js';
import { RedisWindows } from './redis-windows.js';

/** Which store decided a request: Redis, this process (Redis down, `whenDown: local`), or none (`refuse`). */
export type WindowSource = 'redis' | 'local' | 'refused';

/**
 * The windows in Redis while it answers, and a documented fallback while it does not: `local` counts in this
 * process's memory (so each replica enforces the whole limit alone: up to replicas × limit get through during
 * the outage), `refuse` answers 503 `not_ready`. A failed command counts as an outage for that request only;
 * the next request tries Redis again as soon as the connection is back, so recovery needs no restart.
 *
 * @example
 * const windows = new FailoverWindows(redis, 'gateway:', 'local', (source) => metrics.limitChecks.inc({ source }));
 */
export class FailoverWindows implements WindowStore {
  private readonly shared: RedisWindows;
  private readonly local = new LocalWindows();

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly whenDown: 'local' | 'refuse',
    private readonly onDecided?: (source: WindowSource) => void,
  ) {
    this.shared = new RedisWindows(redis, prefix);
  }

  async check(checks: WindowCheck[]): Promise<WindowVerdict> {
    if (redisReady(this.redis)) {
      try {
        const verdict = await this.shared.check(checks);
        this.onDecided?.('redis');
        return verdict;
      } catch {
        // Unreachable or too slow: decided below as during any outage.
      }
    }
    this.onDecided?.(this.whenDown === 'local' ? 'local' : 'refused');
    if (this.whenDown === 'refuse')
      throw new GatewayError(
        'not_ready',
        'the shared rate limits are unavailable (Redis is unreachable); retry shortly',
      );
    return this.local.check(checks);
  }

  async charge(keys: string[], amount: number): Promise<void> {
    if (redisReady(this.redis)) {
      try {
        return await this.shared.charge(keys, amount);
      } catch {
        // Counted locally instead, as admissions are during an outage.
      }
    }
    await this.local.charge(keys, amount);
  }
}
