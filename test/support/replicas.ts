import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** The compiled entry point `npm start` runs (this file runs from dist/test/support/). */
const MAIN = fileURLToPath(new URL('../../gateway/main.js', import.meta.url));

/** The shared Redis the tests use (never flushed: each run has its own key prefix, deleted after). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of this test run's own, so runs and other users of the server never share a key. */
export const testPrefix = (name: string) => `test:${name}:${randomBytes(6).toString('hex')}:`;

/** Deletes every key under `prefix` (SCAN, never FLUSHALL: the server is shared). */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface Replica {
  url: string;
  proc: ChildProcess;
  /** Every JSON log line so far. */
  logs: { message: string; [k: string]: unknown }[];
  stop(): Promise<void>;
}

/**
 * Starts `node dist/gateway/main.js` with `env` on a free port, its own audit folder and no pid file, and resolves
 * once it listens. Stopped with SIGTERM (SIGKILL after 5 s).
 */
export async function startReplica(env: Record<string, string>): Promise<Replica> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-replica-'));
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      GATEWAY_PORT: '0',
      GATEWAY_AUDIT_DIR: join(dir, 'audit'),
      GATEWAY_AUDIT_DURABILITY: 'none',
      GATEWAY_PID_FILE: 'off',
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_POLICY: join(import.meta.dirname, '..', '..', '..', 'policies', 'rules-only'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Replica['logs'] = [];
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const m = JSON.parse(line) as Replica['logs'][number];
        logs.push(m);
        if (m.message === 'gateway listening') resolve(String(m.url));
      } catch {
        // not a log line
      }
    });
    proc.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    proc,
    logs,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of Redis that a test can cut (every connection closed, new ones refused) and restore,
 * to play an outage without touching the shared server.
 */
export async function startCuttableProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) return void client.destroy();
    const upstream = new Socket();
    upstream.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
