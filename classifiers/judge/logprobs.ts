/** One generated token with the alternatives the server reported for its position. */
export interface TokenLogprobs {
  token: string;
  logprob: number;
  top: { token: string; logprob: number }[];
}

/**
 * What a token says once whitespace, brackets and punctuation around it are dropped: `" C"`, `"(C"`, `"C."`
 * and `"c"` all read `C`. `normalise` decides case (letters are upper-cased for rubrics, words lower-cased).
 */
export const bareToken = (token: string): string => token.replace(/^[\s"'`*([{<▁Ġ]+|[\s"'`*)\]}>.,:;!?]+$/gu, '');

/**
 * Turns the alternatives at one position into a probability per choice: each alternative that reads as a
 * choice adds its probability to that choice (`" C"` and `"C"` are one choice), and the sum over the choices
 * found is normalised to 1 — a softmax over the choices' log-probabilities. Choices not among the
 * alternatives get 0. Returns undefined when no alternative reads as a choice.
 * @example
 * const alternatives = [{ token: ' C', logprob: -0.1 }, { token: 'D', logprob: -2.4 }];
 * choiceProbabilities(alternatives, ['A', 'B', 'C', 'D'], (t) => t.toUpperCase());
 * // { A: 0, B: 0, C: 0.909, D: 0.091 }
 */
export function choiceProbabilities(
  top: readonly { token: string; logprob: number }[],
  choices: readonly string[],
  normalise: (bare: string) => string,
): Record<string, number> | undefined {
  const mass = new Map<string, number>();
  for (const alt of top) {
    if (!Number.isFinite(alt.logprob)) continue;
    const c = normalise(bareToken(alt.token));
    if (choices.includes(c)) mass.set(c, (mass.get(c) ?? 0) + Math.exp(alt.logprob));
  }
  const total = [...mass.values()].reduce((a, b) => a + b, 0);
  if (!(total > 0)) return undefined;
  return Object.fromEntries(choices.map((c) => [c, (mass.get(c) ?? 0) / total]));
}

/** The label with the highest probability; ties go to the earlier label. */
export function argmax(probs: Record<string, number>, order: readonly string[]): string {
  const [first, ...rest] = order;
  if (first === undefined) throw new Error('argmax over no labels');
  return rest.reduce((best, l) => ((probs[l] ?? 0) > (probs[best] ?? 0) ? l : best), first);
}
