import { runClassifier } from '../classifiers/run.js';
import type { Classifier, ClassifierResult, Stage } from '../classifiers/types.js';
import type { Selection } from './select.js';

/** A classifier not run because the text is past its maxTextChars: a failure, so rules take their onError. */
const tooLong = (id: string, length: number, max: number): ClassifierResult => ({
  id,
  scores: {},
  explanation: 'classifier not run: text too long',
  latencyMs: 0,
  error: {
    code: 'too_long',
    message: `the text is ${length} characters, past this classifier's maxTextChars of ${max}`,
  },
});

/**
 * Views' results folded into the whole conversation's: each label's highest score, every result's spans (a view's
 * moved to its place in the whole text), and the first failure, so any view can fire a rule.
 */
function merge(
  whole: ClassifierResult,
  views: { result: ClassifierResult; name: string; start: number }[],
): ClassifierResult {
  const scores = { ...whole.scores };
  const spans = [...(whole.spans ?? [])];
  let latencyMs = whole.latencyMs;
  let error = whole.error;
  for (const { result, start } of views) {
    for (const [label, v] of Object.entries(result.scores)) scores[label] = Math.max(scores[label] ?? 0, v);
    if (start >= 0)
      for (const s of result.spans ?? []) spans.push({ ...s, start: s.start + start, end: s.end + start });
    latencyMs += result.latencyMs;
    error ??= result.error;
  }
  return {
    ...whole,
    scores,
    ...(spans.length && { spans }),
    explanation: [`conversation: ${whole.explanation}`, ...views.map((v) => `${v.name}: ${v.result.explanation}`)].join(
      '; ',
    ),
    latencyMs,
    ...(error && { error }),
  };
}

/**
 * Runs a classifier on a selection: on its whole text and, when the selection is a conversation, on each of its
 * views too (the latest turn, its messages), since a model's score on a long history is diluted. Classifiers that
 * only match patterns (`local`) find in the whole text whatever they would find in a part of it, so they run once.
 */
export async function classifySelection(
  id: string,
  classifier: Classifier,
  sel: Selection,
  input: { stage: Stage; prompt?: string; maxChars: number; signal?: AbortSignal },
): Promise<ClassifierResult> {
  const { stage, prompt, maxChars, signal } = input;
  if (sel.text.length > maxChars) return tooLong(id, sel.text.length, maxChars);
  const run = (text: string) => runClassifier(classifier, { stage, text, prompt }, signal);
  if (classifier.local) return run(sel.text);
  const views = [
    ...(sel.views ?? []).map((v) => ({ name: v.name, text: sel.text.slice(v.start, v.end), start: v.start })),
    // A reading that is not a slice of the text keeps its scores and drops its spans (start: -1).
    ...(sel.readings ?? []).map((r) => ({ ...r, start: -1 })),
  ];
  if (!views.length) return run(sel.text);
  const [whole, ...results] = await Promise.all([run(sel.text), ...views.map((v) => run(v.text))]);
  return merge(
    whole,
    results.map((result, k) => ({ result, name: views[k]?.name ?? 'view', start: views[k]?.start ?? -1 })),
  );
}
