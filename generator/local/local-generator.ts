/**
 * The local generator: a GGUF model run in this process behind the same Generator contract as the HTTP upstream,
 * so policies, stream windows, grading, records and every API work unchanged. Each request takes one of the
 * context's sequences (queued when all are busy, 429 past `maxQueued`), generates with its own sampling settings,
 * streams token by token, and gives the sequence back when it finishes, fails, or is cancelled.
 */
import { randomUUID } from 'node:crypto';
import { LlamaChat, type ChatHistoryItem, type LlamaContextSequence } from 'node-llama-cpp';
import {
  GeneratorError,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatRequest,
  type Generator,
} from '../types.js';
import type { LocalGeneratorConfig } from './config.js';
import { chatHistory, clientError, sampling, type Sampling } from './request.js';
import { loadRuntime, type LocalRuntime, type RuntimeLog } from './runtime.js';
import { QueueFullError, Slots } from './slots.js';

interface Slot {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
}

export interface Generation {
  text: string;
  finishReason: 'stop' | 'length';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const FINISH: Record<string, 'stop' | 'length'> = { maxTokens: 'length' };

export class LocalGenerator implements Generator {
  readonly id = 'local';
  private readonly slots: Slots<Slot>;
  private readonly slotList: Slot[];
  private readonly created = Math.floor(Date.now() / 1000);

  private constructor(
    readonly runtime: LocalRuntime,
    private readonly defaults: { temperature: number; topP: number },
    maxQueued: number,
    sequences: number,
  ) {
    const slots = Array.from({ length: sequences }, () => {
      const sequence = runtime.context.getSequence();
      return { sequence, chat: new LlamaChat({ contextSequence: sequence, chatWrapper: runtime.chatWrapper }) };
    });
    this.slotList = slots;
    this.slots = new Slots(slots, maxQueued);
  }

  /**
   * Loads the model and prepares its sequences; rejects with a LocalModelError naming the path and the reason.
   *
   * @example
   * const gen = await LocalGenerator.open({ ...GeneratorConfigSchema.parse({}), model: '/models/qwen2.5-0.5b.gguf' });
   */
  static async open(config: LocalGeneratorConfig, log?: RuntimeLog): Promise<LocalGenerator> {
    const runtime = await loadRuntime(config, log);
    return new LocalGenerator(runtime, config, config.maxQueued, config.sequences);
  }

  /** Tokens sampled so far on every sequence, cancelled generations included (a stopped stream stops adding). */
  get generatedTokens(): number {
    return this.slotList.reduce((n, s) => n + s.sequence.tokenMeter.usedOutputTokens, 0);
  }

  /** Sequences generating now, and requests waiting for one. */
  get load(): { busy: number; queued: number; sequences: number } {
    return { busy: this.slots.busy, queued: this.slots.queued, sequences: this.slots.size };
  }

  /** Takes a sequence, or fails as the client should see it: 429 when the queue is full, `aborted` if it left. */
  private async acquire(signal: AbortSignal): Promise<Slot> {
    try {
      return await this.slots.acquire(signal);
    } catch (e) {
      if (e instanceof QueueFullError) throw clientError(429, e.message, 'overloaded', null);
      throw new GeneratorError('aborted', 'request aborted by the client', undefined, undefined, { cause: e });
    }
  }

  /** The prompt's length in tokens as the chat template renders it; 400 when it leaves no room to answer. */
  private promptTokens(history: ChatHistoryItem[], params: Sampling): { prompt: number; maxTokens: number } {
    const { contextText } = this.runtime.chatWrapper.generateContextState({ chatHistory: history });
    const prompt = contextText.tokenize(this.runtime.model.tokenizer).length;
    const room = this.runtime.contextSize - prompt;
    if (room < 1 || (params.maxTokens !== undefined && params.maxTokens > room))
      throw clientError(
        400,
        `This model's maximum context length is ${this.runtime.contextSize} tokens. However, you requested ` +
          `${prompt + (params.maxTokens ?? 1)} tokens (${prompt} in the messages, ${params.maxTokens ?? 1} in the completion). ` +
          'Please reduce the length of the messages or completion.',
        'context_length_exceeded',
        'messages',
      );
    return { prompt, maxTokens: params.maxTokens ?? room };
  }

