import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';

/** A streamed chat completion chunk, or the error event a failed stream ends with, as the gateway sends it. */
export interface SseChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: { index: number; delta?: { role?: string; content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  error?: { message: string; type: string; code: string | null; param: string | null };
  /** The stub upstream's own wait before it sent the chunk (bench:stream). */
  stub_ms?: number;
}

/** One SSE event as the client saw it: its data (parsed JSON, or `[DONE]`) and when it arrived (performance.now()). */
export interface SseEvent {
  at: number;
  data: SseChunk | '[DONE]';
}

/** The chunk in an event's data; throws on `[DONE]`, so a test that expected a chunk there fails. */
export function chunk(data: SseChunk | '[DONE]'): SseChunk {
  if (data === '[DONE]') throw new Error('expected a chunk, got [DONE]');
  return data;
}

/** An event's chunk; throws on `[DONE]`. */
export const chunkOf = (event: SseEvent): SseChunk => chunk(event.data);

const chunksIn = (events: SseEvent[]): SseChunk[] => events.flatMap((e) => (e.data === '[DONE]' ? [] : [e.data]));

export interface SseResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  started: number;
  events: SseEvent[];
  /** SSE comments received (`: keep-alive`). */
  comments: string[];
}

const agent = new Agent({ connections: 1024, keepAliveTimeout: 10_000 });

/**
 * Posts a streamed chat completion and collects every event with its arrival time. `abortAfter` destroys the
 * connection once that many events have arrived (a client that goes away).
 *
 * @example
 * const r = await sseChat(`${gw.url}/v1/chat/completions`, chat('hi'), auth);
 * textOf(r.events); // the assistant's text
 */
export async function sseChat(
  url: string,
  body: object,
  headers: Record<string, string> = {},
  { abortAfter, dispatcher = agent }: { abortAfter?: number; dispatcher?: Agent } = {},
): Promise<SseResult> {
  const controller = new AbortController();
  const started = performance.now();
  const res = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const parser = createParser({
    onEvent: (e) =>
      events.push({ at: performance.now(), data: e.data === '[DONE]' ? e.data : (JSON.parse(e.data) as SseChunk) }),
    onComment: (c) => comments.push(c.trim()),
  });
  const decoder = new TextDecoder();
  try {
    for await (const bytes of res.body) {
      parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
      if (abortAfter !== undefined && events.length >= abortAfter) {
        controller.abort();
        break;
      }
    }
  } catch (e) {
    if (!controller.signal.aborted) throw e;
  }
  return { status: res.statusCode, headers: res.headers, started, events, comments };
}

/** The assistant's text across the events. */
export const textOf = (events: SseEvent[]) =>
  chunksIn(events)
    .map((chunk) => (chunk.choices ?? []).map((c) => c.delta?.content ?? '').join(''))
    .join('');

/** Events that carry content, in order, with their chunks. */
export const contentEvents = (events: SseEvent[]): { at: number; data: SseChunk }[] =>
  events.flatMap((e) =>
    e.data !== '[DONE]' && e.data.choices?.some((c) => c.delta?.content) ? [{ ...e, data: e.data }] : [],
  );

/** The last finish_reason sent. */
export const finishOf = (events: SseEvent[]) =>
  chunksIn(events)
    .flatMap((chunk) => (chunk.choices ?? []).map((c) => c.finish_reason))
    .filter(Boolean)
    .at(-1) ?? null;
