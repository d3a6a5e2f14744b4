import { z } from 'zod';

/** The most conversations the embedded store keeps for `previous_response_id` before the oldest is dropped. */
export const DEFAULT_CONVERSATION_STORE_MAX = 10_000;
/** And about this many characters of turns (inputs and answers) in all: 64 Mi, some 128 MiB of strings. */
export const DEFAULT_CONVERSATION_STORE_CHARS = 64 << 20;

/**
 * The `responses` section of the configuration: how `previous_response_id` is handled (gateway/wire/responses/README.md).
 * - `maxConversations`, `maxChars`: the embedded store's caps (least recently used conversations go first);
 * - `unknownPreviousId`: an id the gateway has not seen (or has dropped) is `reject`ed with a 400, or the request
 *   is judged on its new turn only (`new-turn`), which the record notes.
 */
export const ResponsesSettingsSchema = z
  .strictObject({
    maxConversations: z.number().int().min(0).default(DEFAULT_CONVERSATION_STORE_MAX),
    maxChars: z.number().int().positive().default(DEFAULT_CONVERSATION_STORE_CHARS),
    unknownPreviousId: z.enum(['reject', 'new-turn']).default('reject'),
  })
  .prefault({});

export type ResponsesSettings = z.infer<typeof ResponsesSettingsSchema>;
