/**
 * An OpenAI chat-completions request read for the local runtime: its messages as node-llama-cpp's chat history,
 * and its sampling parameters checked. What the local model cannot do (tools, images, n > 1) is refused with an
 * OpenAI-style 400 rather than quietly ignored.
 */
import type { ChatHistoryItem } from 'node-llama-cpp';
import { GeneratorError, type ChatMessage, type ChatRequest } from '../types.js';

export interface Sampling {
  temperature: number;
  topP: number;
  /** The client's `max_tokens` (or `max_completion_tokens`), when it set one. */
  maxTokens?: number;
  stop: string[];
  seed?: number;
}

/** A 4xx in OpenAI's shape, which the pipeline passes through with its status. */
export function clientError(status: number, message: string, code: string, param: string | null): GeneratorError {
  const type = status === 429 ? 'rate_limit_error' : 'invalid_request_error';
  return new GeneratorError('upstream_status', message, status, { error: { message, type, code, param } });
}

const bad = (message: string, param: string, code = 'invalid_value') => clientError(400, message, code, param);

/** A message's text: a string, or its text parts joined. Other parts (images, audio) are refused. */
function textOf(m: ChatMessage, i: number): string {
  if (m.content === undefined || m.content === null) return '';
  if (typeof m.content === 'string') return m.content;
  if (!Array.isArray(m.content)) throw bad('content must be a string or an array of parts', `messages[${i}].content`);
  return m.content
    .map((part, j) => {
      if (part?.type !== 'text' || typeof part.text !== 'string')
        throw bad(
          `the local model reads text only; part type ${JSON.stringify(part?.type)} is not supported`,
          `messages[${i}].content[${j}]`,
        );
      return part.text;
    })
    .join('');
}

/** The conversation as chat history, ending with the (empty) model turn to generate. */
export function chatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  if (!Array.isArray(messages) || messages.length === 0) throw bad('messages must be a non-empty array', 'messages');
  const history: ChatHistoryItem[] = messages.map((m, i) => {
    const text = textOf(m, i);
    switch (m?.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text };
      case 'user':
        return { type: 'user', text };
      case 'assistant':
        if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0)
          throw bad('the local generator does not support tool calls', `messages[${i}].tool_calls`);
        return { type: 'model', response: [text] };
      default:
        throw bad(
          `the local generator does not support role ${JSON.stringify(m?.role)} (system, developer, user, assistant)`,
          `messages[${i}].role`,
        );
    }
  });
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

function numberIn(v: unknown, param: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw bad(`${param} must be a number from ${min} to ${max}`, param);
  return v;
}

function positiveInt(v: unknown, param: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw bad(`${param} must be a positive integer`, param);
  return v;
}

/** The request's sampling parameters, with the configured defaults where it sets none. */
export function sampling(request: ChatRequest, defaults: { temperature: number; topP: number }): Sampling {
  const r = request as Record<string, unknown>;
  if (r.n !== undefined && r.n !== null && r.n !== 1) throw bad('the local generator answers one choice (n: 1)', 'n');
  if (Array.isArray(r.tools) && r.tools.length > 0) throw bad('the local generator does not support tools', 'tools');
  const stop = r.stop === undefined || r.stop === null ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop;
  if (!Array.isArray(stop) || !stop.every((s) => typeof s === 'string' && s.length > 0))
    throw bad('stop must be a non-empty string or an array of them', 'stop');
  const seed = r.seed;
  if (seed !== undefined && seed !== null && (typeof seed !== 'number' || !Number.isInteger(seed)))
    throw bad('seed must be an integer', 'seed');
  return {
    temperature: numberIn(r.temperature, 'temperature', 0, 2) ?? defaults.temperature,
    topP: numberIn(r.top_p, 'top_p', 0, 1) ?? defaults.topP,
    maxTokens: positiveInt(r.max_completion_tokens, 'max_completion_tokens') ?? positiveInt(r.max_tokens, 'max_tokens'),
    stop: stop as string[],
    seed: typeof seed === 'number' ? seed : undefined,
  };
}
