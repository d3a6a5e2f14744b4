import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN;
/** The middle value of an unsorted list (the upper of the two middle ones for an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * A closed-loop load generator: `concurrency` loops each send a request, await the full body, repeat, for
 * `seconds`. Latencies come from performance.now(), so sub-millisecond differences are visible.
 */
export async function load(
  url: string,
  {
    concurrency,
    seconds,
    body,
    headers = {},
    expectStatus = 200,
  }: {
    concurrency: number;
    seconds: number;
    /** The request body, or a function giving each request its own (varied prompts: no cache hit across requests). */
    body: string | (() => string);
    headers?: Record<string, string>;
    expectStatus?: number;
  },
): Promise<LoadResult> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const res = await pool.request({
            path: u.pathname,
            method: 'POST',
            body: typeof body === 'string' ? body : body(),
            headers: { 'content-type': 'application/json', ...headers },
          });
          await res.body.text();
          if (res.statusCode !== expectStatus) errors++;
          else latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Every process startProcess started and that has not exited: stopped when the bench exits, whatever the reason. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGTERM');
});
// A bench interrupted by a signal exits through 'exit' too, so it leaves no server holding a port.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));

/**
 * Starts a node process and waits for the first JSON line it prints (its port), or for `readyUrl` to answer.
 * A fixed port that already answers is refused: the bench would otherwise measure whatever holds it (a server
 * left by an interrupted run, say) while the new process dies on EADDRINUSE.
 */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  readyUrl?: string,
): Promise<{ child: ChildProcess; port?: number }> {
  if (
    readyUrl &&
    (await fetch(readyUrl).then(
      () => true,
      () => false,
    ))
  ) {
    throw new Error(
      `${readyUrl} already answers before ${args.join(' ')} started: stop whatever listens there (a server left by ` +
        `an interrupted bench?)`,
    );
  }
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.stderr.on('data', (d) => process.env.BENCH_VERBOSE && process.stderr.write(d));
  if (readyUrl) {
    child.stdout.resume();
    for (let i = 0; i < 200; i++) {
      if (child.exitCode !== null) break;
      try {
        const r = await fetch(readyUrl);
        if (r.status < 500) return { child };
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error(
      `${args.join(' ')} did not become ready at ` +
        `${readyUrl}${child.exitCode === null ? '' : ` (it exited with code ${child.exitCode})`}`,
    );
  }
  // The port comes as a JSON line `{"port": N}`; log lines before it are skipped.
  const lines = createInterface({ input: child.stdout });
  const exited = once(child, 'exit').then(() => null);
  for (;;) {
    const next = await Promise.race([once(lines, 'line').then(([l]) => l as string), exited]);
    if (next === null) throw new Error(`${args.join(' ')} exited before printing its port`);
    let port: unknown;
    try {
      port = JSON.parse(next).port;
    } catch {
      continue;
    }
    if (typeof port === 'number') {
      lines.on('line', () => undefined);
      return { child, port };
    }
  }
}

/** Sends SIGTERM to each process and waits for them all to exit (a gateway closes its log before it does). */
export async function stopProcesses(procs: Array<{ child: ChildProcess }>): Promise<void> {
  await Promise.all(
    procs.map(({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      return exited;
    }),
  );
}

/**
 * The rules-only pack, which the gateway benches run unless told otherwise: their figures are about the gateway's
 * own path (the default pack runs the learned model; bench/learned-path.ts and `npm run bench:proxy -- --policy
 * policies/default --varied` measure that).
 */
export const RULES_ONLY_POLICY = join(import.meta.dirname, '..', '..', 'policies', 'rules-only');

export const fmt = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/**
 * CPU time a process has used, in ms: all its threads, or with `mainThread` only its JavaScript thread (kernel
 * time of writes run on libuv's pool then counts elsewhere). Linux /proc, in its 100 Hz ticks; NaN elsewhere.
 * Robust to a busy machine, unlike latency.
 */
export function cpuMs(pid: number | undefined, mainThread = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/${mainThread ? `task/${pid}/` : ''}stat`, 'utf8')
      .split(') ')[1]
      .split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // utime + stime
  } catch {
    return NaN;
  }
}

/** The whole machine's busy and idle CPU time so far, in ms summed over its CPUs (Linux /proc; NaN elsewhere). */
export function machineMs(): { busy: number; idle: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4]; // idle + iowait
    return { busy: (f.reduce((a, b) => a + b, 0) - idle) * 10, idle: idle * 10 };
  } catch {
    return { busy: NaN, idle: NaN };
  }
}
