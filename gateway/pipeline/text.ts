import type { Redaction } from '../../policies/engine.js';
import type { ChatMessage, ChatRequest } from '../../generator/types.js';

/**
 * Which text each stage classifies, and how redactions map back onto the request or the response.
 * The stage text is the selected segments joined by a blank line; each segment remembers its offset.
 */
export interface Segment {
  /** Where the text lives, such as `messages[2].content` or `messages[2].content[0].text`. */
  path: string;
  text: string;
  start: number;
}

const SEP = '\n\n';

/** Roles whose text the input stage checks: what the user wrote and what tools returned into the context. */
const INPUT_ROLES = new Set(['user', 'tool', 'function']);

export function joinSegments(parts: { path: string; text: string }[]): { text: string; segments: Segment[] } {
  const segments: Segment[] = [];
  let text = '';
  for (const p of parts) {
    if (segments.length) text += SEP;
    segments.push({ ...p, start: text.length });
    text += p.text;
  }
  return { text, segments };
}

/** The input stage's text: user and tool messages, including text parts of multi-part content. */
export function inputSegments(request: ChatRequest) {
  const parts: { path: string; text: string }[] = [];
  request.messages.forEach((m, i) => {
    if (!INPUT_ROLES.has(m.role)) return;
    if (typeof m.content === 'string') parts.push({ path: `messages[${i}].content`, text: m.content });
    else if (Array.isArray(m.content)) {
      m.content.forEach((p, j) => {
        if (typeof p.text === 'string') parts.push({ path: `messages[${i}].content[${j}].text`, text: p.text });
      });
    }
  });
  return joinSegments(parts);
}

/** Splits redactions by segment and rewrites each segment's text. Returns path → new text. */
export function redactSegments(segments: Segment[], redactions: Redaction[], apply: (t: string, r: Redaction[]) => string) {
  const out = new Map<string, string>();
  for (const s of segments) {
    const end = s.start + s.text.length;
    const mine = redactions
      .filter((r) => r.start >= s.start && r.end <= end)
      .map((r) => ({ ...r, start: r.start - s.start, end: r.end - s.start }));
    if (mine.length) out.set(s.path, apply(s.text, mine));
  }
  return out;
}

/** A copy of the request with the given message texts replaced (paths from inputSegments). */
export function rewriteRequest(request: ChatRequest, replaced: Map<string, string>): ChatRequest {
  const messages: ChatMessage[] = request.messages.map((m) => ({ ...m, content: Array.isArray(m.content) ? m.content.map((p) => ({ ...p })) : m.content }));
  for (const [path, text] of replaced) {
    const m = /^messages\[(\d+)\]\.content(?:\[(\d+)\]\.text)?$/.exec(path);
    if (!m) continue;
    const msg = messages[Number(m[1])];
    if (m[2] === undefined) msg.content = text;
    else (msg.content as { text?: string }[])[Number(m[2])].text = text;
  }
  return { ...request, messages };
}
