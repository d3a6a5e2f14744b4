import type { ServerResponse as Response } from 'node:http';
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

/** Resolves once the socket drains (or closes): a client reading slower than we write holds the writer here. */
function drained(res: Response): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes one event; waits for the socket to drain when the client reads slower than we write. */
export async function writeEvent(res: Response, data: ChatCompletionChunk | ErrorBody | '[DONE]'): Promise<void> {
  const ok = res.write(`data: ${data === '[DONE]' ? data : JSON.stringify(data)}\n\n`);
  if (!ok && !res.destroyed) await drained(res);
}

/**
 * Writes one named event (`event: <name>` then its JSON data), as APIs with typed streaming events send them (the
 * Responses API's `response.output_text.delta`, the Messages API's `content_block_delta`, …); waits for the socket
 * to drain like writeEvent.
 */
export async function writeNamedEvent(res: Response, name: string, data: object): Promise<void> {
  const ok = res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  if (!ok && !res.destroyed) await drained(res);
}

/** Writes an SSE comment (`: keep-alive`), which clients ignore but proxies and idle timers see as traffic. */
export function writeComment(res: Response, text = 'keep-alive'): void {
  if (!res.destroyed) res.write(`: ${text}\n\n`);
}

/**
 * Sends a keep-alive comment whenever `ms` pass with nothing written, for streams whose output is held while it
 * is checked. Returns `touch` (call it after each write) and `stop`.
 *
 * @example
 * const ka = keepAlive(res, 15_000);
 * await writeEvent(res, chunk); ka.touch();
 * ka.stop();
 */
export function keepAlive(res: Response, ms: number): { touch(): void; stop(): void } {
  if (ms <= 0) return { touch: () => undefined, stop: () => undefined };
  let last = performance.now();
  const timer = setInterval(
    () => {
      if (performance.now() - last >= ms) {
        writeComment(res);
        last = performance.now();
      }
    },
    Math.max(1, Math.floor(ms / 2)),
  );
  timer.unref();
  return { touch: () => void (last = performance.now()), stop: () => clearInterval(timer) };
}
