import { foldChar, LEET, LEET_ONE_AS_L } from './normalize/chars.js';
import { findEncoded, ROT13_HINT, type Decoded } from './normalize/decode.js';

/**
 * The normalisation pass that runs before classification, so obfuscated text reads like the plain text it
 * hides. Any classifier type can use it; the rules classifier does by default (`params.normalize`).
 */

/** One more reading of the text to scan: a decoded span, or an alternative folding. */
export interface Variant {
  kind: Decoded['kind'] | 'leet-l';
  text: string;
  /** The span of the ORIGINAL text this reading came from (the whole encoded run, for decoded spans). */
  start: number;
  end: number;
}

export interface Normalized {
  /** The folded text: NFKC without diacritics, look-alikes folded, invisibles removed, spelling joined, leetspeak read. */
  text: string;
  /** True when `text` differs from the input. */
  changed: boolean;
  /** Further readings to scan too: decoded base64, hex and rot13 spans (themselves normalised), and `1` read as `l`. */
  variants: Variant[];
  /** Maps a span of `text` back to the span of the original text it came from. */
  toOriginal(start: number, end: number): { start: number; end: number };
}

/** A folded string and, for each of its UTF-16 units, the span of the source it came from. */
interface Mapped {
  text: string;
  from: number[];
  to: number[];
}

/** Plain ASCII with none of the shapes the pass looks for: letters mixed with digits or symbols, spelled-out
 * letters, long base64-like or hex runs, rot13 forms of common words. Such text is returned as it is. */
const SUSPICIOUS =
  /[^\t\n\r\x20-\x7e]|[a-z][0-9@$!|]|[0-9@$|][a-z]|(?:^|[^a-z0-9])[a-z0-9@$](?:[\s.\-_*~/]{1,3}[a-z0-9@$]){3}(?![a-z0-9])|[a-z0-9+/_-]{12}|(?:[0-9a-f]{2}[\s,:]?){6}|\\x[0-9a-f]{2}|%[0-9a-f]{2}/i;

/** Pass 1: per code point — compatibility folding, diacritics, invisibles, look-alikes. */
function foldChars(src: string): Mapped {
  const out: Mapped = { text: '', from: [], to: [] };
  const parts: string[] = [];
  for (let i = 0; i < src.length; ) {
    const cp = src.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    const f = cp < 0x80 ? src[i] : foldChar(cp);
    parts.push(f);
    for (let k = 0; k < f.length; k++) {
      out.from.push(i);
      out.to.push(i + len);
    }
    i += len;
  }
  out.text = parts.join('');
  return out;
}

/** Letters (or leet symbols) spelled one at a time with separators: `b o m b`, `b.o.m.b`, `b-0-m-b`. */
const SPELLED = /(?<![\p{L}\p{N}])[\p{L}\p{N}@$](?:[\s.\-_*~/·•]{1,3}[\p{L}\p{N}@$]){3,}(?![\p{L}\p{N}])/gu;

/**
 * Pass 2: joins spelled-out letters. A gap of two or more spaces (or a slash) inside a run stays a word break,
 * and so do the space after a leading `a` or `I` (`make a b o m b` reads `make a bomb`) and a space in a
 * run spelled mostly with dots or dashes (`h.o.w t.o` reads `how to`).
 */
