/**
 * The texts of chat messages and answers, each a segment with the JSON pointer it came from, joined into one
 * selection; select.ts (JSONPath selections) and conversation.ts (the default input reading) build on it.
 */

export interface Segment {
  /** RFC 6901 pointer into the request or response, e.g. `/messages/2/content` or `/messages/2/content/0/text`. */
  pointer: string;
  text: string;
  /** Offset of this segment in the joined text. */
  start: number;
}

export interface Selection {
  text: string;
  segments: Segment[];
  /**
   * Parts of `text` that models read on their own too, when the selection is a conversation: the latest turn,
   * and each of its messages when it has several. A score on the whole of a long history is diluted; patterns
   * find the same in the whole, so classifiers that only match patterns (`local`) skip these.
   */
  views?: { name: string; start: number; end: number }[];
  /** Further texts models read, not slices of `text` (so they give scores, never spans): the user's words alone. */
  readings?: { name: string; text: string }[];
  /** Texts of turns this policy refused before, left out of `text` and withheld from the model (conversation.ts). */
  withheld?: { pointer: string; text: string }[];
}

export const SEPARATOR = '\n\n';

export function joinSegments(parts: { pointer: string; text: string }[]): Selection {
  const segments: Segment[] = [];
  let text = '';
  for (const p of parts) {
    if (segments.length) text += SEPARATOR;
    segments.push({ ...p, start: text.length });
    text += p.text;
  }
  return { text, segments };
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A chat message (an answer's or the conversation's): an object with a role. */
const isMessage = (v: unknown): v is Record<string, unknown> => isObject(v) && typeof v.role === 'string';

/**
 * Every text a message carries: its content, its reasoning (`reasoning_content`, as DeepSeek and vLLM send it)
 * and the arguments of its tool calls; each is a segment of its own, so a redaction is written back in place.
 */
export function messageTexts(
  pointer: string,
  m: Record<string, unknown>,
  out: { pointer: string; text: string }[],
): void {
  texts(`${pointer}/content`, m.content, out);
  if (typeof m.reasoning_content === 'string')
    out.push({ pointer: `${pointer}/reasoning_content`, text: m.reasoning_content });
  if (!Array.isArray(m.tool_calls)) return;
  m.tool_calls.forEach((call: unknown, j) => {
    const args = isObject(call) && isObject(call.function) ? call.function.arguments : undefined;
    if (typeof args === 'string') out.push({ pointer: `${pointer}/tool_calls/${j}/function/arguments`, text: args });
  });
}

/** Text values of a selected value: a string, the text parts of multi-part content, or a whole message. */
export function texts(pointer: string, value: unknown, out: { pointer: string; text: string }[]): void {
  if (typeof value === 'string') out.push({ pointer, text: value });
  else if (isMessage(value)) messageTexts(pointer, value, out);
  else if (Array.isArray(value)) {
    value.forEach((part, i) => {
      if (typeof part === 'string') out.push({ pointer: `${pointer}/${i}`, text: part });
      else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        out.push({ pointer: `${pointer}/${i}/text`, text: (part as { text: string }).text });
      }
    });
  } else if (value && typeof value === 'object' && typeof (value as { text?: unknown }).text === 'string') {
    out.push({ pointer: `${pointer}/text`, text: (value as { text: string }).text });
  }
}

/** `doc[key]` when it is an array, else none. */
export const arrayAt = (doc: unknown, key: string): unknown[] => {
  const value = isObject(doc) ? doc[key] : undefined;
  return Array.isArray(value) ? value : [];
};
