import type { ChatCompletionChunk } from '../../generator/types.js';
import { applyRedactions, type StageDecision } from '../../policies/engine.js';
import { strongest } from './pipeline.js';
import { piecesOf, rebuildChannels, type Piece } from './stream-channels.js';
import type { Emitted, StreamRun } from './stream-run.js';

/** One channel's text (a choice's content, reasoning or a tool call's arguments; see stream-channels.ts). */
interface Channel {
  /** Sent to the client already. */
  released: string;
  /** Held: not sent yet. */
  held: string;
  /** Characters at the start of `held` that were checked already and held back as context. */
  carried: number;
}

/**
 * `buffer` mode: chunks are held until `windowChars` of new text have arrived; the held text is then checked and
 * released if it passes — all but the chunks holding each channel's last `overlapChars`, which stay held as the
 * next window's context. So a violation up to `overlapChars` long is always checked whole before any of it
 * reaches the client, even when it straddles two windows. Every channel (each choice's content, its reasoning,
 * each tool call's arguments) is checked on its own text, so two choices' deltas are never read interleaved.
 * After a redaction the whole window is released (redacted) and the next window takes its context from the
 * released text instead — unless a redacted span reaches the end of the window and may still grow: then the whole
 * window stays held until the next one shows where the span ends. Work is linear: each character is checked at most twice, plus the one final check of
 * each channel's whole text. No unchecked text reaches the client.
 */
export async function* bufferMode(run: StreamRun, out: Emitted): AsyncGenerator<ChatCompletionChunk, void> {
  const { windowChars, overlapChars, finalCheck } = run.options;
  let held: { chunk: ChatCompletionChunk; pieces: Piece[] }[] = [];
  const channels = new Map<string, Channel>();
  let fresh = 0;

  /** Checks one channel's held text (with its context); returns the decision and the redactions in `held`. */
  const checkOne = async (ch: Channel, final: boolean) => {
    const want = final && finalCheck ? ch.released.length : Math.max(0, overlapChars - ch.carried);
    const context = want ? ch.released.slice(-want) : '';
    const d: StageDecision = await run.requestRun.runOutput(context + ch.held, run.signal);
    // Spans in the context were released already; only the held text can still change. Redactions can ride
    // along with other actions, so they apply whenever there are any.
    const mine = d.redactions
      .filter((r) => r.end > context.length)
      .map((r) => ({ ...r, start: Math.max(0, r.start - context.length), end: r.end - context.length }));
    return { d, mine };
  };

  /** Checks every channel with held text; returns the chunks to release, or the refusal to cut the stream with. */
  const check = async (final: boolean): Promise<ChatCompletionChunk[] | string> => {
    // The final check reads every channel whole (catching violations longer than the overlap); an answer with no
    // text at all is still checked once, as an empty text.
    const live = [...channels].filter(
      ([, ch]) => ch.held.length > ch.carried || (final && (finalCheck || ch.held.length > 0)),
    );
    if (final && !live.length) live.push(['0:content', { released: '', held: '', carried: 0 }]);
    const results = await Promise.all(live.map(([, ch]) => checkOne(ch, final)));
    const refused = results.find((r) => r.d.action === 'refuse');
    if (refused?.d.action === 'refuse') return refused.d.message;
    for (const r of results) out.action = strongest(out.action, r.d.action);
    fresh = 0;
    const redacted = new Map<string, string>();
    let growing = false;
    live.forEach(([key, ch], i) => {
      const mine = results[i]?.mine ?? [];
      if (mine.length) redacted.set(key, applyRedactions(ch.held, mine));
      // A span that reaches the end of the held text may go on in the next chunk (an API key cut by the window's
      // edge): replacing it now would send its rest as plain text later.
      if (mine.some((r) => r.end >= ch.held.length)) growing = true;
    });
    if (growing && !final) return [];
    if (final || redacted.size) {
      const release = rebuildChannels(
        held.map((h) => h.chunk),
        redacted,
      );
      for (const [key, ch] of channels) {
        ch.released += redacted.get(key) ?? ch.held;
        ch.held = '';
        ch.carried = 0;
      }
      held = [];
      return release;
    }
    // Hold back whole chunks covering each channel's last overlapChars (looking back one window at most).
    const kept = new Map<string, number>();
    const needs = (key: string) => (kept.get(key) ?? 0) < Math.min(overlapChars, channels.get(key)?.held.length ?? 0);
    let keep = 0;
    for (let seen = 0; keep < held.length && seen < windowChars && [...channels.keys()].some(needs); keep++) {
      for (const p of held[held.length - 1 - keep]?.pieces ?? []) {
        kept.set(p.channel, (kept.get(p.channel) ?? 0) + p.text.length);
        seen += p.text.length;
      }
    }
    const release = held.slice(0, held.length - keep);
    held = held.slice(held.length - keep);
    for (const [key, ch] of channels) {
      const k = kept.get(key) ?? 0;
      ch.released += ch.held.slice(0, ch.held.length - k);
      ch.held = ch.held.slice(ch.held.length - k);
      ch.carried = k;
    }
    return release.map((h) => h.chunk);
  };

  for (let next = run.first; !next.done; next = await run.upstream.next()) {
    const pieces = piecesOf(next.value);
    held.push({ chunk: next.value, pieces });
    for (const p of pieces) {
      let ch = channels.get(p.channel);
      if (!ch) channels.set(p.channel, (ch = { released: '', held: '', carried: 0 }));
      ch.held += p.text;
      fresh += p.text.length;
    }
    if (fresh < windowChars) continue;
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
