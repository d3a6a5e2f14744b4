/**
 * `npm run bench:stream`: streamed chat completions side by side on loopback, against a stub upstream that sends
 * a few dozen deltas 20 ms apart — the stub directly, a bare node:http proxy (the floor for any extra hop),
 * this gateway (default policy, records on) in its default `progressive` mode, in `buffer` mode, in `stream-first`
 * mode (the default pack without its rules' `streamMode`, which would otherwise lift it to progressive), and in
 * `stream-first` with the concurrent input check, and Portkey's gateway with a regex guardrail on input and output.
 * Interleaved rounds, so drift on a shared machine hits every target alike.
 *
 * Reports per target: time to first token (TTFT) p50/p99 and what each adds over direct, the mean inter-chunk gap
 * relative to direct, how many of `--concurrency` simultaneous streams finish without a stall (no gap over
 * `--stall-ms`, ending in [DONE]), and how many of the leak probes (bench/servers/stream-probes.ts: secrets and
 * PII the default pack redacts, streamed in deltas of 1 to 8 characters) reached the client in any part.
 *
 * Options: --streams N (sampled per target per round, default 40), --parallel N (of those at once, default 4),
 * --rounds N (default 3), --concurrency N (default 200), --deltas N (default 40), --gap-ms N (default 20),
 * --stall-ms N (default 250), --portkey off.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { Agent } from 'undici';
import { contentEvents, finishOf, sseChat, textOf, type SseResult } from '../test/support/sse-client.js';
import { cpuMs, fmt, percentile, startProcess, stopProcesses } from './load.js';
import { PROBE_COUNT, leaked, probePieces } from './servers/stream-probes.js';

const USAGE = `usage: npm run bench:stream -- [options]

  Streamed chat completions side by side: TTFT, chunk gaps, stalls, leaked secrets.
  --streams N (sampled per target per round, default 40), --parallel N (of those at once, default 4), --rounds N
  (default 3), --concurrency N (default 200), --deltas N (default 40), --gap-ms N (default 20), --stall-ms N
  (default 250), --portkey off (leave Portkey out, where another bench holds its port 8787).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:stream', usage: USAGE }, () => {
  const parsed = parseCli(
    process.argv.slice(2),
    Object.fromEntries(
      ['streams', 'parallel', 'rounds', 'concurrency', 'deltas', 'gap-ms', 'stall-ms', 'portkey'].map((k) => [
        k,
        { type: 'string' as const },
      ]),
    ),
  );
  checkNumbers(parsed.values, ['streams', 'parallel', 'rounds', 'concurrency', 'deltas', 'gap-ms', 'stall-ms']);
  return parsed;
});
const num = (k: string, d: number) => Number(values[k] ?? d);
const o = {
  streams: num('streams', 40),
  parallel: num('parallel', 4),
  rounds: num('rounds', 3),
  concurrency: num('concurrency', 200),
  deltas: num('deltas', 40),
  gap: num('gap-ms', 20),
  stall: num('stall-ms', 250),
};
const root = join(import.meta.dirname, '..');

const stub = await startProcess([join(root, 'bench/servers/stream-stub.js')], {
  STUB_DELTAS: String(o.deltas),
  STUB_GAP_MS: String(o.gap),
});
const upstream = `http://127.0.0.1:${stub.port}/v1`;
const key = 'sk-bench-key-0123456789';
const auditDirs: string[] = [];
const ours = (stream: object, policy?: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-stream-audit-'));
  auditDirs.push(dir);
  const env = {
    ...(policy && { GATEWAY_POLICY: policy }),
    GATEWAY_PORT: '0',
    GATEWAY_UPSTREAM_URL: upstream,
    GATEWAY_API_KEYS: key,
    GATEWAY_AUDIT_DIR: dir,
    GATEWAY_LOG_LEVEL: 'error',
    BENCH_STREAM: JSON.stringify(stream),
  };
  return startProcess([join(root, 'bench/servers/stream-gateway.js')], env);
};
// The floor for any proxy hop: a bare node:http pass-through that does nothing but pipe the bytes.
const bare = await startProcess([join(root, 'bench/servers/bare-proxy.js')], { UPSTREAM_PORT: String(stub.port) });
// The rules-only pack's output redactions ask for at least progressive mode; without that, stream-first is what it says.
const unheld = mkdtempSync(join(tmpdir(), 'bench-stream-policy-'));
auditDirs.push(unheld);
const pack = JSON.parse(readFileSync(join(root, '..', 'policies/rules-only/policy.json'), 'utf8')) as {
  rules: object[];
};
pack.rules = pack.rules.map((r) => ({ ...r, streamMode: undefined }));
writeFileSync(join(unheld, 'policy.json'), JSON.stringify(pack));
const progressive = await ours({});
const buffer = await ours({ mode: 'buffer' });
const first = await ours({ mode: 'stream-first' }, unheld);
const firstConcurrent = await ours({ mode: 'stream-first', concurrentInput: true }, unheld);
// Portkey listens on a fixed port (8787): `--portkey off` leaves it out where another bench holds that port.
const portkey =
  values.portkey === 'off'
    ? undefined
    : await startProcess([join(root, 'bench/servers/portkey.js')], {}, 'http://127.0.0.1:8787/');

const guard = {
  type: 'guardrail',
  deny: true,
  checks: [{ id: 'default.regexMatch', parameters: { rule: 'sk-proj-|bomb', not: true } }],
};
const portkeyConfig = JSON.stringify({
  provider: 'openai',
  api_key: 'sk-test',
  custom_host: upstream,
  before_request_hooks: [{ ...guard, id: 'in' }],
  after_request_hooks: [{ ...guard, id: 'out' }],
});
const bearer = { authorization: `Bearer ${key}` };
const targets: { name: string; url: string; headers: Record<string, string>; pid?: number }[] = [
  { name: 'direct (stub)', url: `${upstream}/chat/completions`, headers: {}, pid: stub.child.pid },
  {
    name: 'bare node:http proxy',
    url: `http://127.0.0.1:${bare.port}/v1/chat/completions`,
    headers: {},
    pid: bare.child.pid,
  },
  {
    name: 'this gateway, progressive',
    url: `http://127.0.0.1:${progressive.port}/v1/chat/completions`,
    headers: bearer,
    pid: progressive.child.pid,
  },
  {
    name: 'this gateway, buffer',
    url: `http://127.0.0.1:${buffer.port}/v1/chat/completions`,
    headers: bearer,
    pid: buffer.child.pid,
  },
  {
    name: 'this gateway, stream-first',
    url: `http://127.0.0.1:${first.port}/v1/chat/completions`,
    headers: bearer,
    pid: first.child.pid,
  },
  {
    name: '  + concurrent input check',
    url: `http://127.0.0.1:${firstConcurrent.port}/v1/chat/completions`,
    headers: bearer,
    pid: firstConcurrent.child.pid,
  },
  ...(portkey
    ? [
        {
          name: 'portkey + output guardrail',
          url: 'http://127.0.0.1:8787/v1/chat/completions',
          headers: { 'x-portkey-config': portkeyConfig },
          pid: portkey.child.pid,
        },
      ]
    : []),
];
const runs = targets.map((t) => ({
  ...t,
  agent: new Agent({ connections: o.concurrency + 16 }),
  ttft: [] as number[],
  lag: [] as number[],
  gaps: [] as number[],
  ok: 0,
  total: 0,
  cpu: 0,
  leaked: 0,
  cut: 0,
}));

const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Write a short answer.' }] };
const ttftOf = (r: SseResult) => (contentEvents(r.events)[0]?.at ?? NaN) - r.started;
/** What the path added to the first token: the client's TTFT less the stub's own wait before sending it. */
const lagOf = (r: SseResult) => {
  const c = contentEvents(r.events)[0];
  return c && typeof c.data.stub_ms === 'number' ? c.at - r.started - c.data.stub_ms : NaN;
};
const gapsOf = (r: SseResult) => {
  const c = contentEvents(r.events);
  return c.slice(1).map((e, i) => e.at - c[i].at);
};
const finished = (r: SseResult) => r.status === 200 && r.events.at(-1)?.data === '[DONE]';

