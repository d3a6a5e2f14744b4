import { join } from 'node:path';
import { cpuMs, fmt, load, machineMs, median, startProcess, stopProcesses, type LoadResult } from './load.js';

/**
 * One slice: the load result, the gateway main thread's CPU per request and share of the slice, the machine's idle
 * share.
 */
type Slice = LoadResult & { mainUs: number; mainBusy: number; idle: number };

/**
 * The gateway half of bench:audit: the same gateway with the decision log off (records built, then dropped)
 * and with the chain log in group-commit and in `none` durability, against the stub upstream.
 *
 * On a shared VM the throughput of one target drifts by ±20% from one second to the next, which swamps a
 * 10% effect when whole rounds are compared. So the targets run in short slices, off then group then none,
 * again and again; each slice of a logging gateway is divided by the `off` slice just before it, and the
 * figure reported is the median of those paired ratios (the ratio of the median RPS is printed beside it), with
 * the middle half of the ratios, so a reader can see how much of the figure is noise.
 *
 * Beside each mode it prints what limits it (Linux only): the CPU the gateway's JavaScript thread spends per
 * request, how busy that thread was, and how idle the whole machine was. The thread is the bottleneck, so the
 * first says what the log costs in work, and the second how much of the time the thread sat idle instead,
 * waiting for fsyncs or for clients.
 */
export async function gatewayAuditBench({
  slices,
  sliceSeconds,
  concurrency,
}: {
  slices: number;
  sliceSeconds: number;
  concurrency: number;
}) {
  const root = join(import.meta.dirname);
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'What is the capital of France?' }],
  });
  const stub = await startProcess([join(root, 'servers/stub.js')], {});
  const modes = ['off', 'group', 'none'] as const;
  const gws = await Promise.all(
    modes.map((m) =>
      startProcess([join(root, 'servers/audit-gateway.js')], {
        BENCH_AUDIT: m,
        BENCH_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1`,
      }),
    ),
  );
  const url = (i: number) => `http://127.0.0.1:${gws[i].port}/v1/chat/completions`;
  const runs = modes.map(() => [] as Slice[]);
  try {
    for (const i of modes.keys()) await load(url(i), { concurrency: 4, seconds: 1, body });
    for (let s = 0; s < slices; s++) {
      for (const i of modes.keys()) {
        const pid = gws[i].child.pid;
        const [main0, m0, t0] = [cpuMs(pid, true), machineMs(), performance.now()];
        const r = await load(url(i), { concurrency, seconds: sliceSeconds, body });
        const [main1, m1, t1] = [cpuMs(pid, true), machineMs(), performance.now()];
        const idle = (m1.idle - m0.idle) / (m1.idle - m0.idle + m1.busy - m0.busy);
        runs[i].push({
          ...r,
          mainUs: ((main1 - main0) * 1000) / r.requests,
          mainBusy: (main1 - main0) / (t1 - t0),
          idle,
        });
      }
    }
  } finally {
    await stopProcesses([...gws, stub]);
  }
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q + 0.5)];
  const out = modes.map((mode, i) => {
    const ratios = runs[i].map((x, s) => x.rps / runs[0][s].rps);
    // The spread of the paired ratios says how far this machine's noise reaches: the middle half of the slices.
    const m = (k: 'rps' | 'p99' | 'mainUs' | 'mainBusy' | 'idle') => median(runs[i].map((x) => x[k]));
    return {
      mode,
      rps: m('rps'),
      p99: m('p99'),
      over_off: median(ratios),
      over_off_iqr: [at(ratios, 0.25), at(ratios, 0.75)],
      main_thread_us_per_request: m('mainUs'),
      main_thread_busy: m('mainBusy'),
      machine_idle: m('idle'),
    };
  });
  console.log(
    `\ngateway with the decision log off and on: concurrency ${concurrency}, ${slices} slices x ${sliceSeconds}s ` +
      `per log mode, interleaved`,
  );
  console.log(
    'log             RPS    p99 ms   / off (median of paired slices; middle half)   main thread: us/req  busy   machine idle',
  );
  for (const o of out) {
    const ratio = `${fmt(o.over_off).padStart(5)}x  ${fmt(o.over_off_iqr[0])}-${fmt(o.over_off_iqr[1])}`;
    const cpu = `${fmt(o.main_thread_us_per_request, 0).padStart(6)}  ${fmt(o.main_thread_busy * 100, 0).padStart(4)}%  ${fmt(o.machine_idle * 100, 0).padStart(5)}%`;
    console.log(
      `${o.mode.padEnd(8)} ${fmt(o.rps, 0).padStart(8)} ${fmt(o.p99).padStart(9)}   ${ratio.padEnd(47)}${cpu}`,
    );
  }
  const ratio = out[1].over_off;
  console.log(
    `log on (group) / off: ${fmt(ratio)}x (goal >= 0.9) ${ratio >= 0.9 ? 'PASS' : 'FAIL'}; ratio of the median RPS ` +
      `${fmt(out[1].rps / out[0].rps)}x`,
  );
  return { gateway: out, gateway_on_over_off: ratio };
}
