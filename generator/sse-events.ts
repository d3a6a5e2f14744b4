import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** One server-sent event as read: its `event:` name (absent for unnamed events) and its data text. */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * The events of an SSE body, in order, reading at most `maxBytes` (past it, `tooLarge()` is thrown). Used for
 * wire formats the gateway passes through (e.g. the Responses API's typed events); the chat stream keeps its own
 * loop on the hot path.
 *
 * @example
 * for await (const e of sseEvents(res.body, 32 << 20, () => new Error('too large'))) console.log(e.event, e.data);
 */
export async function* sseEvents(
  body: AsyncIterable<unknown>,
  maxBytes: number,
  tooLarge: () => Error,
): AsyncGenerator<SseEvent> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => queue.push(event) });
  const decoder = new TextDecoder();
  let read = 0;
  for await (const bytes of body) {
    read += (bytes as Uint8Array).byteLength;
    if (read > maxBytes) throw tooLarge();
    parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
    for (let e = queue.shift(); e; e = queue.shift()) yield { event: e.event, data: e.data };
  }
}
