import { constants, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The floor for any gateway that records a decision durably before it answers: the bare proxy
 * (bare-proxy.ts), plus one O_DSYNC append of a decision-record-sized line (1.9 KB) between the upstream's
 * answer and the client's, on the libuv thread pool as the chain log writes. No parsing, policy, hashing or
 * batching: whatever a real gateway adds at concurrency 1 comes on top of this.
 */
const upstreamPort = Number(process.env.UPSTREAM_PORT);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const dir = mkdtempSync(join(tmpdir(), 'durable-floor-'));
const file = await open(
  join(dir, 'records.ndjson'),
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (constants.O_DSYNC ?? 0),
);
const record = Buffer.from(`${JSON.stringify({ record: 'x'.repeat(1880) })}\n`);

const server = createServer((req, res) => {
  const up = request(
    {
      host: '127.0.0.1',
      port: upstreamPort,
      path: req.url,
      method: req.method,
      headers: { 'content-type': 'application/json' },
      agent,
    },
    (upRes) => {
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('end', async () => {
        const body = Buffer.concat(chunks);
        try {
          await file.write(record);
        } catch {
          return void res.writeHead(500).end();
        }
        res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    },
  );
  up.on('error', () => res.writeHead(502).end());
  req.pipe(up);
});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`),
);
process.on('SIGTERM', () =>
  server.close(async () => {
    await file.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }),
);
