import type { ChatCompletionChunk } from '../../../generator/types.js';
import {
  functionCallItem,
  messageItem,
  newId,
  refusalPart,
  responsesUsage,
  textPart,
  type Ending,
} from './from-chat.js';

type Item = Record<string, unknown>;
/** One typed server-sent event of the Responses API: `type` is also its SSE event name. */
export type ResponseEvent = { type: string; sequence_number: number } & Item;

/** The message item being streamed: its current part (text, then possibly the refusal that cut it). */
interface OpenMessage {
  id: string;
  index: number;
  parts: { type: 'output_text' | 'refusal'; text: string }[];
}
interface OpenCall {
  id: string;
  index: number;
  callId: unknown;
  name: unknown;
  args: string;
}

/**
 * Turns the moderated chat chunks of a stream into the Responses API's typed events, with sequence numbers and
 * output indexes: `response.created` and `response.in_progress` first; a message item (`output_item.added`,
 * `content_part.added`, `output_text.delta`… `output_item.done`); a `function_call` item per tool call
 * (`function_call_arguments.delta`…); and a terminal `response.completed`, or `response.incomplete` when the
 * gateway cut the answer (`incomplete_details.reason: "content_filter"`) or it ran out of tokens. The gateway's
 * refusal is a `refusal` content part (`response.refusal.delta`/`.done`): the whole message for a refused
 * request, the part after the text already sent for a cut stream.
 *
 * @example
 * const events = new ResponseStreamEvents((output, ending) => responseObject({ …, output, ending }), false);
 * send(events.start()); for (const c of chunks) send(events.chunk(c)); send(events.end());
 */
export class ResponseStreamEvents {
  private seq = 0;
  private readonly done: { index: number; item: Item }[] = [];
  private message?: OpenMessage;
  private readonly calls = new Map<number, OpenCall>();
  private outputs = 0;
  private finish: string | null = null;
  private usage?: Item;
  private textSent = false;

  constructor(
    /** The Response object around some output items and an ending (the request's echo, ids, model). */
    private readonly response: (output: Item[], ending: Ending | { status: 'in_progress' }, usage?: Item) => Item,
    /** The request was refused at input: everything streamed is the refusal. */
    private readonly refused: boolean,
  ) {}

  private event(type: string, fields: Item): ResponseEvent {
    return { type, sequence_number: this.seq++, ...fields };
  }

  start(): ResponseEvent[] {
    const response = this.response([], { status: 'in_progress' });
    return [this.event('response.created', { response }), this.event('response.in_progress', { response })];
  }

