/**
 * A TCP proxy on loopback that a test can cut: every open connection is destroyed and new ones are refused until
 * `restore`. Standing between a gateway and PostgreSQL, it stages a database outage (as a server restart or a
 * network cut looks to the client) without disturbing anyone else's use of the shared server.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Destroys every open connection and refuses new ones. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** @example const proxy = await startTcpProxy(5432); proxy.cut(); … proxy.restore(); */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () =>
      new Promise<void>((ok) => {
        down = true;
        for (const s of open) s.destroy();
        server.close(() => ok());
      }),
  };
}
