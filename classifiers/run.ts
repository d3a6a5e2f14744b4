import type { Classifier, ClassifierError, ClassifierInput, ClassifierResult } from './types.js';

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
    return Promise.resolve(failed(c, errorOf(e, NEVER), started));
  }
}

async function runAsync(c: Classifier, input: ClassifierInput, signal: AbortSignal): Promise<ClassifierResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Failure({ code: 'timeout', message: `timed out after ${c.timeoutMs} ms` })),
      c.timeoutMs,
    );
  });
  try {
    return checked(c, await Promise.race([c.classify(input, signal), timeout]), started);
  } catch (e) {
    return failed(c, errorOf(e, signal), started);
  } finally {
    clearTimeout(timer);
  }
}

/** The result with its id and latency; throws when a score is not a number in [0, 1]. */
function checked(c: Classifier, out: Omit<ClassifierResult, 'id' | 'latencyMs'>, started: number): ClassifierResult {
  for (const label in out.scores) {
    const v = out.scores[label];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      throw new Failure({
        code: 'bad_score',
        message: `score for label ${label} is ${String(v)}, not a number in [0, 1]`,
      });
  }
  return { id: c.id, ...out, latencyMs: performance.now() - started };
}

/** A failure the runner itself detected, with its code decided where it was detected. */
class Failure extends Error {
  constructor(readonly error: ClassifierError) {
    super(error.message);
  }
}

/**
 * What went wrong: the runner's own verdict; else a model runtime's own TIMEOUT or ABORTED code (the encoder's
 * and HF's errors carry one); else an abort when the request's signal fired; else a throw.
 */
function errorOf(e: unknown, signal: AbortSignal): ClassifierError {
  if (e instanceof Failure) return e.error;
  const message = e instanceof Error ? e.message : String(e);
  const runtimeCode = typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined;
  if (runtimeCode === 'TIMEOUT') return { code: 'timeout', message };
  return { code: signal.aborted || runtimeCode === 'ABORTED' ? 'aborted' : 'threw', message };
}

const failed = (c: Classifier, error: ClassifierError, started: number): ClassifierResult => ({
  id: c.id,
  scores: {},
  explanation: 'classifier failed',
  latencyMs: performance.now() - started,
  error,
});
