/**
 * `node dist/bench/learned-path.js`: the gateway with the learned classifiers (the ML pack, policies/ml, by default),
 * every request a new prompt, against the stub upstream, in interleaved rounds at concurrency 1 and `--concurrency`:
 *  - this build, int8 encoder (the default), and the same with no batching wait (GATEWAY_ENCODER_MAX_WAIT_MS=0);
 *  - this build, fp32 encoder (GATEWAY_ENCODER_PRECISION=fp32);
 *  - with `--baseline DIR` (repeatable): the gateway of another checkout, built (`node scripts/build.mjs` there), e.g.
 *    the commit before the learned path's speed work, or the one before int8 batched again; ratios are printed against
 *    each baseline, else against fp32.
 * Records are written without waiting for the disk (durability none), so the figures are the classifiers' cost.
 * With `--varied-reply` (default on) the stub answers each prompt differently, so the grader's answer is new too.
 *
 * Options: --seconds N (default 4), --rounds N (default 3), --concurrency N (default 32), --policy PATH,
 * --baseline DIR, --same-reply (the stub's one fixed answer, as bench:proxy).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { fmt, load, median, startProcess, stopProcesses, type LoadResult } from './load.js';

const USAGE = `usage: node dist/bench/learned-path.js [options]

  The learned path with varied prompts: this build int8 and fp32, and a baseline checkout, side by side.
  --seconds N (default 4), --rounds N (default 3), --concurrency N (default 32), --policy PATH (default
  policies/ml/policy.json), --baseline DIR (a built checkout to compare with; repeatable), --same-reply (fixed stub
  answer).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:learned-path', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    policy: { type: 'string' },
    baseline: { type: 'string', multiple: true },
    'same-reply': { type: 'boolean', default: false },
  });
  checkNumbers(parsed.values, ['seconds', 'rounds', 'concurrency']);
  return parsed;
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const root = join(import.meta.dirname, '..');
// Policies are read from the source tree (dist/ holds no JSON).
const repo = join(root, '..');
const policy = resolve(values.policy ?? join(repo, 'policies', 'ml', 'policy.json'));

const TOPICS = ['a sourdough starter', 'my tax return', 'a job interview', 'the French revolution', 'a garden pond'];
const ASKS = ['How do I get started with', 'What are common mistakes with', 'Give me three tips about'];
let n = 0;
/** A chat request no earlier one used (the counter makes each prompt new), as varied traffic sends. */
const body = () => {
  const i = n++;
  const content = `${ASKS[i % 3]} ${TOPICS[i % 5]}? This is question ${i}; please keep it short.`;
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
};

const stub = await startProcess([join(root, 'bench/servers/stub.js')], {
  STUB_VARIED_REPLY: values['same-reply'] ? '0' : '1',
});
const auditDir = mkdtempSync(join(tmpdir(), 'bench-learned-'));
const key = 'sk-bench-key-0123456789';
const gateway = (name: string, port: number, main: string, env: Record<string, string> = {}) =>
  startProcess(
    [main],
    {
      GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1`,
      GATEWAY_API_KEYS: key,
      GATEWAY_LOG_LEVEL: 'warn',
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_POLICY: policy,
      GATEWAY_PORT: String(port),
      GATEWAY_AUDIT_DIR: join(auditDir, name),
      GATEWAY_AUDIT_DURABILITY: 'none',
      ...env,
    },
    `http://127.0.0.1:${port}/readyz`,
  ).then((process) => ({ name, port, process }));

/**
 * CPU seconds a process has used (user + system, all its threads: the encoder's worker included), from
 * /proc/PID/stat; NaN where there is no /proc. On a box shared with other work, RPS moves with what the neighbours
 * leave, but CPU per request is the gateway's own cost, and a dedicated box's capacity goes as its inverse.
 */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}
/** One load run and the gateway's CPU milliseconds per answered request during it. */
async function measured(pid: number | undefined, run: () => Promise<LoadResult>) {
  const before = cpuSeconds(pid);
  const result = await run();
  return { ...result, cpuMs: ((cpuSeconds(pid) - before) * 1000) / result.requests };
}

