import type { Stage } from '../classifiers/types.js';
import { compileSelector, type Selector } from './jsonpath.js';

/**
 * Which text a rule reads. A selection is the text of every value its JSONPath selects, joined by a blank
 * line; each segment remembers the JSON pointer it came from, so redactions can be written back in place.
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
}

export const SEPARATOR = '\n\n';

/** The default input selection: what the user wrote and what tools returned into the context. */
export const DEFAULT_INPUT_SELECT = "$.messages[?(@.role=='user' || @.role=='tool' || @.role=='function')].content";
/**
 * The default output selection: every choice's whole message, so every text the client receives is read: its
 * content, its reasoning (`reasoning_content`) and its tool calls' arguments (see `texts`).
 */
export const DEFAULT_OUTPUT_SELECT = '$.choices[*].message';
/** Before tool calls and reasoning were read: the content alone (still served without a JSONPath walk). */
const CONTENT_ONLY_SELECT = '$.choices[*].message.content';

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** A chat message (an answer's or the conversation's): an object with a role. */
const isMessage = (v: unknown): v is Record<string, unknown> => isObject(v) && typeof v.role === 'string';

/**
 * Every text a message carries: its content, its reasoning (`reasoning_content`, as DeepSeek and vLLM send it)
 * and the arguments of its tool calls; each is a segment of its own, so a redaction is written back in place.
 */
function messageTexts(pointer: string, m: Record<string, unknown>, out: { pointer: string; text: string }[]): void {
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
function texts(pointer: string, value: unknown, out: { pointer: string; text: string }[]): void {
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

const INPUT_ROLES = new Set(['user', 'tool', 'function']);

/** `doc[key]` when it is an array, else none. */
const arrayAt = (doc: unknown, key: string): unknown[] => {
  const value = isObject(doc) ? doc[key] : undefined;
  return Array.isArray(value) ? value : [];
};

/** The default selections, computed without a JSONPath walk (they run on every request). */
const FAST: Record<string, (doc: unknown) => { pointer: string; text: string }[]> = {
  [DEFAULT_INPUT_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    arrayAt(doc, 'messages').forEach((message, i) => {
      if (isObject(message) && typeof message.role === 'string' && INPUT_ROLES.has(message.role))
        texts(`/messages/${i}/content`, message.content, out);
    });
    return out;
  },
  [DEFAULT_OUTPUT_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    arrayAt(doc, 'choices').forEach((choice, i) => {
      const message = isObject(choice) ? choice.message : undefined;
      if (isObject(message)) messageTexts(`/choices/${i}/message`, message, out);
    });
    return out;
  },
  [CONTENT_ONLY_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    arrayAt(doc, 'choices').forEach((choice, i) => {
      const message = isObject(choice) ? choice.message : undefined;
      texts(`/choices/${i}/message/content`, isObject(message) ? message.content : undefined, out);
    });
    return out;
  },
};

export interface TextSelector {
  path: string;
  select(doc: unknown): Selection;
}

/** Compiles a rule's `select` (or the stage default); throws SelectorError for an unsafe or invalid path. */
export function textSelector(path: string | undefined, stage: Stage): TextSelector {
  const p = path ?? (stage === 'input' ? DEFAULT_INPUT_SELECT : DEFAULT_OUTPUT_SELECT);
  const fast = FAST[p];
  if (fast) return { path: p, select: (doc) => joinSegments(fast(doc)) };
  const selector: Selector = compileSelector(p);
  return {
    path: p,
    select(doc) {
      const parts: { pointer: string; text: string }[] = [];
      for (const { pointer, value } of selector.select(doc)) texts(pointer, value, parts);
      return joinSegments(parts);
    },
  };
}

/** Decodes an RFC 6901 pointer into its keys. */
export const pointerKeys = (pointer: string): string[] =>
  pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));

// Arrays are indexed with the pointer's string keys too ('0', '1', …), as JavaScript allows.
const copyOf = (value: object): Record<string, unknown> =>
  Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...value };

/**
 * A copy of `doc` with the strings at the given pointers replaced; only the containers on the way are copied.
 * A pointer whose path is missing, or that ends on something other than a string, replaces nothing.
 */
export function replaceAt<T>(doc: T, replaced: Map<string, string>): T {
  if (!isObject(doc)) return doc;
  const root = copyOf(doc);
  for (const [pointer, text] of replaced) {
    const keys = pointerKeys(pointer);
    const last = keys.pop();
    if (last === undefined) continue;
    let cur = root;
    let reached = true;
    for (const key of keys) {
      const next = cur[key];
      if (!isObject(next)) {
        reached = false;
        break;
      }
      cur = cur[key] = copyOf(next);
    }
    if (reached && typeof cur[last] === 'string') cur[last] = text;
  }
  return root as T;
}
