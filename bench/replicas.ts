/**
 * `npm run bench:replicas`: one, two and three gateway replicas, each sink in turn: a file log per replica against
 * one shared PostgreSQL log (a chain per replica). Rules-only default pack, stub upstream, closed-loop clients
 * spread round-robin over the replicas' ports. Prints RPS, p50/p99 and the PostgreSQL / file ratio, and first the
 * sink alone: PostgreSQL group commit against one transaction per record.
 *
 * Sinks run in alternating slices (file, postgres, file, …) and each postgres slice is divided by the file slice
 * just before it; the figure is the median of those paired ratios, as bench:audit does, because a shared VM's
 * throughput drifts more from second to second than the effect measured.
 *
 * Runs in a database of its own, `gw_bench_<pid>_<random>`, created on the server of --admin-url and dropped at
 * the end.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { scrubDatabaseUrl } from '../audit/pg/url.js';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { cpuMs, fmt, median, percentile, startProcess, stopProcesses, type LoadResult } from './load.js';
import { sinkBench } from './replicas-sink.js';

const USAGE = `usage: npm run bench:replicas -- [options]

  One, two and three gateway replicas, file log against PostgreSQL log (group commit), clients spread over the
  replicas; then the PostgreSQL sink alone, group commit against one transaction per record.
  --replicas 1,2,3  --concurrency N (total clients, default 32)  --slices N per sink (default 6)
  --slice-seconds S (default 2)  --sink-seconds S and --sink-rounds N (default 2 and 3)  --sink-concurrency N
  (default 128)  --admin-url URL (default $BENCH_DATABASE_ADMIN_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:replicas', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    replicas: { type: 'string', default: '1,2,3' },
    concurrency: { type: 'string', default: '32' },
    slices: { type: 'string', default: '6' },
    'slice-seconds': { type: 'string', default: '2' },
    'sink-seconds': { type: 'string', default: '2' },
    'sink-rounds': { type: 'string', default: '3' },
    'sink-concurrency': { type: 'string', default: '128' },
    'admin-url': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  checkNumbers(parsed.values, [
    'concurrency',
    'slices',
    'slice-seconds',
    'sink-seconds',
    'sink-rounds',
    'sink-concurrency',
  ]);
  return parsed;
});
const counts = values.replicas.split(',').map(Number);
const adminUrl =
  values['admin-url'] ?? process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const body = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
});

/** Closed-loop clients, client i always on replica i mod k (as a round-robin balancer spreads connections). */
async function loadSpread(urls: string[], concurrency: number, seconds: number): Promise<LoadResult> {
  const pools = urls.map((u) => new Pool(new URL(u).origin, { connections: concurrency, pipelining: 1 }));
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, c) => {
      const pool = pools[c % pools.length];
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const res = await pool.request({
            path: '/v1/chat/completions',
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json' },
          });
          await res.body.text();
          if (res.statusCode === 200) latencies.push(performance.now() - t);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const rps = latencies.length / elapsed;
  return { requests: latencies.length, errors, rps, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  const name = `gw_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

/** One slice: its load result and the CPU per request of the replicas (and, for postgres, their database sessions). */
type Slice = LoadResult & { cpuUs: number };

/** The server processes of the sessions on the bench database (the replicas' writers), to count their CPU. */
async function databaseBackends(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  await c.end();
  return rows.map((r) => r.pid);
}

interface Row {
  replicas: number;
  sink: 'file' | 'postgres';
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU per request, µs: the replicas' processes, plus their database sessions for postgres. */
  cpuUs: number;
}

async function replicaBench(databaseUrl: string, k: number) {
  const root = import.meta.dirname;
  const stub = await startProcess([join(root, 'servers/stub.js')], {});
  const upstream = `http://127.0.0.1:${stub.port}/v1`;
  const start = (sink: 'file' | 'postgres', i: number) =>
    startProcess([join(root, 'servers/replica-gateway.js')], {
      BENCH_SINK: sink,
      BENCH_UPSTREAM_URL: upstream,
      BENCH_DATABASE_URL: databaseUrl,
      BENCH_INSTANCE: `replica-${k}-${i}`,
    });
  const sets = {
    file: await Promise.all(Array.from({ length: k }, (_, i) => start('file', i))),
    postgres: await Promise.all(Array.from({ length: k }, (_, i) => start('postgres', i))),
  };
  const urls = (s: 'file' | 'postgres') => sets[s].map((p) => `http://127.0.0.1:${p.port}`);
  const runs: Record<'file' | 'postgres', Slice[]> = { file: [], postgres: [] };
  try {
    for (const s of ['file', 'postgres'] as const) await loadSpread(urls(s), 8, 1); // warm-up
    const backends = await databaseBackends(databaseUrl);
    for (let i = 0; i < Number(values.slices); i++)
      for (const s of ['file', 'postgres'] as const) {
        const pids = [...sets[s].map((p) => p.child.pid ?? 0), ...(s === 'postgres' ? backends : [])];
        const cpu0 = pids.map((pid) => cpuMs(pid));
        const r = await loadSpread(urls(s), Number(values.concurrency), Number(values['slice-seconds']));
        const cpu = pids.reduce((sum, pid, j) => sum + cpuMs(pid) - cpu0[j], 0);
        runs[s].push({ ...r, cpuUs: (cpu * 1000) / r.requests });
      }
  } finally {
    await stopProcesses([...sets.file, ...sets.postgres, stub]);
  }
  const rows: Row[] = (['file', 'postgres'] as const).map((sink) => ({
    replicas: k,
    sink,
    rps: median(runs[sink].map((r) => r.rps)),
    p50: median(runs[sink].map((r) => r.p50)),
    p99: median(runs[sink].map((r) => r.p99)),
    errors: runs[sink].reduce((a, r) => a + r.errors, 0),
    cpuUs: median(runs[sink].map((r) => r.cpuUs)),
  }));
  const ratio = median(runs.postgres.map((r, i) => r.rps / runs.file[i].rps));
  // What RPS the CPU work alone allows, file over postgres: a machine shared with other work slows both sinks'
  // wall clock alike, but not the CPU each request costs.
  const cpuRatio = median(runs.file.map((r) => r.cpuUs)) / median(runs.postgres.map((r) => r.cpuUs));
  return { rows, ratio, cpuRatio };
}

await withDatabase(async (url) => {
  const say = (s: string) => !values.json && process.stdout.write(`${s}\n`);
  say(`bench:replicas — database ${scrubDatabaseUrl(url)}, c${values.concurrency} spread over the replicas`);
  const results = [];
  for (const k of counts) {
    const r = await replicaBench(url, k);
    results.push(r);
    for (const row of r.rows)
      say(
        `  ${k} replica${k > 1 ? 's' : ' '} ${row.sink.padEnd(8)} ${fmt(row.rps, 0).padStart(6)} rps  p50 ${fmt(row.p50)} ms  p99 ${fmt(row.p99)} ms  ${fmt(row.cpuUs, 0)} µs CPU/request${row.errors ? `  (${row.errors} errors)` : ''}`,
      );
    say(
      `  ${k} replica${k > 1 ? 's' : ' '} postgres / file: ${fmt(r.ratio)} RPS (median of paired slices), ${fmt(r.cpuRatio)} by CPU per request`,
    );
  }
  const sink = await sinkBench(url, {
    seconds: Number(values['sink-seconds']),
    rounds: Number(values['sink-rounds']),
    concurrency: Number(values['sink-concurrency']),
  });
  say(`PostgreSQL sink alone, ${values['sink-concurrency']} concurrent appenders:`);
  for (const m of [sink.perRecord, sink.group])
    say(`  ${m.mode.padEnd(16)} ${fmt(m.rps, 0).padStart(7)} records/s  p50 ${fmt(m.p50)} ms  p99 ${fmt(m.p99)} ms`);
  say(`  group / one transaction per record: ${fmt(sink.ratio, 1)}x`);
  if (values.json) process.stdout.write(`${JSON.stringify({ replicas: results, sink }, null, 2)}\n`);
});
