import type { ChatCompletion } from '../../../generator/types.js';

/**
 * The client's answer in the Messages API's shape, built from the moderated chat-shaped answer (to-chat.ts's
 * inverse for answers): content → a text block, `reasoning_content` → a thinking block, `tool_calls` → tool_use
 * blocks, finish_reason → stop_reason. A gateway refusal (`content_filter`) is `stop_reason: "refusal"` with the
 * policy's message as its text block.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const STOP_OF_FINISH: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/** A choice's stop reason: the refusal when the gateway refused, else the native one if the upstream gave it. */
export function stopReason(finish: string | null | undefined, native?: unknown, stopSequence?: unknown): string {
  if (finish === 'content_filter') return 'refusal';
  if (typeof native === 'string') return native;
  if (finish === 'stop' && typeof stopSequence === 'string') return 'stop_sequence';
  return STOP_OF_FINISH[finish ?? 'stop'] ?? 'end_turn';
}

/** A tool call's arguments as a tool_use input object; text that is not a JSON object is kept as `{arguments}`. */
export function inputOf(args: unknown): Record<string, unknown> {
  if (typeof args !== 'string') return {};
  try {
    const v: unknown = JSON.parse(args || '{}');
    if (isObject(v)) return v;
  } catch {
    // fall through: a redaction or a model may leave something that is not JSON
  }
  return { arguments: args };
}

/** The Messages API id for an answer: the upstream's own `msg_…`, else `msg_` and the chat id. */
export const messageId = (id: string) => (id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`);

/** Anthropic usage from a chat usage object (which keeps Anthropic's counts when the upstream was native). */
export function messageUsage(u: unknown): Record<string, unknown> {
  const usage = isObject(u) ? u : {};
  const n = (v: unknown) => (typeof v === 'number' ? v : 0);
  const { prompt_tokens, completion_tokens, total_tokens: _total, ...rest } = usage;
  return {
    ...Object.fromEntries(Object.entries(rest).filter(([k]) => !k.endsWith('_tokens_details'))),
    input_tokens: n(usage.input_tokens ?? prompt_tokens),
    output_tokens: n(usage.output_tokens ?? completion_tokens),
  };
}

/**
 * @example
 * toMessage(refusalCompletion('dec_1', 'm', 'I can't help with that.'))
 * // { id: 'msg_dec_1', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'I can't help with that.' }],
 * //   stop_reason: 'refusal', stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 }, … }
 */
export function toMessage(c: ChatCompletion, requestModel: string): Record<string, unknown> {
  const choice = c.choices[0];
  const m = choice?.message ?? { role: 'assistant', content: null };
  const content: Record<string, unknown>[] = [];
  if (typeof m.reasoning_content === 'string' && m.reasoning_content)
    content.push({ type: 'thinking', thinking: m.reasoning_content, signature: m.thinking_signature ?? '' });
  if (typeof m.content === 'string' && (m.content || !Array.isArray(m.tool_calls)))
    content.push({ type: 'text', text: m.content });
  for (const call of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
    if (!isObject(call) || !isObject(call.function)) continue;
    const fn = call.function;
    content.push({ type: 'tool_use', id: call.id, name: fn.name, input: inputOf(fn.arguments) });
  }
  const stop = stopReason(choice?.finish_reason, choice?.stop_reason, choice?.stop_sequence);
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model || requestModel,
    content,
    stop_reason: stop,
    stop_sequence: stop === 'stop_sequence' ? (choice?.stop_sequence ?? null) : null,
    usage: messageUsage(c.usage),
  };
}
