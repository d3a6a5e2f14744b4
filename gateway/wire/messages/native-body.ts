import type { ChatRequest } from '../../../generator/types.js';
import type { MessagesBody } from './schema.js';
import type { Path, TextSlot } from './to-chat.js';
import { inputOf } from './to-message.js';

/**
 * What an Anthropic-native upstream call needs beside the chat request the pipeline judged: the client's own
 * body, where its texts went in the translation, and the version headers to send. It rides on the chat request
 * under a symbol: the pipeline copies it along with the request (a redaction or a model route spreads the
 * object, symbols included), and JSON.stringify leaves it out, so a chat upstream never sees it.
 */
export interface NativeRequest {
  body: MessagesBody;
  slots: TextSlot[];
  /** The chat request as first translated, to tell which texts the input stage changed. */
  translated: ChatRequest;
  headers: { 'anthropic-version': string; 'anthropic-beta'?: string };
}

export const NATIVE = Symbol('anthropic-native');

type WithNative = ChatRequest & { [NATIVE]?: NativeRequest };

export const withNative = (request: ChatRequest, native: NativeRequest): ChatRequest =>
  Object.assign(request, { [NATIVE]: native });

export const nativeOf = (request: ChatRequest): NativeRequest | undefined => (request as WithNative)[NATIVE];

const get = (doc: unknown, path: Path): unknown =>
  path.reduce<unknown>((cur, key) => (cur !== null && typeof cur === 'object' ? (cur as never)[key] : undefined), doc);

/** Sets `value` at `path` in a structured clone's tree (every container on the path exists: it was read there). */
function set(doc: unknown, path: Path, value: unknown): void {
  const last = path.at(-1);
  const parent = get(doc, path.slice(0, -1));
  if (last !== undefined && parent !== null && typeof parent === 'object')
    (parent as Record<string, unknown>)[last] = value;
}

/**
 * The body to send an Anthropic-native upstream: the client's body as it came when the input stage changed
 * nothing (pure pass-through), else a copy with every changed text written back where it came from and the
 * routed model, so the upstream sees exactly what the policy let through.
 *
 * @example writeBack(native, admittedRequest) // the client's body, with `[REDACTED:secret]` where the key was
 */
export function writeBack(native: NativeRequest, upstream: ChatRequest): MessagesBody {
  // System messages the pipeline put first (a grading retry's reminder) shift every slot by their count.
  const added = upstream.messages.slice(0, Math.max(0, upstream.messages.length - native.translated.messages.length));
  const at = (path: Path): Path => (added.length && path[0] === 'messages' ? shifted(path, added.length) : path);
  const changed = native.slots.filter((s) => get(upstream, at(s.chat)) !== get(native.translated, s.chat));
  if (!changed.length && !added.length && upstream.model === native.body.model) return native.body;
  const body = structuredClone(native.body);
  body.model = upstream.model;
  for (const s of changed) {
    const text = get(upstream, at(s.chat));
    if (typeof text === 'string') set(body, s.native, s.json ? inputOf(text) : text);
  }
  const reminders = added.flatMap((m) => (m.role === 'system' && typeof m.content === 'string' ? [m.content] : []));
  if (reminders.length !== added.length) throw new Error('the pipeline added messages the native body cannot carry');
  if (reminders.length) body.system = systemWith(reminders, body.system);
  return body;
}

const shifted = (path: Path, by: number): Path => [path[0] ?? 'messages', Number(path[1]) + by, ...path.slice(2)];

/** The body's system prompt with `first` before it, in the form it already had (a string, or text blocks). */
function systemWith(first: string[], system: MessagesBody['system']): MessagesBody['system'] {
  if (Array.isArray(system)) return [...first.map((text) => ({ type: 'text' as const, text })), ...system];
  return [...first, ...(system ? [system] : [])].join('\n\n');
}
