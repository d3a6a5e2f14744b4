import type { ChatCompletionChunk } from '../../generator/types.js';
import { applyRedactions } from '../../policies/engine.js';
import { strongest } from './pipeline.js';
import { contentOf, type Emitted, type StreamRun } from './stream-run.js';

/** Held chunks with their content replaced by `text`, placed in the first chunk that carried content. */
export function rebuild(held: ChatCompletionChunk[], text: string): ChatCompletionChunk[] {
  let placed = false;
  return held.flatMap((c) => {
    if (!contentOf(c)) return [c];
    const choices = c.choices.map((ch) => ({ ...ch, delta: { ...ch.delta, content: placed ? '' : text } }));
    placed = true;
    return choices[0].delta.content || choices.some((ch) => ch.finish_reason) ? [{ ...c, choices }] : [];
  });
}

/**
 * `buffer` mode: chunks are held until the held text fills a window, then the window is checked with the last
 * `overlapChars` of released text as context and released only if it passes (redacted if a rule redacts).
 * Work is linear: each character is checked once as new text and at most once as context, plus the one final
 * check over the whole answer. No unchecked text reaches the client.
 */
export async function* bufferMode(run: StreamRun, out: Emitted): AsyncGenerator<ChatCompletionChunk, void> {
  const { windowChars, overlapChars, finalCheck } = run.options;
  let held: ChatCompletionChunk[] = [];
  let heldText = '';

  /** Checks the held text; returns the chunks to release, or the refusal to cut the stream with. */
  const check = async (final: boolean): Promise<ChatCompletionChunk[] | string> => {
    const context = final && finalCheck ? out.text : overlapChars ? out.text.slice(-overlapChars) : '';
    const d = await run.trace.outputStage(context + heldText, run.signal);
    if (d.action === 'refuse') return d.message!;
    out.action = strongest(out.action, d.action);
    let release = held;
    if (d.action === 'redact') {
      // Spans in the context were released already; only the held text can still change.
      const mine = d.redactions
        .filter((r) => r.end > context.length)
        .map((r) => ({ ...r, start: Math.max(0, r.start - context.length), end: r.end - context.length }));
      if (mine.length) release = rebuild(held, applyRedactions(heldText, mine));
    }
    held = [];
    heldText = '';
    return release;
  };

  for (let next = run.first; !next.done; next = await run.upstream.next()) {
    held.push(next.value);
    heldText += contentOf(next.value);
    if (heldText.length < windowChars) continue;
    const release = await check(false);
    if (typeof release === 'string') {
      yield out.cut(release);
      return;
    }
    for (const c of release) yield out.stamp(c);
  }
  const release = await check(true);
  if (typeof release === 'string') {
    yield out.cut(release);
    return;
  }
  for (const c of release) yield out.stamp(c);
}
