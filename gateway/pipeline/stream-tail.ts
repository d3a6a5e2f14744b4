import type { LoadedPolicy } from '../../policies/load.js';

/**
 * Where the part of a streamed text that might still become part of a redacted span begins, for `progressive`
 * mode (stream-progressive.ts): everything before it can be released once checked, everything from it on is held
 * until more text (or the end) shows what it is.
 *
 * The built-in detectors (classifiers/detectors.ts) match runs without whitespace (emails, API keys, JWTs), or
 * runs whose only whitespace is a single character between groups of digits or capitals (card numbers, phone
 * numbers, IBANs, national ids, a private key's `-----BEGIN RSA PRIVATE KEY-----` line); the normaliser also reads
 * letters spelled one at a time (`s k - p r o j`). So the held tail is the last word, extended back over every
 * single whitespace character that could join two parts of one match: one after a digit, a capital, `)` or `-`
 * followed by a digit, a capital, `(`, `+` or `-`, or one next to a single character. Text ending in one
 * whitespace character holds its last word too when that word may go on (a digit or a capital last, or a single
 * character: the next delta may continue a spaced number). Two whitespace characters in a row, or one after a
 * longer word ending in a lower-case letter or punctuation, end every match these detectors make. A match found
 * at the end of the text is held whole by the caller (it may still grow), whatever this says.
 */
export function heldTailStart(text: string, from: number): number {
  let i = text.length;
  // Ideographs, kana and hangul are never part of a match: text in those scripts is held no further back than them.
  if (i > from && isBreak(text.charCodeAt(i - 1))) return i;
  let trailing = 0;
  while (i > from && isSpace(text.charCodeAt(i - 1))) {
    i--;
    trailing++;
  }
  // Two whitespace characters end every match; one ends it unless the word before it may go on after it.
  if (trailing >= 2 || (trailing === 1 && i > from && !mayContinue(text, i))) return text.length;
  for (;;) {
    const wordEnd = i;
    while (i > from && !isSpace(text.charCodeAt(i - 1)) && !isBreak(text.charCodeAt(i - 1))) i--;
    if (i <= from) return from;
    if (isBreak(text.charCodeAt(i - 1))) return i;
    // text[i - 1] is the whitespace character before the word text[i, wordEnd).
    const space = i - 1;
    if (space <= from || isSpace(text.charCodeAt(space - 1)) || !joins(text, space, wordEnd)) return i;
    i = space;
  }
}

const isSpace = (c: number) =>
  c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0x3000;
/** CJK full stop and comma, kana, ideographs and hangul: no detector reads them, and the normaliser folds none to ASCII. */
const isBreak = (c: number) =>
  c === 0x3001 ||
  c === 0x3002 ||
  (c >= 0x3040 && c <= 0x30ff) ||
  (c >= 0x3400 && c <= 0x4dbf) ||
  (c >= 0x4e00 && c <= 0x9fff) ||
  (c >= 0xac00 && c <= 0xd7af);
/** Digits, capitals and the punctuation that closes or continues a spaced group. */
const endsGroup = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 41 || c === 45;
/** Digits, capitals and the punctuation that opens a spaced group. */
const startsGroup = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 40 || c === 43 || c === 45;

/** The length of the word that ends at `end` (exclusive). */
function wordBefore(text: string, end: number): number {
  let j = end;
  while (j > 0 && !isSpace(text.charCodeAt(j - 1))) j--;
  return end - j;
}

/** Whether the whitespace at `space` may sit inside one match, with the word text[space + 1, wordEnd) after it. */
function joins(text: string, space: number, wordEnd: number): boolean {
  if (wordEnd - space - 1 <= 1 || wordBefore(text, space) <= 1) return true;
  return endsGroup(text.charCodeAt(space - 1)) && startsGroup(text.charCodeAt(space + 1));
}

/** Whether the word ending at `end` may go on as one match after a single whitespace character. */
function mayContinue(text: string, end: number): boolean {
  return wordBefore(text, end) <= 1 || endsGroup(text.charCodeAt(end - 1));
}

const fixedHold = new WeakMap<LoadedPolicy, boolean>();

/**
 * Whether an enforced output rule of the policy redacts with something other than the built-in detectors (its own
 * regular expressions or keywords, or a model): their matches may hold any whitespace, so the word rule above does
 * not bound them, and progressive mode also holds back the last `overlapChars`, as buffer mode does.
 */
export function needsFixedHold(p: LoadedPolicy): boolean {
  let v = fixedHold.get(p);
  if (v === undefined) {
    const declared = new Map(p.policy.classifiers.map((c) => [c.id, c]));
    v = p.rules.some(
      (r) =>
        r.stages.includes('output') &&
        r.rule.mode === 'enforce' &&
        r.rule.action === 'redact' &&
        [...r.condition.classifiers].some((id) => {
          const c = declared.get(id);
          if (c?.type !== 'rules') return true;
          const params = (c.params ?? {}) as { patterns?: unknown[]; keywords?: unknown[] };
          return (params.patterns?.length ?? 0) > 0 || (params.keywords?.length ?? 0) > 0;
        }),
    );
    fixedHold.set(p, v);
  }
  return v;
}

const costly = new WeakMap<LoadedPolicy, boolean>();

/**
 * Whether the policy's output stage runs a classifier other than the rules classifier (a model, a judge, a grader):
 * checking at every pause of the upstream would run it for every token, so progressive mode lets its windows grow
 * instead (32 characters first, twice as many each check, up to `windowChars`).
 */
export function hasCostlyOutput(p: LoadedPolicy): boolean {
  let v = costly.get(p);
  if (v === undefined) {
    const types = new Map(p.policy.classifiers.map((c) => [c.id, c.type]));
    v = p.rules.some(
      (r) =>
        r.stages.includes('output') &&
        r.rule.mode !== 'disabled' &&
        [...r.condition.classifiers].some((id) => types.get(id) !== 'rules'),
    );
    costly.set(p, v);
  }
  return v;
}
