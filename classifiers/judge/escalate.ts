/**
 * The judge as the top tier: a judge that is asked only where a local classifier is unsure. A policy declares it
 * on the judge, `"escalate": {"classifier": "heads", "label": "unsafe", "band": [0.3, 0.9]}`; the loader wraps the
 * judge (`escalating`) and shares the local classifier's work with it (`shared`), so the local model runs once
 * per text whether the rules, the judge, or both read it.
 */
import { runClassifier } from '../run.js';
import type { Classifier, ClassifierInput, ClassifierResult } from '../types.js';

export interface Escalation {
  /** The local classifier whose score decides. */
  classifier: string;
  label: string;
  /** Inclusive: a score in [low, high] is unsure, and the judge is asked. */
  band: readonly [number, number];
}

type Result = Omit<ClassifierResult, 'id' | 'latencyMs'>;

/**
 * A classifier whose concurrent and recent calls on the same input share one computation: the engine's call for
 * the rules and the escalating judge's call for its band check. Entries are bounded (`size`) and kept `ttlMs`.
 */
export function shared(c: Classifier, size = 512, ttlMs = 10_000): Classifier {
  const recent = new Map<string, { at: number; result: Promise<Result> }>();
  const classify = (input: ClassifierInput, signal: AbortSignal): Promise<Result> => {
    const key = `${input.stage}\0${input.prompt ?? ''}\0${input.text}`;
    const now = Date.now();
    const hit = recent.get(key);
    if (hit && now - hit.at < ttlMs) return hit.result;
    const sync = c.classifySync?.bind(c);
    const result = sync ? Promise.resolve().then(() => sync(input)) : c.classify(input, signal);
    recent.delete(key);
    recent.set(key, { at: now, result });
    // A failure is not shared with later calls: they try again.
    result.catch(() => recent.get(key)?.result === result && recent.delete(key));
    while (recent.size > size) recent.delete(recent.keys().next().value as string);
    return result;
  };
  // classifySync is dropped on purpose: the shared promise is what both callers wait on.
  return {
    id: c.id,
    labels: c.labels,
    version: c.version,
    timeoutMs: c.timeoutMs,
    ...(c.local !== undefined && { local: c.local }),
    ...(c.ready && { ready: c.ready.bind(c) }),
    ...(c.close && { close: c.close.bind(c) }),
    classify,
  };
}

/**
 * A judge asked only where `source` is unsure: its score for `label` inside the band, or a failure (an unsure
 * model by definition). Outside the band the judge is not called; its result stands in for the judge's, scoring
 * the judge's labels that the source also has (the others 0), with `details.escalated: false`. So rules and
 * grading read the judge's id alone and get the local model's verdict where it is sure.
 */
export function escalating(judge: Classifier, source: Classifier, e: Escalation, timeoutMs: number): Classifier {
  const [low, high] = e.band;
  return {
    id: judge.id,
    labels: judge.labels,
    version: judge.version,
    timeoutMs,
    ...(judge.ready && { ready: judge.ready.bind(judge) }),
    ...(judge.close && { close: judge.close.bind(judge) }),
    async classify(input, signal) {
      const local = await runClassifier(source, input, signal);
      const score = local.error ? undefined : (local.scores[e.label] ?? 0);
      const because = { source: source.id, label: e.label, band: [low, high], source_score: score ?? null };
      if (score !== undefined && (score < low || score > high)) {
        const scores = Object.fromEntries(judge.labels.map((l) => [l, local.scores[l] ?? 0]));
        return {
          scores,
          explanation: `not escalated: ${source.id}.${e.label}=${score.toFixed(3)} outside [${low}, ${high}]; ${local.explanation}`,
          details: { escalated: false, ...because },
          ...(local.spans && { spans: local.spans }),
        };
      }
      const verdict = await judge.classify(input, signal);
      return {
        ...verdict,
        details: {
          ...verdict.details,
          escalated: true,
          ...because,
          ...(local.error && { source_error: local.error.code }),
        },
      };
    },
  };
}