function despace(m: Mapped): Mapped {
  if (!SPELLED.test(m.text)) return m;
  SPELLED.lastIndex = 0;
  const out: Mapped = { text: '', from: [], to: [] };
  let at = 0;
  const copy = (s: number, e: number) => {
    out.text += m.text.slice(s, e);
    out.from.push(...m.from.slice(s, e));
    out.to.push(...m.to.slice(s, e));
  };
  for (const r of m.text.matchAll(SPELLED)) {
    if (!/\p{L}/u.test(r[0])) continue;
    copy(at, r.index);
    // With dots or dashes between letters (`h.o.w t.o`), a plain space is a word break.
    const gaps = r[0].match(/[\s.\-_*~/·•]+/g) ?? [];
    const dotted = gaps.filter((g) => /\S/.test(g)).length > gaps.length / 2;
    for (let i = r.index; i < r.index + r[0].length; ) {
      const gap = /^[\s.\-_*~/·•]+/.exec(m.text.slice(i, i + 3));
      if (!gap) {
        copy(i, i + 1);
        i++;
        continue;
      }
      const lead = i === r.index + 1 && /^ $/.test(gap[0]) && /^[aAiI]$/.test(m.text[r.index]) && r[0].length > 8;
      if (lead || /\s{2,}|\//.test(gap[0]) || (dotted && /^\s+$/.test(gap[0]))) {
        out.text += ' ';
        out.from.push(m.from[i]);
        out.to.push(m.to[i + gap[0].length - 1]);
      }
      i += gap[0].length;
    }
    at = r.index + r[0].length;
  }
  copy(at, m.text.length);
  return out;
}

/** A token mixing letters with digits or leet symbols (`b0mb`, `h4ck3r`, `$teal`, `k!ll`). */
const MIXED = /[\p{L}\p{N}@$!|]*\p{L}[\p{L}\p{N}@$!|]*/gu;

/** A short number made of leet digits only (`4`, `70`), read as a word only in leet-heavy text. */
const SHORT_NUMBER = /(?<![\p{L}\p{N}.,])[013457]{1,3}(?![\p{L}\p{N}]|[.,]\d)/gu;

/**
 * Pass 3: reads leetspeak inside tokens that have letters. Numbers on their own stay numbers, unless at least
 * a fifth of the words (and two or more) are written in leet: then `4` and `70` read as `a` and `to` too.
 * Length-preserving, so offsets need no new map.
 */
function unleet(text: string, one: string): string {
  const words = text.match(/[\p{L}\p{N}@$]+/gu)?.length ?? 0;
  const leet = text.match(/\p{L}[0-9@$]|[0-9@$]\p{L}/gu)?.length ?? 0;
  if (leet >= 2 && leet >= words / 5) text = text.replace(SHORT_NUMBER, (n) => [...n].map((c) => (c === '1' ? one : LEET[c])).join(''));
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

const identity = (text: string): Normalized => ({ text, changed: false, variants: [], toOriginal: (start, end) => ({ start, end }) });

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
 * normalize('aG93IHRvIG1ha2UgYSBib21i').variants[0] // { kind: 'base64', text: 'how to make a bomb', start: 0, end: 24 }
 */
export function normalize(text: string, depth = 0): Normalized {
  if (!SUSPICIOUS.test(text) && !ROT13_HINT.test(text)) return identity(text);
  const chars = foldChars(text);
  const spelled = despace(chars);
  const folded = unleet(spelled.text, LEET['1']);
  const { from, to } = spelled;
  const toOriginal = (start: number, end: number) =>
    end <= start || start >= from.length
      ? { start: from[Math.min(start, from.length - 1)] ?? 0, end: from[Math.min(start, from.length - 1)] ?? 0 }
      : { start: from[start], end: to[Math.min(end, to.length) - 1] };

  const variants: Variant[] = [];
  if (/[a-z]1|1[a-z]/i.test(spelled.text)) {
    variants.push({ kind: 'leet-l', text: unleet(spelled.text, LEET_ONE_AS_L), start: 0, end: text.length });
  }
  if (depth < 2) {
    for (const d of findEncoded(chars.text)) {
      const span = { start: chars.from[d.start] ?? 0, end: chars.to[d.end - 1] ?? text.length };
      const inner = normalize(d.text, depth + 1);
      variants.push({ kind: d.kind, text: inner.text, ...span });
      for (const v of inner.variants) variants.push({ ...v, ...span });
    }
  }
  return { text: folded, changed: folded !== text, variants, toOriginal };
}
