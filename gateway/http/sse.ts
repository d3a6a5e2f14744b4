import type { Response } from 'express';
import type { ChatCompletionChunk } from '../../generator/types.js';
import type { ErrorBody } from '../pipeline/errors.js';

/** Starts an SSE response and flushes the headers at once. */
export function startSse(res: Response, headers: Record<string, string>): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  res.flushHeaders();
}

/** Writes one event; waits for the socket to drain when the client reads slower than we write. */
export async function writeEvent(res: Response, data: ChatCompletionChunk | ErrorBody | '[DONE]'): Promise<void> {
  const ok = res.write(`data: ${data === '[DONE]' ? data : JSON.stringify(data)}\n\n`);
  if (!ok && !res.destroyed) {
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      res.on('drain', done);
      res.on('close', done);
    });
  }
}
