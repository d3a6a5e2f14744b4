/**
 * `npm run bench:limits`: what the shared (Redis) per-minute limit check adds to a request, side by side in one
 * run. Three gateway processes in front of the same stub upstream (its own process): no per-minute limit, the limit in process memory, and the
 * limit in Redis (requests and tokens per minute for the key: one Lua round trip at admission, one charge after
 * the answer). One client sends chat completions one at a time, in interleaved rounds, so the machine's drift
 * falls on every target alike; p50 and p90 per target, and p50 added over no limit. Also the bare round trip of
 * the check script from this process.
 * Options: --requests N per round and target (default 1000), --rounds N (default 5), --redis URL (default
 * $GATEWAY_REDIS_URL or redis://127.0.0.1:6379).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Pool } from 'undici';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { RedisWindows } from '../gateway/shared/redis-windows.js';
import { fmt, percentile, startProcess, stopProcesses, RULES_ONLY_POLICY } from './load.js';

const USAGE = `usage: npm run bench:limits -- [options]

  p50 added by the Redis per-minute limit check, against no shared limit, in one run.
  --requests N per round and target (default 1000), --rounds N (default 5),
  --redis URL (default $GATEWAY_REDIS_URL or redis://127.0.0.1:6379).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:limits', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    requests: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '5' },
    redis: { type: 'string', default: process.env.GATEWAY_REDIS_URL ?? 'redis://127.0.0.1:6379' },
  });
  checkNumbers(parsed.values, ['requests', 'rounds']);
  return parsed;
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);
const prefix = `bench:limits:${process.pid}:${Date.now()}:`;

const root = join(import.meta.dirname, '..');
const auditDir = mkdtempSync(join(tmpdir(), 'bench-limits-'));
// Each server in its own process, as deployed: the stub upstream and three gateways on fixed loopback ports.
const stub = await startProcess([join(root, 'bench/servers/stub.js')], {});
const procs = [stub];
const gatewayEnv = {
  GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1`,
  GATEWAY_AUDIT_DURABILITY: 'none',
  GATEWAY_LOG_LEVEL: 'error',
  GATEWAY_POLICY_WATCH: 'off',
  GATEWAY_POLICY: RULES_ONLY_POLICY,
  GATEWAY_PID_FILE: 'off',
};
const start = async (port: number, env: Record<string, string>) => {
  const gateway = await startProcess(
    [join(root, 'gateway/main.js')],
    { ...gatewayEnv, GATEWAY_PORT: String(port), GATEWAY_AUDIT_DIR: join(auditDir, String(port)), ...env },
    `http://127.0.0.1:${port}/readyz`,
  );
  procs.push(gateway);
  return `http://127.0.0.1:${port}`;
};
// Limits far above what the bench sends: every request is checked and admitted.
const limits = { GATEWAY_LIMIT_RPM: '1000000000', GATEWAY_LIMIT_TPM: '1000000000' };
const targets = {
  'no per-minute limit': await start(18180, {}),
  'in-process limit': await start(18181, limits),
  'Redis limit': await start(18182, {
    ...limits,
    GATEWAY_REDIS_URL: values.redis,
    GATEWAY_REDIS_PREFIX: prefix,
    GATEWAY_REDIS_POLICIES: 'off',
  }),
};
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'What is the capital of France?' }] });

/** `n` chat completions one after another; each one's milliseconds. */
async function sequential(pool: Pool, n: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`answered ${r.statusCode}`);
    ms.push(performance.now() - t);
  }
  return ms;
}

const pools = Object.fromEntries(Object.entries(targets).map(([k, url]) => [k, new Pool(url, { connections: 1 })]));
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
for (const pool of Object.values(pools)) await sequential(pool, 200); // warm-up
for (let round = 0; round < rounds; round++)
  for (const [name, pool] of Object.entries(pools)) samples[name]?.push(...(await sequential(pool, requests)));

// The check alone: one EVALSHA round trip from this process.
const redis = new Redis(values.redis);
const windows = new RedisWindows(redis, prefix);
const check = [{ key: 'rpm:key:bench', limit: 1e9, take: true }];
for (let i = 0; i < 200; i++) await windows.check(check);
const bare: number[] = [];
for (let i = 0; i < requests; i++) {
  const t = performance.now();
  await windows.check(check);
  bare.push(performance.now() - t);
}

const p = (xs: number[], q: number) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    q,
  );
const base = p(samples['no per-minute limit'] ?? [], 50);
console.log(`bench:limits: ${rounds} interleaved rounds × ${requests} sequential chat completions per target (c1)\n`);
console.log('| target | p50 ms | p90 ms | p50 added ms |');
console.log('|---|---|---|---|');
for (const [name, xs] of Object.entries(samples))
  console.log(`| ${name} | ${fmt(p(xs, 50), 3)} | ${fmt(p(xs, 90), 3)} | ${fmt(p(xs, 50) - base, 3)} |`);
console.log(`\nthe check script alone (one round trip): p50 ${fmt(p(bare, 50), 3)} ms, p90 ${fmt(p(bare, 90), 3)} ms`);

for (const pool of Object.values(pools)) await pool.close();
await stopProcesses(procs);
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
  cursor = next;
  if (keys.length) await redis.del(...keys);
} while (cursor !== '0');
redis.disconnect();
rmSync(auditDir, { recursive: true, force: true });
