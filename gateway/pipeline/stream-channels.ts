import type { ChatCompletionChunk, ChunkChoice } from '../../generator/types.js';

/**
 * The texts a streamed answer carries, each on its own channel: per choice, its content, its reasoning
 * (`reasoning_content`) and each tool call's arguments. The output stage checks every channel on its own, so the
 * deltas of two choices (`n: 2`) are never interleaved into one text, and what a tool call or the reasoning says
 * is checked like the content.
 */

/** A piece of one channel's text in one chunk. */
export interface Piece {
  /** `<choice>:content`, `<choice>:reasoning` or `<choice>:tool:<call index>`. */
  channel: string;
  text: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Every piece of text in a chunk, in the order a client reads them. */
export function piecesOf(c: ChatCompletionChunk): Piece[] {
  const out: Piece[] = [];
  for (const ch of c.choices ?? []) {
    const d = ch.delta;
    if (!d) continue;
    if (typeof d.reasoning_content === 'string' && d.reasoning_content)
      out.push({ channel: `${ch.index}:reasoning`, text: d.reasoning_content });
    if (typeof d.content === 'string' && d.content) out.push({ channel: `${ch.index}:content`, text: d.content });
    if (Array.isArray(d.tool_calls))
      d.tool_calls.forEach((t: unknown, j) => {
        const args = isObject(t) && isObject(t.function) ? t.function.arguments : undefined;
        if (typeof args === 'string' && args)
          out.push({
            channel: `${ch.index}:tool:${isObject(t) && typeof t.index === 'number' ? t.index : j}`,
            text: args,
          });
      });
  }
  return out;
}

/** A choice's delta with one channel's text replaced. */
function withText(ch: ChunkChoice, channel: string, text: string): ChunkChoice {
  const [, kind, call] = channel.split(':');
  if (kind === 'content') return { ...ch, delta: { ...ch.delta, content: text } };
  if (kind === 'reasoning') return { ...ch, delta: { ...ch.delta, reasoning_content: text } };
  const calls = Array.isArray(ch.delta.tool_calls) ? (ch.delta.tool_calls as unknown[]) : [];
  const tool_calls = calls.map((t, j) => {
    if (!isObject(t) || !isObject(t.function)) return t;
    const at = typeof t.index === 'number' ? t.index : j;
    return String(at) === call ? { ...t, function: { ...t.function, arguments: text } } : t;
  });
  return { ...ch, delta: { ...ch.delta, tool_calls } };
}

/**
 * Held chunks with the given channels' text replaced: each channel's new text goes in the first chunk that
 * carried it, and its later pieces are emptied. Chunks left with nothing to say (no text, role, tool call or
 * finish) are dropped.
 */
export function rebuildChannels(held: ChatCompletionChunk[], texts: Map<string, string>): ChatCompletionChunk[] {
  const placed = new Set<string>();
  return held.flatMap((c) => {
    const pieces = piecesOf(c).filter((p) => texts.has(p.channel));
    if (!pieces.length) return [c];
    let choices = c.choices;
    for (const p of pieces) {
      const index = Number(p.channel.split(':')[0]);
      const text = placed.has(p.channel) ? '' : (texts.get(p.channel) ?? '');
      placed.add(p.channel);
      choices = choices.map((ch) => (ch.index === index ? withText(ch, p.channel, text) : ch));
    }
    const speaks =
      piecesOf({ ...c, choices }).length > 0 ||
      choices.some((ch) => ch.finish_reason || ch.delta?.role || Array.isArray(ch.delta?.tool_calls));
    return speaks ? [{ ...c, choices }] : [];
  });
}
