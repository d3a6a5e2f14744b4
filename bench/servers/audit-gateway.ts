import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../gateway/config.js';
import { startGateway } from '../../gateway/server.js';

/**
 * A gateway for bench:audit, in its own process. BENCH_AUDIT picks the decision log: `off` (records are built and
 * dropped — the baseline), or a durability mode of the chain log (`group`, `fsync-per-record`, `none`).
 * Prints its port on stdout.
 */
const mode = process.env.BENCH_AUDIT ?? 'group';
const config = loadConfig({
  env: {
    GATEWAY_PORT: '0',
    GATEWAY_UPSTREAM_URL: process.env.BENCH_UPSTREAM_URL,
    GATEWAY_AUDIT_DIR: mkdtempSync(join(tmpdir(), 'bench-gw-audit-')),
    GATEWAY_AUDIT_DURABILITY: mode === 'off' ? 'group' : mode,
    GATEWAY_LOG_LEVEL: 'warn',
    GATEWAY_POLICY_WATCH: 'off',
  },
});
const gw = await startGateway(
  config,
  mode === 'off' ? { audit: { append: async () => undefined, close: async () => undefined } } : {},
);
process.stdout.write(`${JSON.stringify({ port: gw.port })}\n`);
process.on('SIGTERM', () => void gw.close().then(() => process.exit(0)));
