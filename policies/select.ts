import type { Stage } from '../classifiers/types.js';
import { conversationSelector } from './conversation.js';
import { compileSelector, type Selector } from './jsonpath.js';
import { arrayAt, isObject, joinSegments, messageTexts, texts, type Selection } from './message-texts.js';
import type { ConversationOptions } from './schema.js';

export { joinSegments, SEPARATOR, type Segment, type Selection } from './message-texts.js';

/**
 * Which text a rule reads. A selection is the text of every value its JSONPath selects, joined by a blank
 * line; each segment remembers the JSON pointer it came from, so redactions can be written back in place.
 */

/**
 * What the user wrote and what tools returned: the prompt as decision records store it and as output classifiers
 * read it. Input rules without a `select` read more: the whole conversation (conversation.ts).
 */
export const USER_AND_TOOL_SELECT = "$.messages[?(@.role=='user' || @.role=='tool' || @.role=='function')].content";
/** @deprecated the input default before conversation.ts; the same as USER_AND_TOOL_SELECT. */
export const DEFAULT_INPUT_SELECT = USER_AND_TOOL_SELECT;
/**
 * The default output selection: every choice's whole message, so every text the client receives is read: its
 * content, its reasoning (`reasoning_content`) and its tool calls' arguments (see `texts`).
 */
export const DEFAULT_OUTPUT_SELECT = '$.choices[*].message';
/** Before tool calls and reasoning were read: the content alone (still served without a JSONPath walk). */
const CONTENT_ONLY_SELECT = '$.choices[*].message.content';

const INPUT_ROLES = new Set(['user', 'tool', 'function']);

/** The default selections, computed without a JSONPath walk (they run on every request). */
const FAST: Record<string, (doc: unknown) => { pointer: string; text: string }[]> = {
  [USER_AND_TOOL_SELECT]: (doc) => {
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

/**
 * Compiles a rule's `select` (or the stage default); throws SelectorError for an unsafe or invalid path. With no
 * `select`, the input stage reads the conversation as `conversation` says (its defaults when not given), knowing
 * the policy's `refusals` so that turns it refused can be left out.
 */
export function textSelector(
  path: string | undefined,
  stage: Stage,
  conversation?: { options?: Partial<ConversationOptions>; refusals?: ReadonlySet<string> },
): TextSelector {
  if (path === undefined && stage === 'input')
    return conversationSelector(conversation?.options ?? {}, conversation?.refusals ?? new Set());
  const p = path ?? DEFAULT_OUTPUT_SELECT;
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
