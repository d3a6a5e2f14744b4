import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type winston from 'winston';
import { unpackBundle } from '../../policies/package.js';
import { PublishedPolicies } from '../../policies/published.js';
import type { PolicyStore } from '../../policies/store.js';

/** How this replica stands with the published policies, for /readyz, GET /v1/policies and metrics. */
export interface PolicySyncStatus {
  /**
   * `in-sync`: the published revision is in force. `unpublished`: nothing is published yet; the local policy
   * serves. `unreachable`: Redis does not answer; the last good policy serves. `rejected`: the published
   * revision failed to load or its tests here; the last good one serves.
   */
  state: 'starting' | 'in-sync' | 'unpublished' | 'unreachable' | 'rejected';
  /** The revision Redis names as enforced, when known. */
  published: string | null;
  /** The revision in force on this replica. */
  enforced: string;
  /** When this replica last heard from Redis. */
  last_checked: string | null;
  error?: string;
}

export interface PolicySync {
  published: PublishedPolicies;
  status(): PolicySyncStatus;
  /**
   * Reads the enforced revision now and switches to it if it changed (after a publish on this replica). A revision
   * this replica rejected is tried again only on a publish or rollback (`retryRejected`), not on every poll.
   */
  check(trigger: string, retryRejected?: boolean): Promise<PolicySyncStatus>;
  close(): Promise<void>;
}

/**
 * Keeps this replica on the policy revision published in Redis: it listens on the change channel (pub/sub) and
 * also polls every `checkMs`, because a notification sent while a replica was disconnected is lost. A new
 * revision is unpacked into a private folder and loaded by the store's own reload, so it is validated and its
 * tests run again here; if that fails, or Redis is unreachable, the last good revision stays in force and the
 * status says why.
 *
 * @example
 * const sync = await startPolicySync({ redis, prefix: 'gateway:', store, logger, checkMs: 1000 });
 * sync.status(); // { state: 'in-sync', published: '3f2a…', enforced: '3f2a…', … }
 */
export async function startPolicySync(o: {
  redis: Redis;
  prefix: string;
  store: PolicyStore;
  logger: winston.Logger;
  checkMs: number;
  onState?: (s: PolicySyncStatus) => void;
}): Promise<PolicySync> {
  const published = new PublishedPolicies(o.redis, o.prefix);
  const cache = mkdtempSync(join(tmpdir(), 'gateway-published-'));
  let status: PolicySyncStatus = {
    state: 'starting',
    published: null,
    enforced: o.store.current().revision,
    last_checked: null,
  };
  let rejected: string | undefined;
  const set = (next: Omit<PolicySyncStatus, 'enforced'>) => {
    const changed = next.state !== status.state;
    status = { ...next, enforced: o.store.current().revision };
    if (changed && next.state === 'unreachable')
      o.logger.warn('policy store unreachable: the last good policy stays in force', { revision: status.enforced });
    if (changed) o.onState?.(status);
    return status;
  };

  const switchTo = async (revision: string, trigger: string): Promise<PolicySyncStatus> => {
    const found = await published.get(revision);
    if (!found) throw new Error(`the enforced revision ${revision} is not stored`);
    const dir = mkdtempSync(join(cache, `${revision.slice(0, 12)}-`));
    const result = await o.store.reloadFrom(unpackBundle(found.package, dir), trigger, revision);
    const now = new Date().toISOString();
    if (result.ok) return set({ state: 'in-sync', published: revision, last_checked: now });
    rejected = revision;
    rmSync(dir, { recursive: true, force: true });
    return set({ state: 'rejected', published: revision, last_checked: now, error: result.faults.join('; ') });
  };

  const checkNow = async (trigger: string, retryRejected: boolean): Promise<PolicySyncStatus> => {
    let revision: string | null;
    try {
      revision = await published.enforced();
    } catch (e) {
      return set({ ...status, state: 'unreachable', error: (e as Error).message });
    }
    const now = new Date().toISOString();
    if (revision === null) return set({ state: 'unpublished', published: null, last_checked: now });
    if (revision === o.store.current().revision)
      return set({ state: 'in-sync', published: revision, last_checked: now });
    if (revision === rejected && !retryRejected) return set({ ...status, published: revision, last_checked: now });
    try {
      return await switchTo(revision, trigger);
    } catch (e) {
      return set({ ...status, state: 'unreachable', error: (e as Error).message });
    }
  };

  // One check at a time; a request for one while another runs is answered by one more run after it.
  let running: Promise<PolicySyncStatus> | undefined;
  let again: Promise<PolicySyncStatus> | undefined;
  let retryNext = false;
  const check = (trigger: string, retryRejected = false): Promise<PolicySyncStatus> => {
    if (!running) {
      running = checkNow(trigger, retryRejected).finally(() => (running = undefined));
      return running;
    }
    retryNext ||= retryRejected;
    again ??= running
      .catch(() => status)
      .then(() => {
        again = undefined;
        const retry = retryNext;
        retryNext = false;
        return check(trigger, retry);
      });
    return again;
  };

  // The subscriber holds a connection of its own (a subscribed connection takes no other commands); each
  // (re)connection subscribes and checks for what was published while it was away.
  const subscriber = o.redis.duplicate({ enableOfflineQueue: true });
  subscriber.on('error', () => undefined);
  subscriber.on('message', (channel: string) => {
    if (channel === published.channel) void check('published (pub/sub)', true);
  });
  // Subscribing on every (re)connection also covers a first attempt made while Redis was down.
  subscriber.on('ready', () => {
    void subscriber.subscribe(published.channel).catch(() => undefined);
    void check('redis reconnected');
  });
  const timer = setInterval(() => void check('periodic check'), o.checkMs);
  timer.unref();
  await check('start-up');

  return {
    published,
    status: () => ({ ...status, enforced: o.store.current().revision }),
    check,
    async close() {
      clearInterval(timer);
      subscriber.disconnect();
      await running?.catch(() => undefined);
      rmSync(cache, { recursive: true, force: true });
    },
  };
}
