import { z } from 'zod';

/**
 * The Anthropic Messages API request body (`POST /v1/messages`), as far as the gateway reads it. Blocks of other
 * types (image, document, thinking, server tools' blocks) pass validation and are handled by the translation;
 * unknown fields are kept, so an Anthropic-native upstream gets them as the client sent them.
 */
const Block = z.looseObject({ type: z.string().min(1) });

export const TextBlockSchema = z.looseObject({ type: z.literal('text'), text: z.string() });

export const MessagesBodySchema = z.looseObject({
  model: z.string().min(1, 'model is required'),
  max_tokens: z.number().int().min(1, 'max_tokens must be at least 1'),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant']),
        content: z.union([z.string(), z.array(Block)]),
      }),
    )
    .min(1, 'messages must hold at least one message'),
  system: z.union([z.string(), z.array(TextBlockSchema)]).optional(),
  stream: z.boolean().optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  top_k: z.number().int().optional(),
  tools: z.array(z.looseObject({ name: z.string().min(1) })).optional(),
  tool_choice: z
    .looseObject({
      type: z.enum(['auto', 'any', 'tool', 'none']),
      name: z.string().optional(),
      disable_parallel_tool_use: z.boolean().optional(),
    })
    .optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});

export type MessagesBody = z.infer<typeof MessagesBodySchema>;

/** One content block as the translation reads it: its type and whatever else it carries. */
export type Block = z.infer<typeof Block>;
