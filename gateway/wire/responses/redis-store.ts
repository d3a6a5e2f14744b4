import type { Redis } from 'ioredis';
import { GatewayError } from '../../pipeline/errors.js';
import type { Conversation, ConversationStore } from './store.js';

/** How long a conversation stays continuable in Redis after its last turn: 30 days, as OpenAI keeps responses. */
export const CONVERSATION_TTL_SECONDS = 30 * 24 * 3600;

/**
 * The conversation store shared by every replica (with `redis` configured): one key per response id, holding the
 * whole conversation so far as JSON and expiring `ttlSeconds` after it was written, so `previous_response_id`
 * works whichever replica answered the earlier turn. Unlike the embedded store, each entry repeats the earlier
 * turns (Redis cannot share them by reference); the expiry bounds what is held.
 *
 * A read that cannot reach Redis is a 503 `not_ready`: judging only the new turn would pass a conversation
 * unseen. A write that fails leaves the id unknown, so a later turn is rejected (or judged alone, by
 * `responses.unknownPreviousId`), never judged without its history as if it had one.
 *
 * @example const store = new RedisConversationStore(shared.redis, 'gateway:');
 */
export class RedisConversationStore implements ConversationStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /** Told of a write that failed (the answer has gone out; the id stays unknown). */
    private readonly onWriteError: (e: Error) => void = () => {},
    private readonly ttlSeconds = CONVERSATION_TTL_SECONDS,
  ) {}

  private key(responseId: string): string {
    return `${this.prefix}conv:${responseId}`;
  }

  async get(responseId: string): Promise<Conversation | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.get(this.key(responseId));
    } catch (e) {
      throw new GatewayError(
        'not_ready',
        `previous_response_id: the conversation store (Redis) is unreachable (${(e as Error).message}); try again`,
        'previous_response_id',
      );
    }
    return raw === null ? undefined : (JSON.parse(raw) as Conversation);
  }

  async set(responseId: string, conversation: Conversation): Promise<void> {
    try {
      await this.redis.set(this.key(responseId), JSON.stringify(conversation), 'EX', this.ttlSeconds);
    } catch (e) {
      this.onWriteError(e as Error);
    }
  }
}
