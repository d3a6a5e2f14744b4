import type { ChatMessage } from '../../../generator/types.js';

/** One conversation as the gateway judged it: every turn's input and the answers as the client got them. */
export interface Conversation {
  /** Whose it is: only the same API key (or, with auth off, anyone) may continue it. */
  keyId: string | null;
  messages: ChatMessage[];
}

/**
 * Where conversations live for `previous_response_id`, keyed by the response id the gateway returned. The
 * embedded store below is the default; a shared store (PostgreSQL, Redis) implements the same two calls.
 */
export interface ConversationStore {
  get(responseId: string): Promise<Conversation | undefined>;
  set(responseId: string, conversation: Conversation): Promise<void>;
}

/**
 * The embedded conversation store: in memory, bounded to `max` conversations, the least recently used dropped
 * first (a Map keeps insertion order; a read moves the entry to the end). Each entry holds the whole
 * conversation so far (earlier turns are shared by reference, not copied). `max: 0` keeps nothing, so every
 * `previous_response_id` is unknown.
 *
 * @example
 * const store = new MemoryConversationStore(10_000);
 * await store.set('resp_1', { keyId: null, messages });
 */
export class MemoryConversationStore implements ConversationStore {
  private readonly entries = new Map<string, Conversation>();

  constructor(readonly max: number) {}

  async get(responseId: string): Promise<Conversation | undefined> {
    const c = this.entries.get(responseId);
    if (c) {
      this.entries.delete(responseId);
      this.entries.set(responseId, c);
    }
    return c;
  }

  async set(responseId: string, conversation: Conversation): Promise<void> {
    if (this.max <= 0) return;
    this.entries.delete(responseId);
    this.entries.set(responseId, conversation);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
