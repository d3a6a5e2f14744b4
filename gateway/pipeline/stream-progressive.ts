import type { ChatCompletionChunk } from '../../generator/types.js';
import { applyRedactions, type Redaction } from '../../policies/engine.js';
import { strongest } from './pipeline.js';
import { piecesOf, rebuildChannels, type Piece } from './stream-channels.js';
import { hasFinish, type Emitted, type StreamRun } from './stream-run.js';
import { hasCostlyOutput, heldTailStart, needsFixedHold } from './stream-tail.js';

/** One channel's text (a choice's content, reasoning or a tool call's arguments; see stream-channels.ts). */
interface Channel {
  /** Everything received. */
  text: string;
  /** How much of `text` the client has. */
  sent: number;
  /** How much of `text` the last check read. */
  checked: number;
  /** Up to where the held text may go out: before any part of it that may still be a redacted span. */
  safe: number;
  /** The last check's redactions in the held text, in `text`'s offsets. */
  spans: Redaction[];
}

/**
 * The longest new text waits for a check while the upstream keeps sending: on a busy gateway the next chunk is
 * always there already, and without this bound text would gather until `windowChars` and come out in bursts.
 */
const MAX_WAIT_MS = 50;

/** The first window when the output stage runs a model, a judge or a grader (see hasCostlyOutput). */
const FIRST_COSTLY_WINDOW = 32;

type Held = { chunk: ChatCompletionChunk; pieces: Piece[] };

const settle = (p: Promise<unknown>) => void p.catch(() => undefined);

/** Resolves true if `p` settles before the event loop turns (the upstream's next chunk is already here). */
const settlesNow = (p: Promise<unknown>) =>
  Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => setImmediate(() => resolve(false))),
  ]);

/**
 * `progressive` mode (the default): every text is checked before any of it is released, as in `buffer` mode, but
 * a window is checked as soon as the upstream pauses (its next chunk is not there yet) instead of after
 * `windowChars`, so a slow model's tokens flow to the client one check behind, while a fast model's chunks
 * gather into larger windows (at most `windowChars`, and at most MAX_WAIT_MS old), and a slow check gathers
 * whatever arrived while it ran.
 * Each window is read with `overlapChars` of context before the held text. What passes is released except the
 * held tail (stream-tail.ts): the last word, and anything that might still grow into a span a redaction rule
 * replaces, so a secret split over any number of deltas is never released in part. A check is only started when
 * the new text is at least as long as the held text it reads again, so the work stays linear however long a
 * tail is held. When the output stage runs a model, a judge or a grader, checks wait for a window that starts at
 * 32 characters and doubles each check up to `windowChars`, so the model does not run for every token. Redactions
 * apply before release; a refusal cuts the stream; the finish chunk waits for the final
 * whole-text check.
 */
