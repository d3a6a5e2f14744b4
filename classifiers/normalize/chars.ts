import { createRequire } from 'node:module';

/**
 * Per-character folding: compatibility decomposition without diacritics, invisible characters removed, and
 * non-ASCII look-alikes of ASCII letters and digits folded to them.
 *
 * The confusables come from Unicode's own table (UTS #39 confusables.txt) as packaged by nodeca/unhomoglyph
 * (MIT). Only the entries that map a non-ASCII character onto ASCII letters or digits are kept: the raw
 * table also maps ASCII onto ASCII (`m` → `rn`, `1` → `l`, `0` → `O`), which would garble ordinary text.
 */

/** The code point at `i`, which the caller keeps inside `text`; past the end is a bug, and says so. */
export function codePoint(text: string, i = 0): number {
  const cp = text.codePointAt(i);
  if (cp === undefined) throw new RangeError(`no code point at ${i} in a string of ${text.length} code units`);
  return cp;
}

const require = createRequire(import.meta.url);
const CONFUSABLES = require('unhomoglyph/data.json') as Record<string, string>;

/** Non-ASCII code point → its ASCII skeleton (letters and digits only, at most three of them). */
const TO_ASCII = new Map<number, string>();
for (const [from, to] of Object.entries(CONFUSABLES)) {
  const cp = codePoint(from);
  if (cp < 0x80 || from.length !== String.fromCodePoint(cp).length) continue;
  // The skeleton of capital I is `l`; an upper-case look-alike (Greek Ι, Cyrillic І) reads better as `I`.
  if (/^[A-Za-z0-9]{1,3}$/.test(to)) TO_ASCII.set(cp, to === 'l' && /\p{Lu}/u.test(from) ? 'I' : to);
}

/**
 * Characters that render as nothing or only steer rendering: zero-width spaces and joiners, bidi embeddings,
 * overrides and isolates, the BOM, soft hyphen, word joiner and invisible operators, variation selectors,
 * Mongolian vowel separator, Hangul fillers, and the tag block (used to smuggle text invisibly).
 */
const INVISIBLE =
  // eslint-disable-next-line no-misleading-character-class -- combining marks (CGJ, variation selectors) go alone
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/u;
const MARK = /\p{M}/gu;
/** Spaces of every width become a plain space. */
const SPACE = /^[\p{Zs}\u2028\u2029]$/u;

const cache = new Map<number, string>();

/**
 * The ASCII look-alike of a non-ASCII character, if it has one.
 *
 * @example lookalike(0x0430) // 'a' (Cyrillic а)
 * @example lookalike(0x0434) // undefined (Cyrillic д)
 */
export const lookalike = (cp: number): string | undefined => TO_ASCII.get(cp);

/**
 * The folded form of one non-ASCII code point: '' for invisible characters and combining marks, a space for
 * every kind of space, else its NFKD decomposition without marks, recomposed (NFC). Look-alikes are folded
 * per word, by `lookalike`, since a whole Cyrillic word is not a disguised Latin one.
 *
 * @example foldChar(0x1d41b) // 'b' (mathematical bold b)
 * @example foldChar(0x00e9) // 'e'
 * @example foldChar(0x200b) // '' (zero-width space)
 */
export function foldChar(cp: number): string {
  let out = cache.get(cp);
  if (out !== undefined) return out;
  const ch = String.fromCodePoint(cp);
  if (INVISIBLE.test(ch)) out = '';
  else if (SPACE.test(ch)) out = ' ';
  else {
    out = ch.normalize('NFKD').replace(MARK, '').normalize('NFC');
  }
  if (cache.size < 50_000) cache.set(cp, out);
  return out;
}

/** Leetspeak: symbol or digit → the letter it stands for (1 also reads as `l`: see `LEET_ONE_AS_L`). */
/** How a lone `1` reads by default (`k1ll`); LEET_ONE_AS_L is the other reading (`1ist`). */
export const LEET_ONE_AS_I = 'i';
export const LEET: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': LEET_ONE_AS_I,
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '8': 'b',
  '9': 'g',
  '@': 'a',
  $: 's',
  '!': 'i',
  '|': 'l',
};
export const LEET_ONE_AS_L = 'l';