  chunk(c: ChatCompletionChunk): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    if (c.usage) this.usage = responsesUsage(c.usage);
    const choice = c.choices?.find((ch) => ch.index === 0);
    if (!choice) return out;
    const cut = choice.finish_reason === 'content_filter';
    let text = typeof choice.delta?.content === 'string' ? choice.delta.content : '';
    // The cut chunk carries the refusal after a blank line when text was sent: the refusal is its own part here.
    if (cut && this.textSent) text = text.replace(/^\n\n/, '');
    if (text) out.push(...this.text(text, this.refused || cut ? 'refusal' : 'output_text'));
    const toolCalls = Array.isArray(choice.delta?.tool_calls) ? (choice.delta.tool_calls as Item[]) : [];
    for (const tc of toolCalls) out.push(...this.toolCall(tc));
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return out;
  }

  private text(delta: string, type: 'output_text' | 'refusal'): ResponseEvent[] {
    const out: ResponseEvent[] = [];
    let m = this.message;
    if (!m) {
      m = this.message = { id: newId('msg'), index: this.outputs++, parts: [] };
      out.push(this.event('response.output_item.added', { output_index: m.index, item: this.messageOf(m, []) }));
    }
    let part = m.parts.at(-1);
    if (part?.type !== type) {
      if (part) out.push(...this.closePart(m, m.parts.length - 1));
      part = { type, text: '' };
      m.parts.push(part);
      const added = type === 'refusal' ? refusalPart('') : textPart('');
      out.push(this.event('response.content_part.added', { ...this.at(m), part: added }));
    }
    part.text += delta;
    if (type === 'output_text') this.textSent = true;
    const name = type === 'refusal' ? 'response.refusal.delta' : 'response.output_text.delta';
    out.push(this.event(name, { ...this.at(m), delta, ...(type === 'output_text' && { logprobs: [] }) }));
    return out;
  }

  private toolCall(tc: Item): ResponseEvent[] {
    const index = typeof tc.index === 'number' ? tc.index : 0;
    const fn = (tc.function ?? {}) as Item;
    const out: ResponseEvent[] = [];
    let call = this.calls.get(index);
    if (!call) {
      // The message before a tool call is finished, as the Responses API finishes an item before the next one.
      out.push(...this.closeMessage('completed'));
      call = { id: newId('fc'), index: this.outputs++, callId: tc.id, name: fn.name, args: '' };
      this.calls.set(index, call);
      const item = functionCallItem(call.id, call.callId, call.name, '', 'in_progress');
      out.push(this.event('response.output_item.added', { output_index: call.index, item }));
    }
    const delta = typeof fn.arguments === 'string' ? fn.arguments : '';
    if (delta) {
      call.args += delta;
      out.push(
        this.event('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta }),
      );
    }
    return out;
  }

  private at = (m: OpenMessage) => ({ item_id: m.id, output_index: m.index, content_index: m.parts.length - 1 });

  private messageOf(m: OpenMessage, parts: Item[], status = 'in_progress'): Item {
    return { ...messageItem(m.id, {}, status), content: parts };
  }

  private partOf = (p: OpenMessage['parts'][number]) => (p.type === 'refusal' ? refusalPart(p.text) : textPart(p.text));

  private closePart(m: OpenMessage, i: number): ResponseEvent[] {
    const p = m.parts[i];
    if (!p) return [];
    const where = { item_id: m.id, output_index: m.index, content_index: i };
    const done =
      p.type === 'refusal'
        ? this.event('response.refusal.done', { ...where, refusal: p.text })
        : this.event('response.output_text.done', { ...where, text: p.text, logprobs: [] });
    return [done, this.event('response.content_part.done', { ...where, part: this.partOf(p) })];
  }

  /** How the stream ended: a cut after text was sent, or a length finish, is `incomplete`. */
  get ending(): Ending {
    if (this.finish === 'length') return { status: 'incomplete', reason: 'max_output_tokens' };
    if (this.finish === 'content_filter' && (this.textSent || this.calls.size || !this.message))
      return { status: 'incomplete', reason: 'content_filter' };
    return { status: 'completed' };
  }

  /** The output items as sent, in output order. */
  get output(): Item[] {
    return [...this.done].sort((a, b) => a.index - b.index).map((d) => d.item);
  }

  /** Closes every open item, then the terminal `response.completed` or `response.incomplete`. */
  end(): ResponseEvent[] {
    const ending = this.ending;
    const status = ending.status === 'completed' ? 'completed' : 'incomplete';
    const out = this.closeMessage(status);
    for (const call of this.calls.values()) {
      const where = { item_id: call.id, output_index: call.index };
      out.push(
        this.event('response.function_call_arguments.done', { ...where, name: call.name, arguments: call.args }),
      );
      const item = functionCallItem(call.id, call.callId, call.name, call.args, status);
      out.push(this.event('response.output_item.done', { output_index: call.index, item }));
      this.done.push({ index: call.index, item });
    }
    this.calls.clear();
    const response = this.response(this.output, ending, this.usage);
    out.push(this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
    return out;
  }

  /** Finishes the open message item, if any: its last part, then the item. */
  private closeMessage(status: string): ResponseEvent[] {
    const m = this.message;
    if (!m) return [];
    this.message = undefined;
    const item = this.messageOf(m, m.parts.map(this.partOf), status);
    this.done.push({ index: m.index, item });
    return [
      ...this.closePart(m, m.parts.length - 1),
      this.event('response.output_item.done', { output_index: m.index, item }),
    ];
  }

  /** The `error` event a failed stream ends with. */
  error(e: { code: string; message: string; param: string | null }): ResponseEvent {
    return this.event('error', { code: e.code, message: e.message, param: e.param });
  }
}
