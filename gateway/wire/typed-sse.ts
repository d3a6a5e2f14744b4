import type { ServerResponse } from 'node:http';

/**
 * Writes one named server-sent event (`event: <name>` then its JSON data), as APIs with typed streaming events
 * send them (the Responses API's `response.output_text.delta`, …); waits for the socket to drain when the client
 * reads slower than we write.
 */
export async function writeNamedEvent(res: ServerResponse, name: string, data: object): Promise<void> {
  const ok = res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  if (ok || res.destroyed) return;
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
