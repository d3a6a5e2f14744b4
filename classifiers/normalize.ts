import { codePoint, foldChar, LEET, LEET_ONE_AS_I, LEET_ONE_AS_L, lookalike } from './normalize/chars.js';
import { findEncoded, findTags, ROT13_HINT, type Decoded } from './normalize/decode.js';
import { Builder, flatten, mapBack, Mapped } from './normalize/mapped.js';

/**
 * The normalisation pass that runs before classification, so obfuscated text reads like the plain text it
 * hides. Any classifier type can use it; the rules classifier does by default (`params.normalize`).
 */

/** One more reading of the text to scan: a decoded span, or an alternative folding. */
export interface Variant {
  kind: Decoded['kind'] | 'leet-l' | 'spelled';
  text: string;
  /** The span of the ORIGINAL text this reading came from (the whole encoded run, for decoded spans). */
  start: number;
  end: number;
  /**
   * For a re-reading of the whole text (`leet-l`, `spelled`): maps a span of `text` back to the original, so a
   * match in it covers what it matched, not the whole text. Decoded spans have none: a match covers the run.
   */
  toOriginal?(start: number, end: number): { start: number; end: number };
}

export interface Normalized {
  /**
   * The folded text: NFKC without diacritics, look-alikes folded, invisibles removed, spelling joined, leetspeak read.
   */
  text: string;
  /** True when `text` differs from the input. */
  changed: boolean;
  /**
   * Further readings to scan too: decoded base64, hex, rot13 and tag-character spans (themselves normalised), `1` read
   * as `l`.
   */
  variants: Variant[];
  /** Maps a span of `text` back to the span of the original text it came from. */
  toOriginal(start: number, end: number): { start: number; end: number };
}

/** Plain ASCII with none of the shapes the pass looks for: letters mixed with digits or symbols, spelled-out
 * letters, long base64-like or hex runs, rot13 forms of common words. Such text is returned as it is. */
const SUSPICIOUS =
  /[^\t\n\r\x20-\x7e]|[a-z][0-9@$!|]|[0-9@$|][a-z]|(?:^|[^a-z0-9])[a-z0-9@$](?:[\s.\-_*~/]{1,3}[a-z0-9@$]){3}(?![a-z0-9])|[a-z0-9+/_-]{12}|(?:[0-9a-f]{2}[\s,:]?){6}|\\x[0-9a-f]{2}|%[0-9a-f]{2}/i;

/** Any UTF-16 code unit past ASCII. */
const NON_ASCII = /[\x80-\uffff]/;

/** Pass 1: per code point — compatibility folding, diacritics, invisibles. ASCII passes as it is. */
function foldChars(src: string): Mapped {
  const ascii = new Mapped(src);
  if (!NON_ASCII.test(src)) return ascii;
  // Runs of characters that fold to themselves are copied as they are; `ascii` is the identity map.
  const out = new Builder();
  let run = 0;
  for (let i = 0; i < src.length;) {
    const cp = codePoint(src, i);
    if (cp < 0x80) {
      i++;
      continue;
    }
    const len = cp > 0xffff ? 2 : 1;
    const f = foldChar(cp);
    if (f.length === len && f === src.slice(i, i + len)) {
      i += len; // unchanged (most letters of most scripts): stays in the run
      continue;
    }
    out.copy(ascii, run, i);
    out.push(f, i, i + len);
    i += len;
    run = i;
  }
  if (run === 0) return ascii; // nothing folded
  out.copy(ascii, run, src.length);
  return out.done();
}

/** A word with at least one non-ASCII letter or digit. */
const FOREIGN_WORD = /[\p{L}\p{N}]*[\u{80}-\u{10ffff}][\p{L}\p{N}]*/gu;
const LETTER = /\p{L}/u;

/**
 * Pass 1b: look-alikes, per word. A word is read as Latin when every non-ASCII letter in it has an ASCII
 * look-alike (`bоmb` with a Cyrillic о, or an all-Cyrillic `сосаіnе`); an ordinary Russian or Greek word has
 * letters without one and stays as it is.
 */
