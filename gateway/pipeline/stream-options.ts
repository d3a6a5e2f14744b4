import { z } from 'zod';

/**
 * How streamed output is moderated. The gateway's configuration carries this as its `stream` block
 * (`stream: StreamOptionsSchema.prefault({})`, or the GATEWAY_STREAM_* variables); a policy's own `stream`
 * block overrides it for that policy's requests, and an enforced output rule's `streamMode` sets the least it holds
 * (see openStream in stream.ts).
 */
export const StreamOptionsSchema = z
  .strictObject({
    /**
     * `progressive`: each window is checked as soon as the upstream pauses and released if it passes, all but a
     * tail that may still grow into a redacted span, so tokens flow and no unchecked text reaches the client.
     * `buffer`: each window of `windowChars` is held until it passes, all but its last `overlapChars`.
     * `stream-first`: deltas are forwarded at once and checked in parallel; a violation cuts the stream.
     */
    mode: z.enum(['progressive', 'buffer', 'stream-first']).default('progressive'),
    /** Characters of new text per output check (in `progressive` mode: at most, when the upstream does not pause). */
    windowChars: z.number().int().positive().default(400),
    /** Characters of already-checked text prepended to each window as context (catches a violation split across windows). */
    overlapChars: z.number().int().min(0).default(100),
    /** Check the whole answer once more at the end, before the finish chunk is released. */
    finalCheck: z.boolean().default(true),
    /**
     * Start the upstream call while the input stage runs; its response is held until the verdict, and the call is
     * aborted on a refusal (or re-sent, redacted, on a redaction). The upstream sees the prompt before the verdict.
     */
    concurrentInput: z.boolean().default(false),
    /** Milliseconds without a write after which the client gets an SSE comment (`: keep-alive`); 0 turns it off. */
    keepAliveMs: z.number().int().min(0).default(15_000),
  })
  .refine((o) => o.overlapChars < o.windowChars, {
    path: ['overlapChars'],
    message: 'must be smaller than windowChars',
  });

export type StreamOptions = z.infer<typeof StreamOptionsSchema>;
export type StreamMode = StreamOptions['mode'];

export const DEFAULT_STREAM_OPTIONS: StreamOptions = StreamOptionsSchema.parse({});

/**
 * Fills defaults and validates. A bad setting is a configuration mistake, so it throws at construction.
 *
 * @example
 * const o = streamOptions({ mode: 'stream-first', windowChars: 200, overlapChars: 50 });
 */
export function streamOptions(partial: Partial<StreamOptions> = {}): StreamOptions {
  const parsed = StreamOptionsSchema.safeParse(partial);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  throw new Error(`stream.${issue?.path.map(String).join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
}
