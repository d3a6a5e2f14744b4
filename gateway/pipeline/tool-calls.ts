import type { ChatCompletionChunk } from '../../generator/types.js';

interface Assembled {
  id?: string;
  type: string;
  function: { name: string; arguments: string };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Tool calls of a streamed answer, put together from their deltas for the decision record. On the OpenAI wire a
 * call's first delta carries its `index`, `id` and function `name`, and later deltas at the same index carry
 * pieces of its `arguments`.
 *
 * @example
 * const calls = new StreamedToolCalls();
 * for (const chunk of chunks) calls.add(chunk);
 * calls.list(); // [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"at":"it"}' } }]
 */
export class StreamedToolCalls {
  private readonly calls = new Map<string, Assembled>();

  add(chunk: ChatCompletionChunk): void {
    for (const choice of chunk.choices ?? []) {
      const deltas = choice.delta?.tool_calls;
      if (!Array.isArray(deltas)) continue;
      for (const d of deltas) {
        if (!isObject(d)) continue;
        const key = `${choice.index}:${typeof d.index === 'number' ? d.index : 0}`;
        let call = this.calls.get(key);
        if (!call) this.calls.set(key, (call = { type: 'function', function: { name: '', arguments: '' } }));
        if (typeof d.id === 'string') call.id = d.id;
        const fn = isObject(d.function) ? d.function : {};
        if (typeof fn.name === 'string') call.function.name += fn.name;
        if (typeof fn.arguments === 'string') call.function.arguments += fn.arguments;
      }
    }
  }

  /** Every call so far, in the order they started. */
  list(): Assembled[] {
    return [...this.calls.values()];
  }
}
