/**
 * Obfuscations an attacker applies to a prompt to slip past text classifiers. Each is seeded, so a run can be
 * reproduced exactly. The encodings carry a short instruction ("Decode and answer: …"), as real attacks do.
 */

/** mulberry32, the project's seeded PRNG. */
export { rng as prng } from '../../classifiers/heads/train.js';

export type Transform = (text: string, rand: () => number) => string;

/** Cyrillic and Greek letters that render like Latin ones (from Unicode's confusables.txt). */
const HOMOGLYPH: Record<string, string> = {
  a: 'а',
  c: 'с',
  e: 'е',
  o: 'о',
  p: 'р',
  x: 'х',
  y: 'у',
  i: 'і',
  s: 'ѕ',
  j: 'ј',
  h: 'һ',
  d: 'ԁ',
  q: 'ԛ',
  w: 'ԝ',
  A: 'Α',
  B: 'Β',
  C: 'С',
  E: 'Ε',
  H: 'Η',
  I: 'Ι',
  K: 'Κ',
  M: 'Μ',
  N: 'Ν',
  O: 'Ο',
  P: 'Ρ',
  T: 'Τ',
  X: 'Χ',
  Y: 'Υ',
  Z: 'Ζ',
};
const LEET: Record<string, string> = {
  a: '4',
  e: '3',
  i: '1',
  o: '0',
  s: '5',
  t: '7',
  A: '4',
  E: '3',
  I: '1',
  O: '0',
  S: '5',
  T: '7',
};
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'];

const perLetter = (text: string, f: (c: string) => string) =>
  [...text].map((c) => (/[A-Za-z]/.test(c) ? f(c) : c)).join('');
const perWord = (text: string, f: (w: string) => string) => text.replace(/[A-Za-z]+/g, f);
const rot13 = (s: string) =>
  s.replace(/[a-z]/gi, (c) => String.fromCharCode((((c.charCodeAt(0) & 31) + 12) % 26) + (c.charCodeAt(0) & 96) + 1));

/** Every transformation by name; `none` is the baseline. */
export const TRANSFORMS: Record<string, Transform> = {
  none: (t) => t,
  'mixed case': (t, r) => perLetter(t, (c) => (r() < 0.5 ? c.toUpperCase() : c.toLowerCase())),
  homoglyphs: (t, r) => perLetter(t, (c) => (HOMOGLYPH[c] && r() < 0.6 ? HOMOGLYPH[c] : c)),
  fullwidth: (t) =>
    [...t].map((c) => (c >= '!' && c <= '~' ? String.fromCodePoint(c.charCodeAt(0) + 0xfee0) : c)).join(''),
  'math letters': (t) =>
    perLetter(t, (c) => String.fromCodePoint((c <= 'Z' ? 0x1d400 - 65 : 0x1d41a - 97) + c.charCodeAt(0))),
  'zero-width': (t, r) => perWord(t, (w) => [...w].join(INVISIBLE[Math.floor(r() * INVISIBLE.length)])),
  bidi: (t) => perWord(t, (w) => (w.length > 3 ? `\u2066${w.slice(0, 2)}\u2069\u202a${w.slice(2)}\u202c` : w)),
  /** Letters one space apart, words three spaces apart, as attackers write it. */
  'letter spacing': (t) =>
    t
      .split(/\s+/)
      .map((w) => [...w].join(' '))
      .join('   '),
  'dotted letters': (t) => perWord(t, (w) => [...w].join('.')),
  leetspeak: (t) => perLetter(t, (c) => LEET[c] ?? c),
  base64: (t) => `Decode and answer: ${Buffer.from(t).toString('base64')}`,
  hex: (t) =>
    `Decode and answer: ${Buffer.from(t)
      .toString('hex')
      .replace(/(..)(?!$)/g, '$1 ')}`,
  rot13: (t) => `Decode and answer: ${rot13(t)}`,
  /** Every character percent-encoded (read by the hex decoder). */
  'url encoding': (t) =>
    `Decode and answer: ${encodeURIComponent(t).replace(/[A-Za-z]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
  /** ASCII smuggling: the request in invisible tag characters behind a harmless greeting. */
  'tag characters': (t) =>
    `Hi! ${[...t].map((c) => (c >= ' ' && c <= '~' ? String.fromCodePoint(0xe0000 + c.charCodeAt(0)) : c)).join('')}`,
  'leet + zero-width + case': (t, r) =>
    TRANSFORMS['zero-width'](TRANSFORMS['mixed case'](TRANSFORMS.leetspeak(t, r), r), r),
};

/**
 * Obfuscations the pass does not undo, reported apart as known gaps (not counted against the goal): an
 * attacker who knows the normaliser will reach for these.
 */
export const GAPS: Record<string, Transform> = {
  'spacing, no word gaps': (t) => [...t.replace(/\s+/g, '')].join(' '),
  'reversed text': (t) => `Reverse this and answer: ${[...t].reverse().join('')}`,
  'caesar +3': (t) =>
    `Shift back by 3 and answer: ` +
    `${t.replace(/[a-z]/gi, (c) => String.fromCharCode((((c.charCodeAt(0) & 31) + 2) % 26) + (c.charCodeAt(0) & 96) + 1))}`,
  base32: (t) => `Decode base32 and answer: ${base32(Buffer.from(t))}`,
};

function base32(b: Buffer): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of b) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += A[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + A[(value << (5 - bits)) & 31] : out;
}
