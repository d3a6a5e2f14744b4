import type { ChatMessage, ChatRequest, ContentPart } from '../../../generator/types.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { Block, MessagesBody } from './schema.js';

/** A path into a JSON document, key by key. */
export type Path = readonly (string | number)[];

/**
 * Where one text of the Messages body landed in the chat request: the native body is rebuilt from these after
 * the input stage (`writeBack`), so a redaction reaches an Anthropic-native upstream too. `json`: the chat side is
 * a tool call's `arguments` string, the native side the `tool_use` block's `input` object.
 */
export interface TextSlot {
  chat: Path;
  native: Path;
  json?: boolean;
}

export interface Translated {
  request: ChatRequest;
  slots: TextSlot[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const badBlock = (where: string, why: string) => new GatewayError('invalid_request', `${where}: ${why}`, where);

/** An image block as a chat image part: a data URL for base64 sources, the URL itself for url sources. */
function imagePart(block: Block, where: string): ContentPart {
  const s = isObject(block.source) ? block.source : {};
  if (s.type === 'base64' && typeof s.data === 'string' && typeof s.media_type === 'string')
    return { type: 'image_url', image_url: { url: `data:${s.media_type};base64,${s.data}` } };
  if (s.type === 'url' && typeof s.url === 'string') return { type: 'image_url', image_url: { url: s.url } };
  throw badBlock(`${where}.source`, 'an image source is {type: "base64", media_type, data} or {type: "url", url}');
}

/** A document block's text, when it has one the classifiers can read (a plain-text source). */
function documentText(block: Block, where: string): string {
  const s = isObject(block.source) ? block.source : {};
  if (s.type === 'text' && typeof s.data === 'string') return s.data;
  throw badBlock(
    `${where}.source`,
    'only plain-text documents ({type: "text", data}) can be checked by the gateway; send other documents as text',
  );
}

/**
 * Translates a Messages request into the chat-completions request the pipeline judges (and a chat upstream
 * answers), field by field as gateway/wire/messages/README.md lists: `system` → a system message; text blocks →
 * text parts; `tool_use` → the assistant's `tool_calls`; `tool_result` → `role: "tool"` messages (before the rest
 * of their user turn, as chat servers expect them right after the calls); `tools` → function tools. Blocks the
 * gateway cannot read (a PDF, an unknown type) are refused with a 400 rather than passed on unchecked.
 *
 * @example
 * toChat({ model: 'm', max_tokens: 64, system: 'Be brief', messages: [{ role: 'user', content: 'hi' }] }).request
 * // { model: 'm', max_tokens: 64, messages: [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'hi' }] }
 */
export function toChat(body: MessagesBody): Translated {
  const messages: ChatMessage[] = [];
  const slots: TextSlot[] = [];
  const at = (m: number, ...rest: (string | number)[]) => ['messages', m, ...rest];

  if (typeof body.system === 'string') {
    slots.push({ chat: at(0, 'content'), native: ['system'] });
    messages.push({ role: 'system', content: body.system });
  } else if (body.system?.length) {
    body.system.forEach((_, i) => slots.push({ chat: at(0, 'content', i, 'text'), native: ['system', i, 'text'] }));
    messages.push({ role: 'system', content: body.system.map((b) => ({ type: 'text', text: b.text })) });
  }

  body.messages.forEach((m, mi) => {
    if (typeof m.content === 'string') {
      slots.push({ chat: at(messages.length, 'content'), native: ['messages', mi, 'content'] });
      messages.push({ role: m.role, content: m.content });
      return;
    }
    const parts: ContentPart[] = [];
    const partSlots: { part: number; native: Path }[] = [];
    const toolCalls: unknown[] = [];
    m.content.forEach((block, bi) => {
      const where = `messages[${mi}].content[${bi}]`;
      const native = ['messages', mi, 'content', bi];
      switch (block.type) {
        case 'text':
          if (typeof block.text !== 'string') throw badBlock(`${where}.text`, 'a text block needs its text');
          partSlots.push({ part: parts.length, native: [...native, 'text'] });
          parts.push({ type: 'text', text: block.text });
          return;
        case 'image':
          parts.push(imagePart(block, where));
          return;
        case 'document':
          partSlots.push({ part: parts.length, native: [...native, 'source', 'data'] });
          parts.push({ type: 'text', text: documentText(block, where) });
          return;
        case 'tool_use': {
          if (m.role !== 'assistant') throw badBlock(where, 'tool_use blocks belong to assistant turns');
          if (typeof block.id !== 'string' || typeof block.name !== 'string')
            throw badBlock(where, 'a tool_use block needs its id and name');
          slots.push({
            chat: at(messages.length, 'tool_calls', toolCalls.length, 'function', 'arguments'),
            native: [...native, 'input'],
            json: true,
          });
          const args = JSON.stringify(block.input ?? {});
          toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: args } });
          return;
        }
        case 'tool_result': {
          if (m.role !== 'user') throw badBlock(where, 'tool_result blocks belong to user turns');
          if (typeof block.tool_use_id !== 'string') throw badBlock(where, 'a tool_result block needs its tool_use_id');
          messages.push(toolMessage(block, where, native, messages.length, slots));
          return;
        }
        case 'thinking':
        case 'redacted_thinking':
          // The model's own earlier reasoning: an Anthropic upstream gets it back as sent (signed); a chat
          // upstream has no place for it.
          if (m.role !== 'assistant') throw badBlock(where, `${block.type} blocks belong to assistant turns`);
          return;
        default:
          throw badBlock(`${where}.type`, `the gateway cannot check "${block.type}" blocks`);
      }
    });
    if (!parts.length && !toolCalls.length) return;
    const index = messages.length;
    for (const s of partSlots) slots.push({ chat: at(index, 'content', s.part, 'text'), native: s.native });
    const message: ChatMessage = { role: m.role, content: parts.length ? parts : null };
    if (toolCalls.length) message.tool_calls = toolCalls;
    messages.push(message);
  });

  return { request: { ...options(body), model: body.model, messages }, slots };
}

