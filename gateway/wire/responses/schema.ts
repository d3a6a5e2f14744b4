import { z } from 'zod';

/**
 * A Responses API request body (POST /v1/responses), as far as the gateway reads it; the items of `input` are
 * checked one by one in to-chat.ts, whose errors name the exact item and field. Unknown fields are kept.
 */
export const ResponsesBodySchema = z.looseObject({
  model: z.string().min(1, 'model is required'),
  input: z.union([
    z.string(),
    z.array(z.looseObject({ type: z.string().optional() })).min(1, 'input must hold at least one item'),
  ]),
  instructions: z.string().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  store: z.boolean().nullable().optional(),
  previous_response_id: z.string().min(1).nullable().optional(),
  tools: z.array(z.looseObject({ type: z.string().min(1) })).optional(),
  max_output_tokens: z.number().int().positive().nullable().optional(),
});

export type ResponsesBody = z.infer<typeof ResponsesBodySchema>;