const ours = join(root, 'gateway/main.js');
const targets = [
  await gateway('this build, int8', 18090, ours, { GATEWAY_ENCODER_PRECISION: 'int8' }),
  await gateway('this build, int8, maxWaitMs 0', 18093, ours, {
    GATEWAY_ENCODER_PRECISION: 'int8',
    GATEWAY_ENCODER_MAX_WAIT_MS: '0',
  }),
  await gateway('this build, fp32', 18091, ours, { GATEWAY_ENCODER_PRECISION: 'fp32' }),
];
for (const [i, dir] of (values.baseline ?? []).entries())
  targets.push(await gateway(`baseline (${dir})`, 18100 + i, join(resolve(dir), 'dist/gateway/main.js')));
type Run = LoadResult & { cpuMs: number };
const results = targets.map((t) => ({ t, c1: [] as Run[], cN: [] as Run[] }));
const headers = { authorization: `Bearer ${key}` };
try {
  for (const { port } of targets)
    await load(`http://127.0.0.1:${port}/v1/chat/completions`, { concurrency: 4, seconds: 1, body, headers }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const { t, c1, cN } of results) {
      const url = `http://127.0.0.1:${t.port}/v1/chat/completions`;
      const pid = t.process.child.pid;
      c1.push(await measured(pid, () => load(url, { concurrency: 1, seconds, body, headers })));
      cN.push(await measured(pid, () => load(url, { concurrency, seconds, body, headers })));
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
} finally {
  await stopProcesses([...targets.map((t) => t.process), stub]);
  rmSync(auditDir, { recursive: true, force: true });
}

const summary = results.map(({ t, c1, cN }) => ({
  name: t.name,
  c1rps: median(c1.map((x) => x.rps)),
  c1p50: median(c1.map((x) => x.p50)),
  rps: median(cN.map((x) => x.rps)),
  p50: median(cN.map((x) => x.p50)),
  p99: median(cN.map((x) => x.p99)),
  c1cpu: median(c1.map((x) => x.cpuMs)),
  cpu: median(cN.map((x) => x.cpuMs)),
  errors: [...c1, ...cN].reduce((a, x) => a + x.errors, 0),
}));
const baselines = summary.filter((s) => s.name.startsWith('baseline'));
const fp32 = summary.find((s) => s.name === 'this build, fp32');
console.log(
  `\ncapacity × = the reference's CPU per request at c${concurrency} ÷ this row's: the RPS ratio a dedicated box would ` +
    'show once CPU-bound (RPS here moves with what the other work on the box leaves).',
);
console.log(
  `\nlearned path, varied prompts (${policy.replace(`${repo}/`, '')}): ${rounds} interleaved rounds of ${seconds}s; medians`,
);
console.log(
  `${'gateway'.padEnd(44)} ${'c1 RPS'.padStart(8)} ${'c1 p50'.padStart(7)} ${`c${concurrency} RPS`.padStart(9)} ` +
    `${'p50'.padStart(7)} ${'p99'.padStart(7)}   ${'CPU ms/req c1'.padStart(13)} ${`c${concurrency}`.padStart(5)} errors`,
);
for (const s of summary)
  console.log(
    `${s.name.padEnd(44)} ${fmt(s.c1rps, 0).padStart(8)} ${fmt(s.c1p50).padStart(7)} ${fmt(s.rps, 0).padStart(9)} ` +
      `${fmt(s.p50).padStart(7)} ${fmt(s.p99).padStart(7)}   ${fmt(s.c1cpu).padStart(13)} ${fmt(s.cpu).padStart(5)} ${s.errors}`,
  );
for (const base of baselines.length > 0 ? baselines : fp32 ? [fp32] : []) {
  console.log(`\nratios vs ${base.name}: c1 RPS ×, c${concurrency} RPS ×, capacity ×`);
  for (const s of summary)
    if (s !== base)
      console.log(
        `${s.name.padEnd(44)} ${fmt(s.c1rps / base.c1rps).padStart(6)} ${fmt(s.rps / base.rps).padStart(6)} ` +
          `${fmt(base.cpu / s.cpu).padStart(6)}`,
      );
}
