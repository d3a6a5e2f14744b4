import safeRegex from 'safe-regex2';

/** The longest regex a policy author may write. */
export const MAX_REGEX_LENGTH = 2000;

/**
 * Compiles a regex written by a policy author. Patterns with nested quantifiers such as `(a+)+` — the shape
 * behind catastrophic backtracking — are rejected, because a regex runs synchronously and no timeout can stop
 * it once it starts. (Checked by safe-regex2's star-height test; bounded repeats such as `.{0,40}` are fine.)
 *
 * @example authorRegex('\\bpipe\\s*bomb', 'i') // RegExp /\bpipe\s*bomb/gi
 */
export function authorRegex(source: string, flags: string): RegExp {
  if (source.length > MAX_REGEX_LENGTH) throw new Error(`regex longer than ${MAX_REGEX_LENGTH} characters`);
  const re = new RegExp(source, flags);
  // The checker's parser does not know lookbehind; for nesting depth a lookbehind is just a group.
  if (!safeRegex(source.replace(/(?<!\\)\(\?<[!=]/g, '(?:')))
    throw new Error(
      'regex has nested quantifiers (such as (a+)+) that can backtrack catastrophically; ' +
        'rewrite it without a repeated group that itself repeats',
    );
  return re;
}
