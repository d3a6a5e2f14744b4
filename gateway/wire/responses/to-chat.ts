import type { ChatMessage, ChatRequest, ContentPart } from '../../../generator/types.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { ResponsesBody } from './schema.js';

type Item = Record<string, unknown>;
const isObject = (v: unknown): v is Item => v !== null && typeof v === 'object' && !Array.isArray(v);
const bad = (param: string, message: string) => new GatewayError('invalid_request', `${param}: ${message}`, param);

/**
 * Fields that put conversation content at the provider, out of the gateway's sight: it could not judge what the
 * model would read, so they are refused (previous_response_id is resolved by the gateway itself, see store.ts).
 */
const PROVIDER_SIDE = ['conversation', 'prompt'] as const;

/** Request fields copied to the chat request under the same name. */
const SAME_NAME = ['temperature', 'top_p', 'parallel_tool_calls', 'user', 'service_tier', 'top_logprobs'] as const;

/** A text part of a message (input_text, output_text, or a refusal echoed back as history) as chat's text part. */
function contentPart(part: unknown, param: string): ContentPart {
  if (!isObject(part)) throw bad(param, 'a content part must be an object');
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      if (typeof part.text !== 'string') throw bad(`${param}.text`, 'must be a string');
      return { type: 'text', text: part.text };
    case 'refusal':
      if (typeof part.refusal !== 'string') throw bad(`${param}.refusal`, 'must be a string');
      return { type: 'text', text: part.refusal };
    case 'input_image':
      if (typeof part.image_url !== 'string') throw bad(`${param}.image_url`, 'only image_url images can be judged');
      return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) } };
    default:
      throw bad(`${param}.type`, `content part type ${JSON.stringify(part.type)} is not supported by the gateway`);
  }
}

/** A message item's content: a string stays a string; a list of parts becomes chat's parts. */
function messageContent(content: unknown, param: string): string | ContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) throw bad(param, 'must be a string or a list of content parts');
  return content.map((p, i) => contentPart(p, `${param}[${i}]`));
}

/** Chat wants an assistant's content as text: its text parts, joined. */
const asText = (c: string | ContentPart[]) => (typeof c === 'string' ? c : c.map((p) => p.text ?? '').join(''));

/**
 * The items of `input` as chat messages: messages keep their role (a list of parts becomes chat's parts),
 * `function_call` items join the assistant message before them as `tool_calls`, and `function_call_output` items
 * become `role: "tool"` messages, so per-tool policy rules see the chat-completions shape they are written for.
 * `reasoning` items are dropped (their text is the provider's, usually encrypted). Any other item is a 400: the
 * gateway does not forward what it cannot judge.
 */
export function inputMessages(input: ResponsesBody['input']): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const messages: ChatMessage[] = [];
  input.forEach((item, i) => {
    const param = `input[${i}]`;
    const type = item.type ?? 'message';
    if (type === 'message') {
      const role = item.role;
      if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer')
        throw bad(`${param}.role`, 'must be one of user, assistant, system, developer');
      const content = messageContent(item.content, `${param}.content`);
      messages.push({ role, content: role === 'assistant' ? asText(content) : content });
    } else if (type === 'function_call') {
      for (const f of ['call_id', 'name', 'arguments'] as const)
        if (typeof item[f] !== 'string') throw bad(`${param}.${f}`, 'must be a string');
      const call = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
      const last = messages.at(-1);
      if (last?.role === 'assistant') last.tool_calls = [...((last.tool_calls as unknown[]) ?? []), call];
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (type === 'function_call_output') {
      if (typeof item.call_id !== 'string') throw bad(`${param}.call_id`, 'must be a string');
      const output = typeof item.output === 'string' ? item.output : messageContent(item.output, `${param}.output`);
      messages.push({ role: 'tool', tool_call_id: item.call_id, content: asText(output) });
    } else if (type !== 'reasoning') {
      throw bad(`${param}.type`, `item type ${JSON.stringify(type)} is not supported by the gateway`);
    }
  });
  return messages;
}

/** Responses' flat function tool as chat's nested one; other tool types only pass through (`native`). */
function chatTools(tools: ResponsesBody['tools'], translating: boolean): unknown[] | undefined {
  const out: unknown[] = [];
  tools?.forEach((t, i) => {
    if (t.type === 'function') {
      if (typeof t.name !== 'string' || !t.name) throw bad(`tools[${i}].name`, 'must be a non-empty string');
      const { type: _type, name, description, parameters, strict } = t;
      out.push({ type: 'function', function: { name, description, parameters, strict } });
    } else if (translating) {
      throw bad(`tools[${i}].type`, `tool type ${JSON.stringify(t.type)} has no Chat Completions equivalent`);
    }
  });
  return out.length ? out : undefined;
}

/** A choice of a hosted tool passes through only (`native`); translated, it is a 400. */
function chatToolChoice(choice: unknown, translating: boolean): unknown {
  if (choice === undefined || choice === null || typeof choice === 'string') return choice ?? undefined;
  if (isObject(choice) && choice.type === 'function' && typeof choice.name === 'string')
    return { type: 'function', function: { name: choice.name } };
  if (!translating) return undefined;
  throw bad('tool_choice', 'must be "auto", "none", "required" or {"type":"function","name":…}');
}

/** `text.format` as chat's `response_format`. */
function responseFormat(text: unknown): unknown {
  const format = isObject(text) ? text.format : undefined;
  if (!isObject(format) || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  if (format.type === 'json_schema') {
    const { type: _type, ...schema } = format;
    return { type: 'json_schema', json_schema: schema };
  }
  throw bad('text.format.type', 'must be text, json_object or json_schema');
}

/**
 * A Responses request as the internal chat-completions request the pipeline judges (and the `chat` upstream
 * format sends): `instructions` first as a system message, then the earlier turns (`history`, resolved by the
 * gateway from `previous_response_id`), then this turn's input items. The mapping, field by field, is in
 * gateway/wire/responses/README.md. `translating`: the request goes to a Chat Completions upstream, so what has
 * no equivalent there (a hosted tool) is a 400 rather than silently lost.
 *
 * @example
 * responsesToChat({ model: 'm', input: 'hi', instructions: 'Be brief' }, [], true).messages
 * // [{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'hi' }]
 */
export function responsesToChat(body: ResponsesBody, history: ChatMessage[], translating: boolean): ChatRequest {
  for (const f of PROVIDER_SIDE)
    if (body[f] !== undefined && body[f] !== null)
      throw bad(f, 'content kept at the provider cannot be judged by the gateway; send the input itself');
  if (body.background === true) throw bad('background', 'background responses are not supported by the gateway');
  const messages: ChatMessage[] = [
    ...(body.instructions ? [{ role: 'system', content: body.instructions }] : []),
    ...history,
    ...inputMessages(body.input),
  ];
  const request: ChatRequest = { model: body.model, messages };
  for (const f of SAME_NAME) if (body[f] !== undefined && body[f] !== null) request[f] = body[f];
  if (body.max_output_tokens) request.max_tokens = body.max_output_tokens;
  const tools = chatTools(body.tools, translating);
  if (tools) request.tools = tools;
  const toolChoice = chatToolChoice(body.tool_choice, translating);
  if (toolChoice !== undefined) request.tool_choice = toolChoice;
  const format = responseFormat(body.text);
  if (format) request.response_format = format;
  const reasoning = body.reasoning;
  if (isObject(reasoning) && typeof reasoning.effort === 'string') request.reasoning_effort = reasoning.effort;
  if (body.stream) {
    request.stream = true;
    request.stream_options = { include_usage: true };
  }
  return request;
}