  /**
   * Generates one answer on a sequence it holds until the end; `onText` receives each piece of text as it is
   * sampled. The sequence is given back before the promise settles, whatever the outcome.
   */
  private async generate(
    request: ChatRequest,
    signal: AbortSignal,
    slot: Slot,
    onText?: (text: string) => void,
  ): Promise<Generation> {
    try {
      const history = chatHistory(request.messages);
      const params = sampling(request, this.defaults);
      const { prompt, maxTokens } = this.promptTokens(history, params);
      const before = slot.sequence.tokenMeter.usedOutputTokens;
      const res = await slot.chat.generateResponse(history, {
        signal,
        maxTokens,
        temperature: params.temperature,
        topP: params.topP,
        seed: params.seed,
        customStopTriggers: params.stop,
        onTextChunk: onText,
      });
      const completion = slot.sequence.tokenMeter.usedOutputTokens - before;
      return {
        text: res.response,
        finishReason: FINISH[res.metadata.stopReason] ?? 'stop',
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      };
    } catch (e) {
      if (e instanceof GeneratorError) throw e;
      if (signal.aborted)
        throw new GeneratorError('aborted', 'request aborted by the client', undefined, undefined, { cause: e });
      throw new GeneratorError(
        'unavailable',
        `local model failed: ${(e as Error)?.message ?? e}`,
        undefined,
        undefined,
        {
          cause: e,
        },
      );
    } finally {
      this.slots.release(slot);
    }
  }

  async complete(request: ChatRequest, signal: AbortSignal): Promise<ChatCompletion> {
    const slot = await this.acquire(signal);
    const { text, finishReason, usage } = await this.generate(request, signal, slot);
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: this.runtime.name,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: finishReason }],
      usage,
    };
  }

  /**
   * Streams the answer as chat-completion chunks, one per piece of text the model samples. Errors before the first
   * chunk (a full queue, a bad request, a prompt too long) reach the client as HTTP errors. When the consumer stops
   * early (the client left, the output stage cut the stream) generation is aborted and the sequence freed before
   * this generator returns.
   */
  async *stream(request: ChatRequest, signal: AbortSignal): AsyncGenerator<ChatCompletionChunk> {
    const slot = await this.acquire(signal);
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const pending: string[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    const notify = () => {
      wake?.();
      wake = undefined;
    };
    const job = this.generate(request, stop.signal, slot, (text) => {
      pending.push(text);
      notify();
    }).finally(() => {
      settled = true;
      notify();
    });
    job.catch(() => {}); // read below; never an unhandled rejection when the consumer leaves first
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: ChatCompletionChunk['choices'][0]['delta'], finish: string | null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: this.runtime.name,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    try {
      let first = true;
      for (;;) {
        if (pending.length > 0) {
          // Pieces that arrived while the consumer was busy go out together: the stream never falls behind.
          const text = pending.splice(0).join('');
          yield chunk(first ? { role: 'assistant', content: text } : { content: text }, null);
          first = false;
        } else if (settled) break;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
      const { finishReason, usage } = await job; // throws the generation's error, if any
      yield chunk(first ? { role: 'assistant', content: '' } : {}, finishReason);
      if (request.stream_options && (request.stream_options as { include_usage?: unknown }).include_usage === true)
        yield { id, object: 'chat.completion.chunk', created, model: this.runtime.name, choices: [], usage };
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!settled) {
        stop.abort(new Error('the stream was closed before generation finished'));
        await job.catch(() => {});
      }
    }
  }

  async models(): Promise<unknown> {
    return {
      object: 'list',
      data: [{ id: this.runtime.name, object: 'model', created: this.created, owned_by: 'local' }],
    };
  }

  async close(): Promise<void> {
    await this.runtime.close();
  }
}
