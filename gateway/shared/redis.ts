import { Redis } from 'ioredis';
import type winston from 'winston';
import { redactRedisUrl, type RedisConfig } from './config.js';

/**
 * A Redis connection for shared state that never makes a request wait on an outage: commands fail at once while
 * it is disconnected (no offline queue) and after `commandTimeoutMs` on a stalled link, and it reconnects on
 * its own, forever, at most a second apart. Each transition (lost, back) is logged once, without the password.
 *
 * @example
 * const redis = connectRedis(config.redis, logger, (up) => metrics.redisUp.set(up ? 1 : 0));
 */
export function connectRedis(cfg: RedisConfig, logger: winston.Logger, onState?: (up: boolean) => void): Redis {
  const where = redactRedisUrl(cfg.url);
  const redis = new Redis(cfg.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: cfg.commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
  let up: boolean | undefined;
  const set = (now: boolean, error?: string) => {
    if (up === now) return;
    up = now;
    onState?.(now);
    if (now) logger.info('redis connected: limits and policies are shared', { redis: where });
    else logger.warn('redis unreachable: falling back until it is back', { redis: where, error });
  };
  redis.on('ready', () => set(true));
  // ioredis reports each failed attempt; the first one of an outage is logged, the rest counted in the state.
  redis.on('error', (e: Error) => set(false, e.message));
  redis.on('close', () => set(false, 'connection closed'));
  return redis;
}

/** Whether a connection can take commands now. */
export const redisReady = (redis: Redis) => redis.status === 'ready';
