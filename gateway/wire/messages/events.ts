import type { ChatCompletionChunk } from '../../../generator/types.js';
import { messageId, messageUsage, stopReason } from './to-message.js';

/** One Messages API stream event: its name (the SSE `event:` line) and its data. */
export interface MessagesEvent {
  event: string;
  data: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

type Open = { kind: 'text' | 'thinking' } | { kind: 'tool'; tool: number };

/**
 * Turns the moderated chat chunks of one stream (choice 0) into the Messages API's events: `message_start` on the
 * first chunk; a `content_block_start` / `content_block_delta` (`text_delta`, `thinking_delta`,
 * `input_json_delta`) / `content_block_stop` run per block, indexed in order; `message_delta` with the stop
 * reason and usage, and `message_stop`, at `end()`. A chunk that switches from one block to another closes the
 * first, so blocks never interleave (a cut stream's refusal after a tool call opens a text block of its own).
 *
 * @example
 * const enc = new MessagesEventEncoder('claude-x');
 * for (const c of chunks) for (const e of enc.push(c)) write(e);
 * for (const e of enc.end()) write(e);
 */
export class MessagesEventEncoder {
  private started = false;
  private open?: Open;
  private index = -1;
  private finish: string | null = null;
  private native: { stop_reason?: unknown; stop_sequence?: unknown } = {};
  private usage: unknown;

  constructor(private readonly model: string) {}

  push(c: ChatCompletionChunk): MessagesEvent[] {
    const out: MessagesEvent[] = [];
    if (!this.started) {
      this.started = true;
      out.push(this.messageStart(c));
    }
    if (c.usage) this.usage = c.usage;
    const choice = c.choices?.find((ch) => ch.index === 0);
    if (!choice) return out;
    const d = choice.delta ?? {};
    if (typeof d.reasoning_content === 'string' && d.reasoning_content)
      this.delta(out, { kind: 'thinking' }, { type: 'thinking_delta', thinking: d.reasoning_content });
    if (typeof d.content === 'string' && d.content)
      this.delta(out, { kind: 'text' }, { type: 'text_delta', text: d.content });
    for (const t of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
      if (!isObject(t)) continue;
      const tool = typeof t.index === 'number' ? t.index : 0;
      const fn = isObject(t.function) ? t.function : {};
      if (typeof t.id === 'string' && !(this.open?.kind === 'tool' && this.open.tool === tool)) {
        this.close(out);
        this.start(out, { kind: 'tool', tool }, { type: 'tool_use', id: t.id, name: fn.name ?? '', input: {} });
      }
      if (typeof fn.arguments === 'string' && fn.arguments)
        this.delta(out, { kind: 'tool', tool }, { type: 'input_json_delta', partial_json: fn.arguments });
    }
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.native = { stop_reason: choice.stop_reason, stop_sequence: choice.stop_sequence };
    }
    return out;
  }

  /** The events that end the stream: the open block's stop, `message_delta` and `message_stop`. */
  end(): MessagesEvent[] {
    const out: MessagesEvent[] = [];
    this.close(out);
    const stop = stopReason(this.finish, this.native.stop_reason, this.native.stop_sequence);
    const usage = messageUsage(this.usage);
    out.push({
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: {
          stop_reason: stop,
          stop_sequence: stop === 'stop_sequence' ? (this.native.stop_sequence ?? null) : null,
        },
        usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens },
      },
    });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
    return out;
  }

  /** Closes the open block, for a stream that fails midway (before its `error` event). */
  abort(): MessagesEvent[] {
    const out: MessagesEvent[] = [];
    this.close(out);
    return out;
  }

  private messageStart(c: ChatCompletionChunk): MessagesEvent {
    const usage = messageUsage(c.usage);
    return {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: messageId(c.id),
          type: 'message',
          role: 'assistant',
          model: c.model || this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: usage.input_tokens, output_tokens: 0 },
        },
      },
    };
  }

  /** A delta for block `to`, opening it first (and closing another) when it is not the open one. */
  private delta(out: MessagesEvent[], to: Open, delta: Record<string, unknown>): void {
    if (!this.isOpen(to)) {
      this.close(out);
      // A tool call whose opening delta (with its id) never came still gets a block of its own.
      const block =
        to.kind === 'tool'
          ? { type: 'tool_use', id: `toolu_${to.tool}`, name: '', input: {} }
          : to.kind === 'text'
            ? { type: 'text', text: '' }
            : { type: 'thinking', thinking: '', signature: '' };
      this.start(out, to, block);
    }
    out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: this.index, delta } });
  }

  private isOpen(to: Open): boolean {
    const o = this.open;
    if (o?.kind === 'tool') return to.kind === 'tool' && o.tool === to.tool;
    return !!o && o.kind === to.kind;
  }

  private start(out: MessagesEvent[], to: Open, block: Record<string, unknown>): void {
    this.open = to;
    this.index++;
    out.push({
      event: 'content_block_start',
      data: { type: 'content_block_start', index: this.index, content_block: block },
    });
  }

  private close(out: MessagesEvent[]): void {
    if (!this.open) return;
    out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.index } });
    this.open = undefined;
  }
}