/** A tool_result block as a `role: "tool"` message; its text (a string or text blocks) stays where rules read it. */
function toolMessage(block: Block, where: string, native: Path, index: number, slots: TextSlot[]): ChatMessage {
  const message: ChatMessage = { role: 'tool', tool_call_id: block.tool_use_id, content: '' };
  if (typeof block.content === 'string') {
    slots.push({ chat: ['messages', index, 'content'], native: [...native, 'content'] });
    message.content = block.content;
  } else if (Array.isArray(block.content)) {
    message.content = block.content.map((b: unknown, i): ContentPart => {
      if (!isObject(b)) throw badBlock(`${where}.content[${i}]`, 'a content block is an object');
      if (b.type === 'image') return imagePart(b as Block, `${where}.content[${i}]`);
      if (b.type !== 'text' || typeof b.text !== 'string')
        throw badBlock(`${where}.content[${i}]`, 'a tool result holds text and image blocks');
      slots.push({ chat: ['messages', index, 'content', i, 'text'], native: [...native, 'content', i, 'text'] });
      return { type: 'text', text: b.text };
    });
  }
  return message;
}

/** The sampling options, tools and tool choice in their chat-completions names. */
function options(body: MessagesBody): Record<string, unknown> {
  const out: Record<string, unknown> = { max_tokens: body.max_tokens };
  if (body.stream) Object.assign(out, { stream: true, stream_options: { include_usage: true } });
  if (body.stop_sequences?.length) out.stop = body.stop_sequences;
  if (body.temperature !== undefined) out.temperature = body.temperature;
  if (body.top_p !== undefined) out.top_p = body.top_p;
  if (typeof body.metadata?.user_id === 'string') out.user = body.metadata.user_id;
  if (body.tools?.length)
    out.tools = body.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.input_schema ?? { type: 'object' } },
    }));
  const choice = body.tool_choice;
  if (choice) {
    out.tool_choice =
      choice.type === 'any'
        ? 'required'
        : choice.type === 'tool'
          ? { type: 'function', function: { name: choice.name } }
          : choice.type;
    if (choice.disable_parallel_tool_use) out.parallel_tool_calls = false;
  }
  return out;
}

/** Tools a chat upstream cannot run: Anthropic's server tools (`web_search_…`, `bash_…`), named by their type. */
export const serverTools = (body: MessagesBody): string[] =>
  (body.tools ?? []).flatMap((t) => (typeof t.type === 'string' && t.type !== 'custom' ? [t.type] : []));
