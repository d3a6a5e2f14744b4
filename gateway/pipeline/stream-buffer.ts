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
    return choices[0]?.delta.content || choices.some((ch) => ch.finish_reason) ? [{ ...c, choices }] : [];
  });
}

/**
 * `buffer` mode: chunks are held until `windowChars` of new text have arrived; the held text is then checked and
 * released if it passes — all but its last `overlapChars`, which stay held as the next window's context. So a
 * violation up to `overlapChars` long is always checked whole before any of it reaches the client, even when it
 * straddles two windows. After a redaction the whole window is released (redacted) and the next window takes its
 * context from the released text instead. Work is linear: each character is checked at most twice, plus the one
 * final check over the whole answer. No unchecked text reaches the client.
 */
export async function* bufferMode(run: StreamRun, out: Emitted): AsyncGenerator<ChatCompletionChunk, void> {
  const { windowChars, overlapChars, finalCheck } = run.options;
  let held: ChatCompletionChunk[] = [];
  let lengths: number[] = [];
  let heldText = '';
  /** Characters at the start of heldText that were checked already and held back as context. */
  let carried = 0;

  /** Checks the held text; returns the chunks to release, or the refusal to cut the stream with. */
  const check = async (final: boolean): Promise<ChatCompletionChunk[] | string> => {
    const context = final && finalCheck ? out.text : carried || !overlapChars ? '' : out.text.slice(-overlapChars);
    const d = await run.requestRun.runOutput(context + heldText, run.signal);
    if (d.action === 'refuse') return d.message;
    out.action = strongest(out.action, d.action);
    // Spans in the context were released already; only the held text can still change.
    // Redactions can ride along with other actions, so they apply whenever there are any.
    const mine = d.redactions.length
      ? d.redactions
          .filter((r) => r.end > context.length)
          .map((r) => ({ ...r, start: Math.max(0, r.start - context.length), end: r.end - context.length }))
      : [];
    let keep = 0;
    if (!final && !mine.length) {
      // Hold back whole chunks covering at least the last overlapChars.
      for (let kept = 0; keep < held.length && kept < overlapChars; keep++)
        kept += lengths[held.length - 1 - keep] ?? 0;
    }
    const release = mine.length ? rebuild(held, applyRedactions(heldText, mine)) : held.slice(0, held.length - keep);
    held = held.slice(held.length - keep);
    lengths = lengths.slice(lengths.length - keep);
    heldText = keep ? heldText.slice(heldText.length - lengths.reduce((a, b) => a + b, 0)) : '';
    carried = heldText.length;
    return release;
  };

  for (let next = run.first; !next.done; next = await run.upstream.next()) {
    const text = contentOf(next.value);
    held.push(next.value);
    lengths.push(text.length);
    heldText += text;
    if (heldText.length - carried < windowChars) continue;
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
