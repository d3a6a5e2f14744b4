import { randomUUID } from 'node:crypto';
import type { ChatCompletion, ChatMessage } from '../../../generator/types.js';
import type { ResponsesBody } from './schema.js';

type Item = Record<string, unknown>;
const isObject = (v: unknown): v is Item => v !== null && typeof v === 'object' && !Array.isArray(v);

/** An id in the Responses API's style: `resp_…`, `msg_…`, `fc_…`. */
export const newId = (prefix: 'resp' | 'msg' | 'fc') => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** Chat's usage in the Responses API's names. */
export function responsesUsage(u: unknown): Item | undefined {
  if (!isObject(u)) return undefined;
  const input = Number(u.prompt_tokens ?? 0);
  const output = Number(u.completion_tokens ?? 0);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: (u.prompt_tokens_details as Item | undefined)?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: {
      reasoning_tokens: (u.completion_tokens_details as Item | undefined)?.reasoning_tokens ?? 0,
    },
    total_tokens: Number(u.total_tokens ?? input + output),
  };
}

/** How a response ended: `completed`, or `incomplete` with the reason. */
export type Ending = { status: 'completed' } | { status: 'incomplete'; reason: 'max_output_tokens' | 'content_filter' };

/**
 * The Response object the client gets, around its output items: the request's own settings echoed as the API
 * does, over the upstream's top-level fields when it answered in the Responses format itself (`upstream`).
 */
export function responseObject(a: {
  id: string;
  createdAt: number;
  model: string;
  body: ResponsesBody;
  output: Item[];
  ending: Ending | { status: 'in_progress' };
  usage?: Item;
  upstream?: Item;
}): Item {
  const { body, upstream } = a;
  /** The request's setting, else the upstream's, else the API's default. */
  const echo = (k: string, fallback: unknown) => body[k] ?? upstream?.[k] ?? fallback;
  // One literal with every member: an object grown member by member (or by spreads) went to V8's dictionary
  // mode, and JSON.stringify of it was several times slower.
  const r: Item = {
    id: a.id,
    object: 'response',
    created_at: a.createdAt,
    model: a.model,
    status: a.ending.status,
    error: null,
    incomplete_details: a.ending.status === 'incomplete' ? { reason: a.ending.reason } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    previous_response_id: body.previous_response_id ?? null,
    store: body.store ?? true,
    output: a.output,
    usage: a.usage ?? null,
    tool_choice: echo('tool_choice', 'auto'),
    tools: echo('tools', []),
    temperature: echo('temperature', null),
    top_p: echo('top_p', null),
    parallel_tool_calls: echo('parallel_tool_calls', true),
    text: echo('text', { format: { type: 'text' } }),
    truncation: echo('truncation', 'disabled'),
    metadata: echo('metadata', {}),
  };
  // The upstream's other members (service_tier, reasoning, its own extensions) follow.
  if (upstream) for (const k in upstream) if (!(k in r)) r[k] = upstream[k];
  return r;
}

/** A `message` output item holding one part: the answer's text (`output_text`) or a refusal. */
export const messageItem = (id: string, part: Item, status = 'completed'): Item => ({
  id,
  type: 'message',
  status,
  role: 'assistant',
  content: [part],
});
export const textPart = (text: string): Item => ({ type: 'output_text', text, annotations: [], logprobs: [] });
export const refusalPart = (refusal: string): Item => ({ type: 'refusal', refusal });
export const functionCallItem = (id: string, callId: unknown, name: unknown, args: string, status = 'completed') => ({
  id,
  type: 'function_call',
  status,
  call_id: callId,
  name,
  arguments: args,
});

/**
 * A moderated chat completion as the Responses API's output items and ending: its content as a `message` item
 * (an `output_text` part, or a `refusal` part when the gateway refused) and each tool call as a `function_call`
 * item whose `call_id` is the tool call's id.
 */
export function outputOf(completion: ChatCompletion, refused: boolean): { output: Item[]; ending: Ending } {
  const choice = completion.choices[0];
  const message = choice?.message;
  const output: Item[] = [];
  const content = typeof message?.content === 'string' ? message.content : '';
  if (refused) output.push(messageItem(newId('msg'), refusalPart(content)));
  else if (content) output.push(messageItem(newId('msg'), textPart(content)));
  const calls = !refused && Array.isArray(message?.tool_calls) ? (message.tool_calls as Item[]) : [];
  for (const c of calls) {
    const fn = isObject(c.function) ? c.function : {};
    output.push(functionCallItem(newId('fc'), c.id, fn.name, String(fn.arguments ?? '')));
  }
  const ending: Ending =
    !refused && choice?.finish_reason === 'length'
      ? { status: 'incomplete', reason: 'max_output_tokens' }
      : !refused && choice?.finish_reason === 'content_filter'
        ? { status: 'incomplete', reason: 'content_filter' }
        : { status: 'completed' };
  return { output, ending };
}

/** The answer as the client got it, as the assistant turn a later `previous_response_id` continues from. */
export function answerMessage(output: Item[]): ChatMessage {
  let text = '';
  const toolCalls: Item[] = [];
  for (const item of output) {
    if (item.type === 'message')
      for (const p of (item.content as Item[]) ?? []) text += String(p.type === 'refusal' ? p.refusal : p.text);
    if (item.type === 'function_call')
      toolCalls.push({ id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } });
  }
  return { role: 'assistant', content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) };
}