export async function* progressiveMode(run: StreamRun, out: Emitted): AsyncGenerator<ChatCompletionChunk, void> {
  const { windowChars, overlapChars, finalCheck } = run.options;
  const fixedHold = needsFixedHold(run.requestRun.policy) ? overlapChars : 0;
  const channels = new Map<string, Channel>();
  let held: Held[] = [];
  /** Characters received since the last check, and held after it (read again by the next). */
  let fresh = 0;
  let reread = 0;
  /** performance.now() when the oldest text not yet checked arrived. */
  let waitingSince = 0;
  /** The fewest new characters a check waits for: none with pattern classifiers only, else a growing window. */
  let least = hasCostlyOutput(run.requestRun.policy) ? Math.min(FIRST_COSTLY_WINDOW, windowChars) : 0;

  const safePoint = (ch: Channel): number => {
    let p = Math.min(heldTailStart(ch.text, ch.sent), ch.text.length - fixedHold);
    for (let moved = true; moved;) {
      moved = false;
      // A span that reaches the end of the text may still grow: it is held whole until something ends it.
      for (const s of ch.spans)
        if (s.start < p && (p < s.end || s.end >= ch.text.length)) {
          p = s.start;
          moved = true;
        }
    }
    return Math.max(p, ch.sent);
  };

  /**
   * Whether a check now could let more text out: some channel's held tail (stream-tail.ts) starts past the last
   * check's safe point. A check's safe point never passes the held tail, so while a token only extends the last
   * word nothing more could be released, and the check is left to the next token that ends a word (or to
   * `windowChars`, or the final check). Nothing goes out unchecked either way; a local model emits tokens one
   * event-loop turn apart, which otherwise costs a check per token.
   */
  const mayRelease = (): boolean => {
    for (const ch of channels.values())
      if (
        ch.text.length > ch.checked &&
        Math.min(heldTailStart(ch.text, ch.sent), ch.text.length - fixedHold) > ch.safe
      )
        return true;
    return false;
  };

  /** Checks every channel with unchecked text; returns the refusal to cut with, or nothing. */
  const check = async (final: boolean): Promise<string | undefined> => {
    const live = [...channels.values()].filter(
      (ch) => ch.text.length > ch.checked || (final && finalCheck && ch.text.length > 0),
    );
    const inputs = live.map((ch) => (final && finalCheck ? 0 : Math.max(0, ch.sent - overlapChars)));
    // An answer with no text at all is still checked once, as an empty text.
    if (final && !channels.size) {
      live.push({ text: '', sent: 0, checked: 0, safe: 0, spans: [] });
      inputs.push(0);
    }
    const results = await Promise.all(
      live.map((ch, i) => run.requestRun.runOutput(ch.text.slice(inputs[i] ?? 0), run.signal)),
    );
    const refused = results.find((d) => d.action === 'refuse');
    if (refused?.action === 'refuse') return refused.message;
    live.forEach((ch, i) => {
      const d = results[i];
      if (!d) return;
      out.action = strongest(out.action, d.action);
      const at = inputs[i] ?? 0;
      // Spans in text already sent cannot change; a span that began there is replaced from where the held text
      // starts, so its rest is not sent either.
      ch.spans = d.redactions
        .map((r) => ({ ...r, start: Math.max(ch.sent, r.start + at), end: r.end + at }))
        .filter((r) => r.end > r.start);
      ch.checked = ch.text.length;
      ch.safe = final ? ch.text.length : safePoint(ch);
    });
    fresh = 0;
    return undefined;
  };

  /** Releases the leading held chunks whose text is all before each channel's safe point (all of them at the end). */
  function release(final: boolean): ChatCompletionChunk[] {
    let count = 0;
    let upTo = new Map<string, number>();
    if (final) {
      count = held.length;
      for (const [key, ch] of channels) upTo.set(key, ch.text.length);
    } else {
      const at = new Map<string, number>();
      const inside = new Set<string>();
      for (let i = 0; i < held.length; i++) {
        const h = held[i];
        if (!h || hasFinish(h.chunk)) break;
        let over = false;
        for (const p of h.pieces) {
          const ch = channels.get(p.channel);
          if (!ch) continue;
          const a = (at.get(p.channel) ?? ch.sent) + p.text.length;
          at.set(p.channel, a);
          if (a > ch.safe) over = true;
          if (ch.spans.some((s) => s.start < a && a < s.end)) inside.add(p.channel);
          else inside.delete(p.channel);
        }
        if (over) break;
        if (!inside.size) {
          count = i + 1;
          upTo = new Map(at);
        }
      }
    }
    if (!count) return [];
    const chunks = held.slice(0, count).map((h) => h.chunk);
    held = held.slice(count);
    const redacted = new Map<string, string>();
    for (const [key, to] of upTo) {
      const ch = channels.get(key);
      if (!ch) continue;
      const mine = ch.spans.filter((s) => s.start < to);
      if (mine.length)
        redacted.set(
          key,
          applyRedactions(
            ch.text.slice(ch.sent, to),
            mine.map((s) => ({ ...s, start: s.start - ch.sent, end: s.end - ch.sent })),
          ),
        );
      ch.spans = ch.spans.filter((s) => s.start >= to);
      ch.sent = to;
    }
    reread = [...channels.values()].reduce((a, ch) => a + ch.text.length - ch.sent, 0);
    return redacted.size ? rebuildChannels(chunks, redacted) : chunks;
  }

  let next = run.first;
  while (!next.done) {
    const c = next.value;
    const pieces = piecesOf(c);
    // A chunk with nothing to check (the role chunk) goes out at once if nothing is held before it.
    if (!pieces.length && !held.length && !hasFinish(c)) yield out.stamp(c);
    else held.push({ chunk: c, pieces });
    if (!fresh && pieces.length) waitingSince = performance.now();
    for (const p of pieces) {
      let ch = channels.get(p.channel);
      if (!ch) channels.set(p.channel, (ch = { text: '', sent: 0, checked: 0, safe: 0, spans: [] }));
      ch.text += p.text;
      fresh += p.text.length;
    }
    const pending = run.upstream.next();
    settle(pending);
    const due = () => performance.now() - waitingSince >= MAX_WAIT_MS;
    if (
      fresh > 0 &&
      fresh >= least &&
      (fresh >= windowChars || (fresh >= reread && mayRelease() && (due() || !(await settlesNow(pending)))))
    ) {
      if (least) least = Math.min(least * 2, windowChars);
      const refusal = await check(false);
      if (refusal !== undefined) {
        yield out.cut(refusal);
        return;
      }
      for (const r of release(false)) yield out.stamp(r);
    }
    next = await pending;
  }
  const refusal = await check(true);
  if (refusal !== undefined) {
    yield out.cut(refusal);
    return;
  }
  for (const r of release(true)) yield out.stamp(r);
}
