import type { ChatMessage, ChatRequest, ContentPart } from '../../../generator/types.js';
import type { ResponsesBody } from './schema.js';

type Item = Record<string, unknown>;

/** Chat's content parts as Responses input parts (the reverse of to-chat.ts's contentPart). */
function inputParts(content: ChatMessage['content']): string | Item[] {
  if (typeof content === 'string' || !content) return content ?? '';
  return content.map((p: ContentPart) => {
    if (p.type === 'image_url') {
      const image = p.image_url as { url?: string; detail?: string } | undefined;
      return { type: 'input_image', image_url: image?.url, detail: image?.detail ?? 'auto' };
    }
    return { type: 'input_text', text: p.text ?? '' };
  });
}

const textOf = (content: ChatMessage['content']) =>
  typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join('');

/**
 * The judged chat messages back as Responses input items, for an upstream that speaks the Responses API: what
 * the upstream reads is exactly what the input stage judged (redactions included). System messages, the
 * `instructions` among them, become `system` message items.
 */
export function chatMessagesToInput(messages: ChatMessage[]): Item[] {
  const items: Item[] = [];
  for (const m of messages) {
    if (m.role === 'tool') {
      items.push({ type: 'function_call_output', call_id: m.tool_call_id, output: textOf(m.content) });
      continue;
    }
    if (m.role === 'assistant') {
      const text = textOf(m.content);
      if (text) items.push({ type: 'message', role: 'assistant', content: text });
      const calls = Array.isArray(m.tool_calls) ? (m.tool_calls as Item[]) : [];
      for (const c of calls) {
        const fn = (c.function ?? {}) as Item;
        items.push({ type: 'function_call', call_id: c.id, name: fn.name, arguments: fn.arguments ?? '' });
      }
      continue;
    }
    items.push({ type: 'message', role: m.role, content: inputParts(m.content) });
  }
  return items;
}

/**
 * The body sent to an upstream's `/responses`: the client's own fields (tools, reasoning, text, store, …) with
 * the judged conversation as `input`, the routed model, and no `previous_response_id` (the gateway resolved it,
 * so the upstream reads nothing the gateway did not judge).
 */
export function responsesBodyFor(request: ChatRequest, original: ResponsesBody, model: string, stream: boolean) {
  // A loop, not `{...rest}`: JSON.stringify of the spread copy was five times slower (bench:proxy's native row).
  const body: Item = {};
  for (const k in original) if (!RESOLVED.has(k)) body[k] = original[k];
  body.model = model;
  body.stream = stream;
  body.input = chatMessagesToInput(request.messages);
  return body;
}

/** Fields the gateway resolved into `input` (or replaces), never sent as the client wrote them. */
const RESOLVED = new Set(['input', 'instructions', 'previous_response_id', 'model', 'stream']);
