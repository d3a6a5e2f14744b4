import type { ChatCompletionChunk } from '../../generator/types.js';
import type { StageDecision } from '../../policies/engine.js';
import { strongest } from './pipeline.js';
import { rebuildChannels } from './stream-channels.js';
import type { ModeBody } from './stream-run.js';

/**
 * A streamed tool call reaches the client only after it was checked whole. A call's arguments arrive in pieces,
 * and a rule on a tool call reads its name and its parsed arguments, which exist only once the call is complete;
 * a client (an agent) may act on a call as soon as it has it. So, whatever the stream mode, from the first chunk
 * that carries a tool call to the end of the upstream stream every chunk is held; the assembled calls then go
 * through the output stage as one answer document (every rule: tool-scoped ones, and text rules on the arguments)
 * and the held chunks are passed on to the mode — refused (the stream is cut with the refusal), redacted (each
 * call's new arguments in its first delta), or as they came. Text before the first tool call streams as usual.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const hasToolCalls = (c: ChatCompletionChunk): boolean =>
  c.choices?.some((ch) => Array.isArray(ch.delta?.tool_calls) && ch.delta.tool_calls.length > 0) ?? false;

interface Call {
  id?: string;
  type: string;
  function: { name: string; arguments: string };
}

/** The held chunks' tool calls as an answer document, and each call's arguments pointer → its stream channel. */
function assemble(held: ChatCompletionChunk[]): { doc: object; channels: Map<string, string> } {
  const byChoice = new Map<number, Map<number, Call>>();
  for (const c of held)
    for (const ch of c.choices ?? []) {
      const deltas = ch.delta?.tool_calls;
      if (!Array.isArray(deltas)) continue;
      deltas.forEach((d: unknown, j) => {
        if (!isObject(d)) return;
        const at = typeof d.index === 'number' ? d.index : j;
        let calls = byChoice.get(ch.index);
        if (!calls) byChoice.set(ch.index, (calls = new Map()));
        let call = calls.get(at);
        if (!call) calls.set(at, (call = { type: 'function', function: { name: '', arguments: '' } }));
        if (typeof d.id === 'string') call.id = d.id;
        const fn = isObject(d.function) ? d.function : {};
        if (typeof fn.name === 'string') call.function.name += fn.name;
        if (typeof fn.arguments === 'string') call.function.arguments += fn.arguments;
      });
    }
  const channels = new Map<string, string>();
  const choices = [...byChoice].map(([index, calls], k) => {
    [...calls.keys()].forEach((at, j) =>
      channels.set(`/choices/${k}/message/tool_calls/${j}/function/arguments`, `${index}:tool:${at}`),
    );
    return { index, message: { role: 'assistant', content: null, tool_calls: [...calls.values()] } };
  });
  return { doc: { choices }, channels };
}

/** Wraps a stream mode so that tool calls are held until checked (see above). */
export function holdToolCalls(body: ModeBody): ModeBody {
  return async function* (run, out) {
    let refusal: string | undefined;
    const { defaults } = run.requestRun.policy.policy;
    async function* checked(): AsyncGenerator<ChatCompletionChunk, void> {
      const held: ChatCompletionChunk[] = [];
      for (let next = run.first; !next.done; next = await run.upstream.next()) {
        if (held.length || hasToolCalls(next.value)) held.push(next.value);
        else yield next.value;
      }
      if (!held.length) return;
      const { doc, channels } = assemble(held);
      let d: StageDecision;
      try {
        d = await run.requestRun.runOutput(doc, run.signal);
      } catch {
        refusal = defaults.errorRefusal; // fail closed: an unchecked call is never sent
        return;
      }
      if (d.action === 'refuse') {
        refusal = d.message;
        return;
      }
      out.action = strongest(out.action, d.action);
      const texts = new Map<string, string>();
      for (const [pointer, text] of d.rewrites) {
        const channel = channels.get(pointer);
        if (channel) texts.set(channel, text);
      }
      yield* texts.size ? rebuildChannels(held, texts) : held;
    }
    const upstream = checked();
    const first = await upstream.next();
    yield* body({ ...run, first, upstream }, out);
    if (refusal !== undefined && out.action !== 'refuse') yield out.cut(refusal);
  };
}
