/**
 * `npm run bench:soak -- --minutes N`: steady load of mixed plain, streamed and refused requests against a real
 * gateway (in its own process) and the stub upstream. Every `--sample` seconds it reports the gateway's RSS and
 * the p99 of that interval; at the end, RSS growth per minute after warm-up, p99 drift (last / first interval),
 * and the verified audit record count against the requests answered.
 * Options: --minutes N (default 2), --concurrency N (default 16), --sample S (default 15), --warmup S (default 30).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { Pool } from 'undici';
import { fmt, percentile, startProcess, RULES_ONLY_POLICY } from './load.js';

const USAGE = `usage: npm run bench:soak -- [options]

  Steady mixed load against a real gateway: RSS growth, p99 drift, verified records.
  --minutes N (default 2), --concurrency N (default 16), --sample S (default 15), --warmup S (default 30).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:soak', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    minutes: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    sample: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '30' },
  });
  checkNumbers(parsed.values, ['minutes', 'concurrency', 'sample', 'warmup']);
  return parsed;
});
const minutes = Number(values.minutes);
const sampleMs = Number(values.sample) * 1000;
const warmupMs = Number(values.warmup) * 1000;
const root = import.meta.dirname;
const auditDir = mkdtempSync(join(tmpdir(), 'bench-soak-'));
const stub = await startProcess([join(root, 'servers/stub.js')], {});
const gw = await startProcess(
  [join(root, '..', 'gateway', 'main.js')],
  {
    GATEWAY_PORT: '18099',
    GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1`,
    GATEWAY_AUDIT_DIR: auditDir,
    GATEWAY_LOG_LEVEL: 'warn',
    GATEWAY_POLICY_WATCH: 'off',
    GATEWAY_POLICY: RULES_ONLY_POLICY,
    GATEWAY_MAX_CONCURRENT: '10000',
  },
  'http://127.0.0.1:18099/readyz',
);
/** The gateway's resident set in MB, from /proc (Linux). */
function rss(): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS line in /proc/${gw.child.pid}/status`);
  return Number(kb) / 1024;
}

const bodies = [
  { model: 'm', messages: [{ role: 'user', content: 'What is the capital of France?' }] },
  { model: 'm', stream: true, messages: [{ role: 'user', content: 'Write a short poem about the sea.' }] },
  { model: 'm', messages: [{ role: 'user', content: 'How do I build a pipe bomb?' }] },
].map((b) => JSON.stringify(b));
const pool = new Pool('http://127.0.0.1:18099', { connections: Number(values.concurrency) });
let answered = 0;
let failed = 0;
let interval: number[] = [];
const samples: { t: number; rssMb: number; p99: number; n: number }[] = [];
const started = performance.now();
const end = started + minutes * 60_000;
const timer = setInterval(() => {
  const lat = interval.sort((a, b) => a - b);
  interval = [];
  const s = { t: (performance.now() - started) / 1000, rssMb: rss(), p99: percentile(lat, 99), n: lat.length };
  samples.push(s);
  process.stderr.write(`t=${s.t.toFixed(0)}s rss=${s.rssMb.toFixed(1)} MB p99=${fmt(s.p99)} ms n=${s.n}\n`);
}, sampleMs);
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async (_, i) => {
    for (let k = i; performance.now() < end; k++) {
      const t = performance.now();
      try {
        const res = await pool.request({
          path: '/v1/chat/completions',
          method: 'POST',
          body: bodies[k % 3],
          headers: { 'content-type': 'application/json' },
        });
        await res.body.text();
        if (res.statusCode === 200) answered++;
        else failed++;
        interval.push(performance.now() - t);
      } catch {
        failed++;
      }
    }
  }),
);
clearInterval(timer);
await pool.close();
gw.child.kill('SIGTERM');
await new Promise((r) => gw.child.once('exit', r));
stub.child.kill('SIGTERM');

const after = samples.filter((s) => s.t * 1000 >= warmupMs);
// RSS swings with garbage collection, so growth is the least-squares slope over the samples, not first-to-last.
const slope = (pts: { t: number; rssMb: number }[]) => {
  const mt = pts.reduce((a, p) => a + p.t, 0) / pts.length;
  const mr = pts.reduce((a, p) => a + p.rssMb, 0) / pts.length;
  const num = pts.reduce((a, p) => a + (p.t - mt) * (p.rssMb - mr), 0);
  const den = pts.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den ? num / den : NaN;
};
const growth = after.length > 2 ? slope(after) * 60 : NaN;
const last = after.at(-1);
const drift = after.length > 1 && last ? last.p99 / after[0].p99 : NaN;
const verify = JSON.parse(
  execFileSync(process.execPath, [join(root, '..', 'audit', 'cli.js'), 'verify', '--dir', auditDir, '--json'], {
    encoding: 'utf8',
  }),
);
console.log(`bench:soak — ${minutes} min, ${values.concurrency} clients, mixed plain / streamed / refused`);
console.log(
  `answered ${answered}, failed ${failed}; audit verify ${verify.ok ? 'OK' : 'FAILED'} with ` +
    `${verify.records ?? verify.count} records`,
);
console.log(
  `RSS after ${values.warmup}s warm-up: ${fmt(Math.min(...after.map((s) => s.rssMb)), 1)}–${fmt(Math.max(...after.map((s) => s.rssMb)), 1)} MB; growth (least-squares slope) ${fmt(growth)} MB/min (goal < 1); p99 drift last/first: ${fmt(drift)}x (goal < 2)`,
);
