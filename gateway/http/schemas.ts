import { z } from 'zod';

/** OpenAI chat-completions body. Unknown fields are kept and forwarded upstream. */
const ContentPart = z.looseObject({ type: z.string().min(1), text: z.string().optional() });

export const MessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
});

export const ChatBodySchema = z.looseObject({
  model: z.string().min(1, 'model is required'),
  messages: z.array(MessageSchema).min(1, 'messages must hold at least one message'),
  stream: z.boolean().optional(),
  n: z.number().int().min(1).max(8).optional(),
});

/** OpenAI moderations body: a string or an array of strings. */
export const ModerationBodySchema = z.looseObject({
  input: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
  model: z.string().optional(),
});

/** `messages[0].role` from a zod path. */
export const paramOf = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || null;
