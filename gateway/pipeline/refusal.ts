import type { ChatCompletion, ChatCompletionChunk } from '../../generator/types.js';

/**
 * A refusal is an ordinary chat completion, so chat apps render it like any answer: the policy's message as
 * the assistant's content, with `finish_reason: "content_filter"`.
 */
export function refusalCompletion(id: string, model: string, message: string): ChatCompletion {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: message, refusal: null },
        logprobs: null,
        finish_reason: 'content_filter',
      },
    ],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}

export function chunk(
  id: string,
  model: string,
  created: number,
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish_reason: string | null = null,
  index = 0,
): ChatCompletionChunk {
  return {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index, delta, logprobs: null, finish_reason }],
  };
}

/** The refusal as a stream: a role chunk, the message, and a content_filter finish. */
export function refusalChunks(id: string, model: string, message: string): ChatCompletionChunk[] {
  const created = Math.floor(Date.now() / 1000);
  return [
    chunk(id, model, created, { role: 'assistant', content: '' }),
    chunk(id, model, created, { content: message }),
    chunk(id, model, created, {}, 'content_filter'),
  ];
}
