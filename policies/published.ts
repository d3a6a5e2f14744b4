import type { Redis } from 'ioredis';
import { BundlePackageSchema, type BundlePackage } from './package.js';

/** One published revision: the packed bundle and when it was published. Immutable once stored. */
export interface PublishedRevision {
  revision: string;
  package: BundlePackage;
  publishedAt: string;
}

/** One line of the publication history: which revision was put in force, when, and how. */
export interface PublishEvent {
  revision: string;
  at: string;
  action: 'publish' | 'rollback';
}

/**
 * Policy bundles published for every replica, in Redis: each revision under its own key, written once and never
 * changed (`<prefix>policy:rev:<revision>`), a pointer to the enforced one (`<prefix>policy:enforced`), the
 * history of what was put in force (`<prefix>policy:history`), and a channel (`<prefix>policy:changed`) on which
 * the new revision is announced. Validation happens before publish, by the caller (the gateway or the CLI), with
 * the same loader and tests as a reload; every replica loads the revision again and keeps its last good one if
 * that fails.
 *
 * @example
 * const published = new PublishedPolicies(redis, 'gateway:');
 * await published.publish(bundle.revision, packBundle('policies/default'));
 * await published.rollback('3f2a…'); // any earlier revision, by id
 */
export class PublishedPolicies {
  readonly channel: string;
  private readonly enforcedKey: string;
  private readonly historyKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    this.channel = `${prefix}policy:changed`;
    this.enforcedKey = `${prefix}policy:enforced`;
    this.historyKey = `${prefix}policy:history`;
  }

  private revisionKey = (revision: string) => `${this.prefix}policy:rev:${revision}`;

  /** Stores a validated revision (if new) and puts it in force, then announces it; one transaction. */
  async publish(revision: string, pkg: BundlePackage): Promise<PublishEvent> {
    const event: PublishEvent = { revision, at: new Date().toISOString(), action: 'publish' };
    const stored: PublishedRevision = { revision, package: pkg, publishedAt: event.at };
    await this.redis
      .multi()
      .set(this.revisionKey(revision), JSON.stringify(stored), 'NX')
      .set(this.enforcedKey, revision)
      .rpush(this.historyKey, JSON.stringify(event))
      .publish(this.channel, revision)
      .exec();
    return event;
  }

  /** Puts an earlier revision back in force; throws when no such revision was published. */
  async rollback(revision: string): Promise<PublishEvent> {
    if (!(await this.redis.exists(this.revisionKey(revision)))) throw new UnknownRevisionError(revision);
    const event: PublishEvent = { revision, at: new Date().toISOString(), action: 'rollback' };
    await this.redis
      .multi()
      .set(this.enforcedKey, revision)
      .rpush(this.historyKey, JSON.stringify(event))
      .publish(this.channel, revision)
      .exec();
    return event;
  }

  /** The revision in force, or null before anything was published. */
  enforced(): Promise<string | null> {
    return this.redis.get(this.enforcedKey);
  }

  /** A published revision, or null. Throws when what is stored is not a package (a foreign writer). */
  async get(revision: string): Promise<PublishedRevision | null> {
    const text = await this.redis.get(this.revisionKey(revision));
    if (text === null) return null;
    const doc = JSON.parse(text) as { revision?: unknown; package?: unknown; publishedAt?: unknown };
    return {
      revision: String(doc.revision),
      package: BundlePackageSchema.parse(doc.package),
      publishedAt: String(doc.publishedAt),
    };
  }

  /** The last `count` publications and rollbacks, newest first. */
  async history(count = 50): Promise<PublishEvent[]> {
    const lines = await this.redis.lrange(this.historyKey, -count, -1);
    return lines.map((l) => JSON.parse(l) as PublishEvent).reverse();
  }
}

export class UnknownRevisionError extends Error {
  override name = 'UnknownRevisionError';
  constructor(readonly revision: string) {
    super(`no published policy revision "${revision}"`);
  }
}
