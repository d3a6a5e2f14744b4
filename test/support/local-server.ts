import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A node:http server on a free loopback port, and how to stop it (open connections included). */
export interface LocalServer {
  port: number;
  /** `http://127.0.0.1:<port>/v1`: an OpenAI-style base URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `handler` on 127.0.0.1 at a free port: the shared start and stop of the test upstreams.
 *
 * @example
 * const up = await serveLocal((req, res) => res.end('{}'));
 * await fetch(`${up.url}/models`); await up.close();
 */
export async function serveLocal(handler: RequestListener): Promise<LocalServer> {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
