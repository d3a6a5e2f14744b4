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

/** The default selections, computed without a JSONPath walk (they run on every request). */
const FAST: Record<string, (doc: any) => { pointer: string; text: string }[]> = {
  [DEFAULT_INPUT_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    const msgs = Array.isArray(doc?.messages) ? doc.messages : [];
    msgs.forEach((m: any, i: number) => {
      if (m && INPUT_ROLES.has(m.role)) texts(`/messages/${i}/content`, m.content, out);
    });
    return out;
  },
  [DEFAULT_OUTPUT_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    const choices = Array.isArray(doc?.choices) ? doc.choices : [];
    choices.forEach((c: any, i: number) => {
      if (isObject(c?.message)) messageTexts(`/choices/${i}/message`, c.message, out);
    });
    return out;
  },
  [CONTENT_ONLY_SELECT]: (doc) => {
    const out: { pointer: string; text: string }[] = [];
    const choices = Array.isArray(doc?.choices) ? doc.choices : [];
    choices.forEach((c: any, i: number) => texts(`/choices/${i}/message/content`, c?.message?.content, out));
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

/** A copy of `doc` with the strings at the given pointers replaced; only the containers on the way are copied. */
export function replaceAt<T>(doc: T, replaced: Map<string, string>): T {
  const root: any = Array.isArray(doc) ? [...(doc as unknown[])] : { ...(doc as object) };
  for (const [pointer, text] of replaced) {
    const keys = pointerKeys(pointer);
    let cur = root;
    for (let i = 0; i < keys.length - 1; i++) {
      const k = keys[i];
      if (cur[k] === null || typeof cur[k] !== 'object') break;
      cur[k] = Array.isArray(cur[k]) ? [...cur[k]] : { ...cur[k] };
      cur = cur[k];
    }
    if (keys.length && typeof cur[keys.at(-1)!] === 'string') cur[keys.at(-1)!] = text;
  }
  return root;
}
