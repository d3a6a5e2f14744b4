/**
 * A JSON parser that remembers where each string value sits in the text. A tool call's `arguments` is a JSON
 * string; rules read its decoded values (so `rm -rf \u002f` reads as `rm -rf /`), and a redaction of a value has
 * to be written back into the raw text at the right place, with the replacement escaped, so that the arguments
 * stay valid JSON and keep their formatting. JSON.parse cannot say where a value was; this parser can.
 */

/** A string value (or key) of the document, decoded, with the map from its characters back to the raw text. */
export interface PositionedString {
  /** RFC 6901 pointer to the value inside the document, e.g. `/headers/Authorization`. */
  pointer: string;
  text: string;
  /** `raw[i]` is the offset in the raw JSON of decoded character i; `raw[text.length]` is the closing quote's. */
  raw: number[];
}

export type PositionedJson =
  { ok: true; value: unknown; strings: PositionedString[] } | { ok: false; reason: string; at: number };

/** Deeper than this, arguments count as malformed rather than risk the stack. */
export const MAX_ARGUMENT_DEPTH = 64;

class Malformed extends Error {
  constructor(
    readonly reason: string,
    readonly at: number,
  ) {
    super(reason);
  }
}

const escapeKey = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');
const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

/**
 * Parses JSON text; on success every string value comes with its pointer and position map.
 *
 * @example
 * const r = parsePositioned('{"cmd":"ls \\u002f"}');
 * // r.ok && r.strings[0] → { pointer: '/cmd', text: 'ls /', raw: [8, 9, 10, 11, 17] }
 */
export function parsePositioned(src: string): PositionedJson {
  let at = 0;
  const strings: PositionedString[] = [];
  const ws = () => {
    while (at < src.length && ' \t\n\r'.includes(src[at] ?? '')) at++;
  };
  const fail = (reason: string): never => {
    throw new Malformed(reason, at);
  };
  const str = (): { text: string; raw: number[] } => {
    at++; // the opening quote
    let text = '';
    const raw: number[] = [];
    for (;;) {
      const c = src[at];
      if (c === undefined) return fail('unterminated string');
      if (c === '"') {
        raw.push(at);
        at++;
        return { text, raw };
      }
      if (c < ' ') return fail('control character in a string');
      if (c !== '\\') {
        raw.push(at);
        text += c;
        at++;
        continue;
      }
      const e = src[at + 1] ?? '';
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        raw.push(at);
        text += simple;
        at += 2;
      } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(at + 2, at + 6))) {
        raw.push(at);
        text += String.fromCharCode(parseInt(src.slice(at + 2, at + 6), 16));
        at += 6;
      } else fail('bad escape in a string');
    }
  };
  const value = (pointer: string, depth: number): unknown => {
    if (depth > MAX_ARGUMENT_DEPTH) fail(`nested more than ${MAX_ARGUMENT_DEPTH} levels deep`);
    ws();
    const c = src[at];
    if (c === '"') {
      const s = str();
      strings.push({ pointer, ...s });
      return s.text;
    }
    if (c === '{') {
      at++;
      const obj: Record<string, unknown> = {};
      ws();
      if (src[at] === '}') return (at++, obj);
      for (;;) {
        ws();
        if (src[at] !== '"') fail('expected a property name');
        const key = str().text;
        ws();
        if (src[at] !== ':') fail('expected ":"');
        at++;
        // Own data properties only (as JSON.parse makes them): a "__proto__" key never reaches a prototype.
        Object.defineProperty(obj, key, {
          value: value(`${pointer}/${escapeKey(key)}`, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        ws();
        if (src[at] === ',') at++;
        else if (src[at] === '}') return (at++, obj);
        else fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      at++;
      const arr: unknown[] = [];
      ws();
      if (src[at] === ']') return (at++, arr);
      for (;;) {
        arr.push(value(`${pointer}/${arr.length}`, depth + 1));
        ws();
        if (src[at] === ',') at++;
        else if (src[at] === ']') return (at++, arr);
        else fail('expected "," or "]"');
      }
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(src.slice(at, at + 400));
    if (!literal) return fail(c === undefined ? 'unexpected end' : `unexpected ${JSON.stringify(c)}`);
    at += literal[0].length;
    return JSON.parse(literal[0]) as unknown;
  };
  try {
    const v = value('', 0);
    ws();
    if (at < src.length) fail('text after the value');
    return { ok: true, value: v, strings };
  } catch (e) {
    if (e instanceof Malformed) return { ok: false, reason: e.reason, at: e.at };
    throw e;
  }
}

/** A text as it goes inside a JSON string (quotes, backslashes and control characters escaped). */
export const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1);
