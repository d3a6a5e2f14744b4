import type { Classifier, ClassifierInput, ClassifierResult } from './types.js';

const NEVER = new AbortController().signal;

/**
 * Runs one classifier under its timeout and turns every failure — a throw, a timeout, an abort, a score that
 * is not a number in [0, 1] — into a result with `error` set. It never throws, so the policy can apply the
 * rule's onError (refuse, by default).
 *
 * The classifier gets the request's signal, which fires when the client goes away. A timeout does not abort
 * the classifier's own work (that would cost an AbortController per call on the hot path); its late result is
 * discarded. A classifier with `classifySync` is called directly: no timer could interrupt synchronous work.
 */
export function runClassifier(
  c: Classifier,
  input: ClassifierInput,
  signal: AbortSignal = NEVER,
): Promise<ClassifierResult> {
  if (!c.classifySync) return runAsync(c, input, signal);
  const started = performance.now();
  try {
    return Promise.resolve(checked(c, c.classifySync(input), started));
  } catch (e) {
    return Promise.resolve(failed(c, e, started));
  }
}

async function runAsync(c: Classifier, input: ClassifierInput, signal: AbortSignal): Promise<ClassifierResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${c.timeoutMs} ms`)), c.timeoutMs);
  });
  try {
    return checked(c, await Promise.race([c.classify(input, signal), timeout]), started);
  } catch (e) {
    return failed(c, e, started);
  } finally {
    clearTimeout(timer);
  }
}

/** The result with its id and latency; throws when a score is not a number in [0, 1]. */
function checked(c: Classifier, out: Omit<ClassifierResult, 'id' | 'latencyMs'>, started: number): ClassifierResult {
  for (const label in out.scores) {
    const v = out.scores[label];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      throw new Error(`score for label ${label} is ${String(v)}, not a number in [0, 1]`);
  }
  return { id: c.id, ...out, latencyMs: performance.now() - started };
}

const failed = (c: Classifier, e: unknown, started: number): ClassifierResult => ({
  id: c.id,
  scores: {},
  explanation: 'classifier failed',
  latencyMs: performance.now() - started,
  error: e instanceof Error ? e.message : String(e),
});
