import type { Classifier, ClassifierInput, ClassifierResult } from './types.js';

const NEVER = new AbortController().signal;

/**
 * Runs one classifier under its timeout and turns every failure — a throw, a timeout, an abort, a score that
 * is not a number in [0, 1] — into a result with `error` set. It never throws, so the policy can apply the
 * rule's onError (refuse, by default).
 *
 * The classifier gets the request's signal, which fires when the client goes away. A timeout does not abort
 * the classifier's own work (that would cost an AbortController per call on the hot path); its late result is
 * discarded.
 */
export async function runClassifier(c: Classifier, input: ClassifierInput, signal: AbortSignal = NEVER): Promise<ClassifierResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
  });
  try {
    const out = await Promise.race([c.classify(input, signal), timeout]);
    const bad = Object.entries(out.scores).find(([, v]) => typeof v !== 'number' || !(v >= 0 && v <= 1));
    if (bad) throw new Error(`score for label ${bad[0]} is ${String(bad[1])}, not a number in [0, 1]`);
    return { id: c.id, ...out, latencyMs: performance.now() - started };
  } catch (e) {
    return {
      id: c.id,
      scores: {},
      explanation: 'classifier failed',
      latencyMs: performance.now() - started,
      error: e instanceof Error ? e.message : String(e),
    };
  } finally {
    clearTimeout(timer);
  }
}
