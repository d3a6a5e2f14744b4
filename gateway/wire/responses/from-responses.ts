import {
  GeneratorError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChunkChoice,
} from '../../../generator/types.js';

type Item = Record<string, unknown>;
const isObject = (v: unknown): v is Item => v !== null && typeof v === 'object' && !Array.isArray(v);
const badResponse = (message: string) => new GeneratorError('bad_response', message);

/** Responses' usage in chat's names, so the chat-shaped answer carries it to from-chat.ts and back. */
export function chatUsage(u: unknown): Record<string, unknown> | undefined {
  if (!isObject(u)) return undefined;
  return {
    prompt_tokens: u.input_tokens ?? 0,
    completion_tokens: u.output_tokens ?? 0,
    total_tokens: u.total_tokens ?? 0,
    prompt_tokens_details: { cached_tokens: (u.input_tokens_details as Item | undefined)?.cached_tokens ?? 0 },
    completion_tokens_details: {
      reasoning_tokens: (u.output_tokens_details as Item | undefined)?.reasoning_tokens ?? 0,
    },
  };
}

/** How a Response ended, as chat's finish_reason. */
function finishReason(status: unknown, incomplete: unknown, toolCalls: boolean): string {
  const reason = isObject(incomplete) ? incomplete.reason : undefined;
  if (status === 'incomplete') return reason === 'content_filter' ? 'content_filter' : 'length';
  return toolCalls ? 'tool_calls' : 'stop';
}

/**
 * An upstream's Response object as a chat completion for the output stage: the text of its `message` items
 * (`output_text` and `refusal` parts) as the content, its `function_call` items as `tool_calls`. Other items
 * (reasoning, hosted tools' calls) are not judged, and not passed on. A text that is not a string is a bad
 * response: it would reach the client unchecked.
 */
export function responseToCompletion(r: unknown): ChatCompletion {
  if (!isObject(r) || !Array.isArray(r.output)) throw badResponse('upstream response has no output array');
  let text = '';
  const toolCalls: Item[] = [];
  for (const item of r.output) {
    if (!isObject(item)) throw badResponse('upstream response has an output item that is not an object');
    if (item.type === 'message') {
      for (const part of Array.isArray(item.content) ? item.content : []) {
        const t = isObject(part) ? (part.type === 'refusal' ? part.refusal : part.text) : undefined;
        if (typeof t !== 'string') throw badResponse('upstream response has a content part whose text is not text');
        text += t;
      }
    } else if (item.type === 'function_call') {
      if (typeof item.arguments !== 'string' || typeof item.name !== 'string')
        throw badResponse('upstream response has a function call whose name or arguments are not text');
      toolCalls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
    }
  }
  return {
    id: String(r.id ?? ''),
    object: 'chat.completion',
    created: typeof r.created_at === 'number' ? r.created_at : Math.floor(Date.now() / 1000),
    model: String(r.model ?? ''),
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: finishReason(r.status, r.incomplete_details, toolCalls.length > 0),
      },
    ],
    usage: chatUsage(r.usage),
  };
}

/**
 * An upstream's Responses event stream as chat completion chunks, for the output stage's windows: text and
 * refusal deltas become content deltas; a `function_call` item becomes a tool call (id and name first, then its
 * argument deltas); `response.completed` / `response.incomplete` end it with a finish chunk and a usage chunk.
 * `error` and `response.failed` fail it as the upstream's error. Other events are not passed on.
 */
export async function* responseEventsToChunks(
  events: AsyncIterable<{ event: string | undefined; data: string }>,
  scrub: <T>(body: T) => T,
  onCreated: (response: Item) => void,
): AsyncGenerator<ChatCompletionChunk> {
  let meta = { id: '', model: '', created: Math.floor(Date.now() / 1000) };
  /** Function call items by their item id and output index, as chat's tool call index. */
  const calls = new Map<string, number>();
  const chunk = (delta: ChunkChoice['delta'], finish: string | null = null, extra: Item = {}): ChatCompletionChunk => ({
    ...meta,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
    ...extra,
  });
  let finished = false;
  for await (const e of events) {
    let data: Item;
    try {
      const parsed: unknown = JSON.parse(e.data);
      if (!isObject(parsed)) throw new Error('not an object');
      data = parsed;
    } catch {
      throw badResponse('upstream sent an SSE event that is not a JSON object');
    }
    const type = data.type ?? e.event;
    const response = isObject(data.response) ? data.response : undefined;
    if (type === 'error' || type === 'response.failed') {
      throw new GeneratorError('upstream_status', 'upstream sent an error event', 502, scrub(data));
    } else if (type === 'response.created' && response) {
      meta = {
        id: String(response.id ?? ''),
        model: String(response.model ?? ''),
        created: typeof response.created_at === 'number' ? response.created_at : meta.created,
      };
      onCreated(response);
      yield chunk({ role: 'assistant', content: '' });
    } else if (type === 'response.output_text.delta' || type === 'response.refusal.delta') {
      if (typeof data.delta !== 'string') throw badResponse('upstream sent a text delta that is not text');
      yield chunk({ content: data.delta });
    } else if (type === 'response.output_item.added' && isObject(data.item) && data.item.type === 'function_call') {
      const { item } = data;
      const index = calls.size;
      calls.set(String(item.id ?? data.output_index), index);
      const fn = { name: String(item.name ?? ''), arguments: '' };
      yield chunk({ tool_calls: [{ index, id: item.call_id, type: 'function', function: fn }] });
    } else if (type === 'response.function_call_arguments.delta') {
      const index = calls.get(String(data.item_id)) ?? calls.get(String(data.output_index));
      if (index === undefined || typeof data.delta !== 'string')
        throw badResponse('upstream sent function call arguments for no function call');
      yield chunk({ tool_calls: [{ index, function: { arguments: data.delta } }] });
    } else if ((type === 'response.completed' || type === 'response.incomplete') && response) {
      finished = true;
      yield chunk({}, finishReason(response.status, response.incomplete_details, calls.size > 0));
      const usage = chatUsage(response.usage);
      if (usage) yield { ...chunk({}), choices: [], usage };
      return;
    }
  }
  if (!finished) throw badResponse('upstream stream ended before it finished');
}
