/**
 * JSON.parse with errors a person can find: `line 3, column 5` instead of V8's character offset, which V8 also
 * leaves out of some messages (`Unexpected token '}', "…" is not valid JSON`).
 */

export type JsonText = { ok: true; value: unknown } | { ok: false; line: number; column: number; reason: string };

/**
 * Parses JSON text; on a syntax error, says where (1-based line and column) and why.
 *
 * @example
 * const r = parseJsonText('{"a": 1,\n}');
 * if (!r.ok) console.log(`line ${r.line}, column ${r.column}: ${r.reason}`); // line 2, column 1: …
 */
export function parseJsonText(text: string): JsonText {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    const message = (e as Error).message;
    const stated = /at position (\d+)/.exec(message)?.[1];
    const at = stated !== undefined ? Number(stated) : firstErrorOffset(text);
    // V8 appends either the offset or a snippet of the text; the line and column replace both.
    const reason = message.replace(/ (?:in JSON )?at position \d+.*$/s, '').replace(/, .*is not valid JSON$/s, '');
    const before = text.slice(0, Math.min(at, text.length));
    const line = before.split('\n').length;
    return { ok: false, line, column: before.length - before.lastIndexOf('\n'), reason };
  }
}

/** `not valid JSON at line L, column C: reason`, the form every loader reports. */
export const jsonErrorText = (r: Extract<JsonText, { ok: false }>): string =>
  `not valid JSON at line ${r.line}, column ${r.column}: ${r.reason}`;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * The offset of the first character that makes `text` invalid JSON (RFC 8259), found by a small recursive scanner.
 * Called only after JSON.parse has failed, so it is never on a hot path.
 */
function firstErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new ScanStop(i);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const expect = (c: string) => (text.charAt(i) === c ? void i++ : fail());
  const string = () => {
    expect('"');
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === '"') return void i++;
      if (c === '\\') {
        const next = text.charAt(i + 1);
        if ('"\\/bfnrt'.includes(next) && next !== '') i += 2;
        else if (next === 'u' && HEX4.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++; // point at the bad escape letter, past the backslash
          fail();
        }
      } else if (c.charCodeAt(0) < 0x20) fail();
      else i++;
    }
    fail();
  };
  const list = (close: string, item: () => void) => {
    i++;
    space();
    if (text.charAt(i) === close) return void i++;
    for (;;) {
      item();
      space();
      if (text.charAt(i) === ',') i++;
      else return expect(close);
    }
  };
  const value = (): void => {
    space();
    const c = text.charAt(i);
    if (c === '{')
      return list('}', () => {
        space();
        string();
        space();
        expect(':');
        value();
      });
    if (c === '[') return list(']', value);
    if (c === '"') return string();
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    const literal = ['true', 'false', 'null'].find((l) => l.startsWith(c) && c !== '') ?? '';
    for (const letter of literal) expect(letter); // `tru}` fails at the `}`, as V8 says
    if (literal === '') fail();
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (e) {
    // A document nested deeper than the stack allows ends the scan where it got to.
    return e instanceof ScanStop ? e.at : i;
  }
}

class ScanStop {
  constructor(readonly at: number) {}
}
