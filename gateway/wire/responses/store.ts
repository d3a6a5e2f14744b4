import type { ChatMessage } from '../../../generator/types.js';

/** One conversation as the gateway judged it: every turn's input and the answers as the client got them. */
export interface Conversation {
  /** Whose it is: only the same API key (or, with auth off, anyone) may continue it. */
  keyId: string | null;
  messages: ChatMessage[];
  /** About how much this entry adds to what is held: its own turn's size (earlier turns are shared), in UTF-16 units. */
  size: number;
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
 * The embedded conversation store: in memory, bounded to `max` conversations and about `maxSize` characters of
 * turns, the least recently used dropped first (a Map keeps insertion order; a read moves the entry to the end).
 * Each entry holds the whole conversation so far, its earlier turns shared by reference with the entry it
 * continues, so an entry counts only its own turn's size. `max: 0` keeps nothing: every id is unknown.
 *
 * @example
 * const store = new MemoryConversationStore(10_000, 64 << 20);
 * await store.set('resp_1', { keyId: null, messages, size: 120 });
 */
export class MemoryConversationStore implements ConversationStore {
  private readonly entries = new Map<string, Conversation>();
  private held = 0;

  constructor(
    readonly max: number,
    readonly maxSize = Infinity,
  ) {}

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
    this.drop(responseId);
    this.entries.set(responseId, conversation);
    this.held += conversation.size;
    while (this.entries.size > this.max || this.held > this.maxSize) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.drop(oldest);
    }
  }

  private drop(responseId: string): void {
    const c = this.entries.get(responseId);
    if (!c) return;
    this.entries.delete(responseId);
    this.held -= c.size;
  }

  get size(): number {
    return this.entries.size;
  }
}