try {
  for (const t of runs) await sseChat(t.url, body, t.headers, { dispatcher: t.agent }); // warm-up
  for (let round = 0; round < o.rounds; round++) {
    // Latency samples: batch by batch, every target in turn, so a noisy moment hits all of them.
    for (let done = 0; done < o.streams; done += o.parallel) {
      for (const t of runs) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(o.parallel, o.streams - done) }, () =>
            sseChat(t.url, body, t.headers, { dispatcher: t.agent }),
          ),
        );
        for (const r of batch) {
          t.ttft.push(ttftOf(r));
          t.lag.push(lagOf(r));
          t.gaps.push(...gapsOf(r));
        }
      }
    }
    for (const t of runs) {
      const cpu0 = cpuMs(t.pid);
      const many = await Promise.all(
        Array.from({ length: o.concurrency }, () =>
          sseChat(t.url, body, t.headers, { dispatcher: t.agent }).catch(() => null),
        ),
      );
      t.cpu += cpuMs(t.pid) - cpu0;
      t.total += many.length;
      t.ok += many.filter((r) => r && finished(r) && Math.max(0, ...gapsOf(r)) <= o.stall).length;
    }
    process.stderr.write(`round ${round + 1}/${o.rounds} done\n`);
  }
  // Leak probes: every secret in deltas of every size, all at once per target.
  for (const t of runs) {
    const probes = await Promise.all(
      Array.from({ length: PROBE_COUNT }, (_, n) =>
        sseChat(t.url, { ...body, messages: [{ role: 'user', content: `probe ${n}` }] }, t.headers, {
          dispatcher: t.agent,
        }).then((r) => ({ r, secret: probePieces(n, []).secret })),
      ),
    );
    for (const { r, secret } of probes) {
      if (leaked(secret, textOf(r.events))) t.leaked++;
      if (finishOf(r.events) === 'content_filter') t.cut++;
    }
  }
} finally {
  await stopProcesses([bare, progressive, buffer, first, firstConcurrent, ...(portkey ? [portkey] : []), stub]); // before their audit dirs go
  for (const t of runs) await t.agent.close();
  for (const d of auditDirs) rmSync(d, { recursive: true, force: true });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sorted = (xs: number[]) => xs.filter(Number.isFinite).sort((a, b) => a - b);
const stats = runs.map((t) => {
  const ttft = sorted(t.ttft);
  const lag = sorted(t.lag);
  const gaps = sorted(t.gaps);
  return {
    t,
    p50: percentile(ttft, 50),
    p99: percentile(ttft, 99),
    lag50: percentile(lag, 50),
    lag99: percentile(lag, 99),
    gap: mean(gaps),
    gap99: percentile(gaps, 99),
  };
});
const [direct] = stats;
const pad = (v: string, n: number) => v.padStart(n);
console.log(
  `\nbench:stream — ${o.deltas} deltas ${o.gap} ms apart; ${o.rounds} interleaved rounds of ${o.streams} streams ` +
    `(${o.parallel} at a time) per target, then ${o.concurrency} at once`,
);
console.log(
  "TTFT: first content chunk, from the request. added: TTFT less the stub's own wait (stub_ms), less the same for direct.",
);
console.log(
  `CPU ms/stream: the target process's CPU time over the ${o.concurrency}-stream runs (for direct, the stub's). Load average at the end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
console.log(
  `leaked: of ${PROBE_COUNT} answers carrying a secret or PII the default pack redacts (in deltas of 1-8 characters), how many reached the client in any part (8 characters of it); (cut): how many streams ended in content_filter.`,
);
console.log(
  `${'target'.padEnd(30)} ${pad('TTFT p50', 9)} ${pad('p99', 7)} ${pad('added p50', 10)} ${pad('p99', 7)} ` +
    `${pad('gap ms', 7)} ${pad('gap p99', 8)} ${pad('ratio', 6)} ${pad('no stall', 9)} ${pad('CPU ms/stream', 13)}  leaked (cut)`,
);
for (const s of stats) {
  const self = s.t === direct.t;
  const added = (a: number, b: number) => (self ? '' : Number.isFinite(a) ? fmt(a - b, 3) : 'n/a');
  console.log(
    `${s.t.name.padEnd(30)} ${pad(fmt(s.p50), 9)} ${pad(fmt(s.p99), 7)} ${pad(added(s.lag50, direct.lag50), 10)} ${pad(added(s.lag99, direct.lag99), 7)} ` +
      `${pad(fmt(s.gap), 7)} ${pad(fmt(s.gap99), 8)} ${pad(fmt(s.gap / direct.gap), 6)} ` +
      `${pad(`${s.t.ok}/${s.t.total}`, 9)} ${pad(fmt(s.t.cpu / s.t.total, 2), 13)}  ${s.t.leaked}/${PROBE_COUNT} (${s.t.cut})`,
  );
}
const [, , pg, , sf, sfc] = stats;
console.log('\ngoals in the default mode (progressive)');
console.log(`  added TTFT p50           ${fmt(pg.lag50 - direct.lag50, 3)} ms   (goal <= 100 ms)`);
console.log(`  inter-chunk gap ratio    ${fmt(pg.gap / direct.gap, 3)}      (goal 0.9-1.1)`);
console.log(
  `  leaked                   ${pg.t.leaked}/${PROBE_COUNT}   (goal 0: no part of a secret or PII the pack redacts)`,
);
console.log('\ngoals in stream-first mode');
console.log(
  `  added TTFT p99           ${fmt(sf.lag99 - direct.lag99, 3)} ms; with the concurrent input check ` +
    `${fmt(sfc.lag99 - direct.lag99, 3)} ms   (goal <= 2 ms)`,
);
console.log(`  inter-chunk gap ratio    ${fmt(sf.gap / direct.gap, 3)}      (goal 0.9-1.1)`);
console.log(
  `  streams without a stall  ${sf.t.ok}/${sf.t.total}   (a gap over ${o.stall} ms, or no [DONE], is a stall)`,
);
