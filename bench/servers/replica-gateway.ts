import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/server.js';

/**
 * One replica for bench:replicas, in its own process: the default (rules-only) pack against BENCH_UPSTREAM_URL,
 * its decision log in group commit either in a file log of its own (BENCH_SINK=file) or in PostgreSQL
 * (BENCH_SINK=postgres, BENCH_DATABASE_URL, chain BENCH_INSTANCE). Prints its port on stdout.
 */
const sink = process.env.BENCH_SINK ?? 'file';
const config = loadConfig({
  env: {
    GATEWAY_PORT: '0',
    GATEWAY_UPSTREAM_URL: process.env.BENCH_UPSTREAM_URL,
    GATEWAY_AUDIT_DIR: mkdtempSync(join(tmpdir(), 'bench-replica-')),
    GATEWAY_AUDIT_DURABILITY: 'group',
    // Nothing but the port on stdout: startProcess (load.ts) can miss a line that arrives in the same chunk as another.
    GATEWAY_LOG_LEVEL: 'error',
    GATEWAY_POLICY_WATCH: 'off',
    GATEWAY_INSTANCE: process.env.BENCH_INSTANCE ?? 'bench',
    ...(sink === 'postgres'
      ? { GATEWAY_AUDIT_SINK: 'postgres', GATEWAY_DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '' }
      : {}),
  },
});
const gw = await startGateway(config);
process.stdout.write(`${JSON.stringify({ port: gw.port })}\n`);
process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
