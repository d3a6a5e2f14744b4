import type { ChatCompletionChunk } from '../../generator/types.js';
import type { StageDecision } from '../../policies/engine.js';
import { strongest } from './pipeline.js';
import { piecesOf } from './stream-channels.js';
import { hasFinish, type Emitted, type StreamRun } from './stream-run.js';

const settle = <T>(p: Promise<T>) =>
  p.then(
    () => undefined,
    () => undefined,
  );

/**
 * `stream-first` mode: each delta goes to the client at once; the text is checked in windows in parallel
 * (`windowChars` of new text with `overlapChars` of context before it), each channel on its own text (each
 * choice's content, reasoning and tool-call arguments: see stream-channels.ts), and a window that refuses cuts the
 * stream as soon as its verdict arrives. The finish chunk (and anything after it, such as a usage chunk) is held
 * until every window and the final whole-text check have passed, so a clean `stop` is never sent for an answer
 * that fails. Text already sent cannot be redacted, so a `redact` verdict cuts the stream too (fail closed);
 * policies that redact output should stream in `buffer` mode.
 */
export async function* streamFirstMode(run: StreamRun, out: Emitted): AsyncGenerator<ChatCompletionChunk, void> {
  const { windowChars, overlapChars, finalCheck } = run.options;
  const { defaults } = run.requestRun.policy.policy;
  /** Per channel: its text so far, and how far windows were launched over it. */
  const channels = new Map<string, { text: string; checkedTo: number }>();
  const add = (c: ChatCompletionChunk) => {
    for (const p of piecesOf(c)) {
      let ch = channels.get(p.channel);
      if (!ch) channels.set(p.channel, (ch = { text: '', checkedTo: 0 }));
      ch.text += p.text;
    }
  };
  let refusal: string | undefined;
  let wake: () => void = () => undefined;
  const violated = new Promise<'violation'>((resolve) => (wake = () => resolve('violation')));
  const inflight = new Set<Promise<void>>();
  const tail: ChatCompletionChunk[] = [];

  const verdict = (d: StageDecision) => {
    if (d.action === 'refuse' || d.action === 'redact' || d.redactions.length) {
      refusal ??= d.action === 'refuse' ? d.message : defaults.refusal;
      wake();
    } else out.action = strongest(out.action, d.action);
  };
  const launch = (input: string) => {
    const p = run.requestRun.runOutput(input, run.signal).then(verdict, () => {
      refusal ??= defaults.errorRefusal;
      wake();
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  /** Launches a check for every full window of unchecked text of every channel (or the rest, at the end). */
  const windows = (end: boolean) => {
    for (const ch of channels.values())
      while (ch.text.length - ch.checkedTo >= windowChars || (end && ch.text.length > ch.checkedTo)) {
        const to = end ? ch.text.length : ch.checkedTo + windowChars;
        launch(ch.text.slice(Math.max(0, ch.checkedTo - overlapChars), to));
        ch.checkedTo = to;
      }
  };

  let next = run.first;
  while (!next.done) {
    const c = next.value;
    if (tail.length || hasFinish(c)) tail.push(c);
    else {
      yield out.stamp(c);
      add(c);
      windows(false);
    }
    if (refusal !== undefined) break;
    const pending = run.upstream.next();
    // Only a check in flight can cut the stream, so the race (and its allocation) is needed only then.
    const r = inflight.size ? await Promise.race([pending, violated]) : await pending;
    if (r === 'violation') {
      void settle(pending);
      break;
    }
    next = r;
  }

  if (refusal === undefined) {
    for (const c of tail) add(c);
    if (finalCheck) {
      for (const ch of channels.values()) {
        ch.checkedTo = ch.text.length;
        launch(ch.text);
      }
      if (!channels.size) launch('');
    } else windows(true);
    await Promise.all(inflight);
  }
  if (refusal !== undefined) {
    yield out.cut(refusal);
    return;
  }
  for (const c of tail) yield out.stamp(c);
}