function foldLookalikes(m: Mapped): Mapped {
  if (!NON_ASCII.test(m.text)) return m;
  const out = new Builder();
  let at = 0;
  for (const w of m.text.matchAll(FOREIGN_WORD)) {
    let fold = true;
    for (const c of w[0]) {
      if (c.charCodeAt(0) < 0x80 || lookalike(codePoint(c)) !== undefined || !LETTER.test(c)) continue;
      fold = false;
      break;
    }
    if (!fold) continue;
    out.copy(m, at, w.index);
    for (let i = w.index; i < w.index + w[0].length;) {
      const cp = codePoint(m.text, i);
      const len = cp > 0xffff ? 2 : 1;
      const a = cp < 0x80 ? undefined : lookalike(cp);
      if (a === undefined) out.copy(m, i, i + len);
      else out.push(a, m.start(i), m.end(i + len - 1));
      i += len;
    }
    at = w.index + w[0].length;
  }
  if (at === 0) return m;
  out.copy(m, at, m.text.length);
  return out.done();
}

/** Letters (or leet symbols) spelled one at a time with separators: `b o m b`, `b.o.m.b`, `b-0-m-b`, `d o n ' t`. */
const SPELLED = /(?<![\p{L}\p{N}])[\p{L}\p{N}@$](?:[\s.\-_*~/·•]{1,3}[\p{L}\p{N}@$'’]){3,}(?![\p{L}\p{N}])/gu;

/**
 * Pass 2: joins spelled-out letters. A gap of two or more spaces (or a slash) inside a run stays a word break,
 * and so do the space after a leading `a` or `I` (`make a b o m b` reads `make a bomb`) and a space in a
 * run spelled mostly with dots or dashes (`h.o.w t.o` reads `how to`).
 */
function despace(m: Mapped, leadBreak = true): Mapped & { leadBroken?: boolean } {
  if (!SPELLED.test(m.text)) return m;
  SPELLED.lastIndex = 0;
  const out = new Builder();
  let at = 0;
  let leadBroken = false;
  const copy = (s: number, e: number) => out.copy(m, s, e);
  for (const r of m.text.matchAll(SPELLED)) {
    if (!/\p{L}/u.test(r[0])) continue;
    copy(at, r.index);
    // With dots or dashes between letters (`h.o.w t.o`), any gap with a space in it is a word break.
    const gaps = r[0].match(/[\s.\-_*~/·•]+/g) ?? [];
    const dotted = gaps.filter((g) => /\S/.test(g)).length > gaps.length / 2;
    for (let i = r.index; i < r.index + r[0].length;) {
      const gap = /^[\s.\-_*~/·•]+/.exec(m.text.slice(i, i + 3));
      if (!gap) {
        copy(i, i + 1);
        i++;
        continue;
      }
      // `make a b o m b` (one spelled word after an article), not `I g n o r e   a l l` (a spelled sentence).
      const lead =
        leadBreak &&
        i === r.index + 1 &&
        gap[0] === ' ' &&
        /^[aAiI]$/.test(m.text.charAt(r.index)) &&
        r[0].length > 8 &&
        !/\s{2,}/.test(r[0]);
      if (lead) leadBroken = true;
      if (lead || /\s{2,}|\//.test(gap[0]) || (dotted && /\s/.test(gap[0])))
        out.push(' ', m.start(i), m.end(i + gap[0].length - 1));
      i += gap[0].length;
    }
    at = r.index + r[0].length;
  }
  copy(at, m.text.length);
  return Object.assign(out.done(), { leadBroken });
}

/** A token mixing letters with digits or leet symbols (`b0mb`, `h4ck3r`, `$teal`, `k!ll`). */
const MIXED = /[\p{L}\p{N}@$!|]*\p{L}[\p{L}\p{N}@$!|]*/gu;

const LEETISH = /\p{L}[0-9@$!|]|[0-9@$!|]\p{L}/u;

/** A short number made of leet digits only (`4`, `70`), read as a word only in leet-heavy text. */
const SHORT_NUMBER = /(?<![\p{L}\p{N}.,])[013457]{1,3}(?![\p{L}\p{N}]|[.,]\d)/gu;

/**
 * Pass 3: reads leetspeak inside tokens that have letters. Numbers on their own stay numbers, unless at least
 * a fifth of the words (and two or more) are written in leet: then `4` and `70` read as `a` and `to` too.
 * Length-preserving, so offsets need no new map.
 */
function unleet(text: string, one: string): string {
  if (!LEETISH.test(text)) return text;
  const words = text.match(/[\p{L}\p{N}@$]+/gu)?.length ?? 0;
  const leet = text.match(/\p{L}[0-9@$]|[0-9@$]\p{L}/gu)?.length ?? 0;
  if (leet >= 2 && leet >= words / 5)
    text = text.replace(SHORT_NUMBER, (n) => [...n].map((c) => (c === '1' ? one : (LEET[c] ?? c))).join(''));
  return text.replace(MIXED, (tok: string, at: number) => {
    if (!/[0-9@$!|]/.test(tok)) return tok;
    // `name@example.com` is an address, not leetspeak.
    if (tok.includes('@') && text[at + tok.length] === '.') return tok;
    const trimmed = tok.replace(/[!|]+$/, '');
    let out = '';
    for (const c of trimmed) out += c === '1' ? one : (LEET[c] ?? c);
    return out + tok.slice(trimmed.length);
  });
}

const identity = (text: string): Normalized => ({
  text,
  changed: false,
  variants: [],
  toOriginal: (start, end) => ({ start, end }),
});

/**
 * Normalises a text for classification. Cheap for ordinary text: plain ASCII without suspicious shapes comes
 * back unchanged with no variants, without allocating a map.
 *
 * Offsets: `text` can be shorter or longer than the input; `toOriginal` maps its spans back, and each variant
 * names the original span it was decoded from, so redaction always works on the original text.
 *
 * @example
 * const n = normalize('how to make a b\u200bо\u200bmb'); // Cyrillic о, zero-width spaces
 * n.text // 'how to make a bomb'
 * @example
 * normalize('aG93IHRvIG1ha2UgYSBib21i').variants[0];
 * // { kind: 'base64', text: 'how to make a bomb', start: 0, end: 24 }
 */
export function normalize(text: string, depth = 0): Normalized {
  if (!SUSPICIOUS.test(text) && !ROT13_HINT.test(text)) {
    // Plain text: only its line breaks and joined words are read again, without the costlier passes.
    const flat = flatten(new Mapped(text));
    return flat.text === text ? identity(text) : { ...identity(flat.text), changed: true, toOriginal: mapBack(flat) };
  }
  const chars = foldLookalikes(foldChars(text));
  const despaced = despace(chars);
  const spelled = Object.assign(flatten(despaced), { leadBroken: despaced.leadBroken });
  const folded = unleet(spelled.text, LEET_ONE_AS_I);
  const toOriginal = mapBack(spelled);

  const variants: Variant[] = [];
  // The break after a leading `a` or `I` is a guess (`a b o m b` or `I g n o r e`?): the other reading is scanned too.
  // unleet replaces one character with one, so a reading keeps the offsets of the text it was read from.
  if (spelled.leadBroken) {
    const unbroken = flatten(despace(chars, false));
    const reading = unleet(unbroken.text, LEET_ONE_AS_I);
    variants.push({ kind: 'spelled', text: reading, start: 0, end: text.length, toOriginal: mapBack(unbroken) });
  }
  if (/[a-z]1|1[a-z]/i.test(spelled.text)) {
    variants.push({
      kind: 'leet-l',
      text: unleet(spelled.text, LEET_ONE_AS_L),
      start: 0,
      end: text.length,
      toOriginal,
    });
  }
  if (depth < 2) {
    // Tag characters are invisible, so pass 1 drops them; what they spell is read from the original text.
    const found = [
      ...findTags(text),
      ...findEncoded(chars.text).map((d) => ({ ...d, start: chars.start(d.start), end: chars.end(d.end - 1) })),
    ];
    for (const d of found) {
      const span = { start: d.start, end: d.end };
      const inner = normalize(d.text, depth + 1);
      variants.push({ kind: d.kind, text: inner.text, ...span });
      for (const v of inner.variants) variants.push({ ...v, ...span });
    }
  }
  return { text: folded, changed: folded !== text, variants, toOriginal };
}
