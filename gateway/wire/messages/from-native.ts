import type { ChatCompletion, ChatCompletionChunk, ChunkChoice } from '../../../generator/types.js';

/**
 * An Anthropic-native answer in the chat shape the output stage reads, and back (to-message.ts): text blocks →
 * `content`, `tool_use` → `tool_calls` (input as a JSON `arguments` string), `thinking` → `reasoning_content`, so
 * every text the client will receive is checked. The native `stop_reason`, `stop_sequence` and usage ride along
 * in the choice and the usage object, so the client's answer keeps them.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

export const FINISH_OF_STOP: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic usage as chat usage, keeping Anthropic's own counts beside it. */
export function chatUsage(u: unknown): Record<string, unknown> {
  const usage = isObject(u) ? u : {};
  const input = num(usage.input_tokens);
  const output = num(usage.output_tokens);
  return { ...usage, prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
}

/** A Messages API answer (`type: "message"`) as a chat completion; undefined when it is not one. */
export function completionOfMessage(m: unknown): ChatCompletion | undefined {
  if (!isObject(m) || !Array.isArray(m.content)) return undefined;
  let text: string | null = null;
  let reasoning: string | undefined;
  let signature: string | undefined;
  const toolCalls: unknown[] = [];
  for (const b of m.content) {
    if (!isObject(b)) return undefined;
    if (b.type === 'text' && typeof b.text === 'string') text = (text ?? '') + b.text;
    else if (b.type === 'thinking' && typeof b.thinking === 'string') {
      reasoning = (reasoning ?? '') + b.thinking;
      signature = str(b.signature);
    } else if (b.type === 'tool_use' && typeof b.id === 'string' && typeof b.name === 'string')
      toolCalls.push({
        id: b.id,
        type: 'function',
        function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
      });
    // Other blocks (server tools' calls and results) are not passed on: the gateway cannot check them.
  }
  const stop = str(m.stop_reason) ?? 'end_turn';
  return {
    id: str(m.id) ?? '',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: str(m.model) ?? '',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text,
          ...(reasoning !== undefined && { reasoning_content: reasoning, thinking_signature: signature }),
          ...(toolCalls.length && { tool_calls: toolCalls }),
        },
        finish_reason: FINISH_OF_STOP[stop] ?? 'stop',
        stop_reason: stop,
        stop_sequence: m.stop_sequence ?? null,
      },
    ],
    usage: chatUsage(m.usage),
  };
}

/**
 * Reads an Anthropic event stream as chat chunks, one event at a time: `next(type, data)` returns the chunks the
 * event becomes (none for `ping`, `content_block_stop` and blocks the gateway does not pass on), and `done` tells
 * whether `message_stop` has come.
 */
export class NativeEventReader {
  private id = '';
  private model = '';
  private readonly created = Math.floor(Date.now() / 1000);
  private usage: Record<string, unknown> = {};
  /** Content block index → tool call index, for the blocks that are tool calls. */
  private readonly tools = new Map<number, number>();
  done = false;

  next(data: Record<string, unknown>): ChatCompletionChunk[] {
    switch (data.type) {
      case 'message_start': {
        const m = isObject(data.message) ? data.message : {};
        this.id = str(m.id) ?? '';
        this.model = str(m.model) ?? '';
        this.usage = isObject(m.usage) ? m.usage : {};
        return [this.chunk({ role: 'assistant', content: '' })];
      }
      case 'content_block_start': {
        const b = isObject(data.content_block) ? data.content_block : {};
        if (b.type === 'text' && typeof b.text === 'string' && b.text) return [this.chunk({ content: b.text })];
        if (b.type !== 'tool_use') return [];
        const index = this.tools.size;
        this.tools.set(num(data.index), index);
        const fn = { name: str(b.name) ?? '', arguments: '' };
        return [this.chunk({ tool_calls: [{ index, id: str(b.id) ?? '', type: 'function', function: fn }] })];
      }
      case 'content_block_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        if (d.type === 'text_delta' && typeof d.text === 'string') return [this.chunk({ content: d.text })];
        if (d.type === 'thinking_delta' && typeof d.thinking === 'string')
          return [this.chunk({ reasoning_content: d.thinking })];
        const tool = this.tools.get(num(data.index));
        if (d.type === 'input_json_delta' && typeof d.partial_json === 'string' && tool !== undefined)
          return [this.chunk({ tool_calls: [{ index: tool, function: { arguments: d.partial_json } }] })];
        return [];
      }
      case 'message_delta': {
        const d = isObject(data.delta) ? data.delta : {};
        this.usage = { ...this.usage, ...(isObject(data.usage) ? data.usage : {}) };
        const stop = str(d.stop_reason) ?? 'end_turn';
        const finish = this.chunk({}, FINISH_OF_STOP[stop] ?? 'stop');
        const [choice] = finish.choices;
        if (choice) Object.assign(choice, { stop_reason: stop, stop_sequence: d.stop_sequence ?? null });
        return [finish, { ...this.chunk({}), choices: [], usage: chatUsage(this.usage) }];
      }
      case 'message_stop':
        this.done = true;
        return [];
      default:
        return [];
    }
  }

  private chunk(delta: ChunkChoice['delta'], finish: string | null = null): ChatCompletionChunk {
    const choice: ChunkChoice = { index: 0, delta, finish_reason: finish };
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [choice],
    };
  }
}
