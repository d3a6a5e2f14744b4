import { join } from 'node:path';
import { fmt, load, startProcess } from './load.js';

/**
 * The gateway half of bench:audit: the same gateway with the decision log off (records built, then dropped)
 * and with the chain log in group-commit and in `none` durability, against the stub upstream, in interleaved
 * rounds. Prints RPS and p99 for each and the ratio of log-on to log-off (goal >= 0.9).
 */
export async function gatewayAuditBench({ seconds, rounds, concurrency }: { seconds: number; rounds: number; concurrency: number }) {
  const root = join(import.meta.dirname);
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
  const stub = await startProcess([join(root, 'servers/stub.js')], {});
  const modes = ['off', 'group', 'none'] as const;
  const gws = await Promise.all(modes.map((m) => startProcess([join(root, 'servers/audit-gateway.js')], { BENCH_AUDIT: m, BENCH_UPSTREAM_URL: `http://127.0.0.1:${stub.port}/v1` })));
  const runs = new Map<string, { rps: number; p99: number }[]>(modes.map((m) => [m, []]));
  try {
    for (const [i, m] of modes.entries()) await load(`http://127.0.0.1:${gws[i].port}/v1/chat/completions`, { concurrency: 4, seconds: 1, body });
    for (let r = 0; r < rounds; r++) {
      for (const [i, m] of modes.entries()) runs.get(m)!.push(await load(`http://127.0.0.1:${gws[i].port}/v1/chat/completions`, { concurrency, seconds, body }));
    }
  } finally {
    for (const p of [...gws, stub]) p.child.kill('SIGTERM');
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = modes.map((m) => ({ mode: m, rps: median(runs.get(m)!.map((x) => x.rps)), p99: median(runs.get(m)!.map((x) => x.p99)) }));
  console.log(`\ngateway with the decision log off and on: concurrency ${concurrency}, ${rounds} interleaved rounds x ${seconds}s (medians)`);
  console.log('log                 RPS    p99 ms');
  for (const o of out) console.log(`${o.mode.padEnd(12)} ${fmt(o.rps, 0).padStart(10)} ${fmt(o.p99).padStart(9)}`);
  const ratio = out[1].rps / out[0].rps;
  console.log(`log on (group) / off: ${fmt(ratio)}x (goal >= 0.9) ${ratio >= 0.9 ? 'PASS' : 'FAIL'}; log on (none) / off: ${fmt(out[2].rps / out[0].rps)}x`);
  return { gateway: out, gateway_on_over_off: ratio };
}
