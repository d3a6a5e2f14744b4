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
 * The latest turn's result folded into the whole conversation's: each label's higher score, both results' spans
 * (the latest turn's moved to its place in the whole text), and the first failure, so either view can fire a rule.
 */
function merge(whole: ClassifierResult, latest: ClassifierResult, offset: number): ClassifierResult {
  const scores = { ...whole.scores };
  for (const [label, v] of Object.entries(latest.scores)) scores[label] = Math.max(scores[label] ?? 0, v);
  const spans = [
    ...(whole.spans ?? []),
    ...(latest.spans ?? []).map((s) => ({ ...s, start: s.start + offset, end: s.end + offset })),
  ];
  return {
    ...whole,
    scores,
    ...(spans.length && { spans }),
    explanation: `conversation: ${whole.explanation}; latest turn: ${latest.explanation}`,
    latencyMs: whole.latencyMs + latest.latencyMs,
    ...((whole.error ?? latest.error) && { error: whole.error ?? latest.error }),
  };
}

/**
 * Runs a classifier on a selection: on its whole text and, when the selection is a conversation whose latest turn
 * is not the whole of it, on the latest turn alone too (a model's score on a long history is diluted). Classifiers
 * that only match patterns (`local`) find in the whole text whatever they would find in its last part, so they
 * run once.
 */
export async function classifySelection(
  id: string,
  classifier: Classifier,
  sel: Selection,
  input: { stage: Stage; prompt?: string; maxChars: number; signal?: AbortSignal },
): Promise<ClassifierResult> {
  const { stage, prompt, maxChars, signal } = input;
  if (sel.text.length > maxChars) return tooLong(id, sel.text.length, maxChars);
  const whole = runClassifier(classifier, { stage, text: sel.text, prompt }, signal);
  if (sel.latest === undefined || classifier.local) return whole;
  const latest = runClassifier(classifier, { stage, text: sel.text.slice(sel.latest), prompt }, signal);
  return merge(await whole, await latest, sel.latest);
}
