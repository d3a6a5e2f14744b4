/**
 * `npm run fuzz`: generated requests against a real gateway, broken answers from a chaotic upstream (event
 * streams and JSON), and mutated policies against the loader — all seeded and reproducible. Exits 1 when
 * anything went wrong; each problem names its case number, which replays alone with the same seed.
 *
 *   npm run fuzz -- [--seed 1] [--count 2000] [--upstream-count 500] [--policy-count 1000] [--json report.json]
 */
import { writeFileSync } from 'node:fs';
import { intOption, parseCli, runCli } from '../cli/args.js';
import { fuzzPolicies } from './fuzz/policy.js';
import { fuzzRequests, type Problem } from './fuzz/run.js';
import { fuzzUpstream } from './fuzz/upstream.js';

const USAGE = `usage: npm run fuzz -- [--seed N] [--count N] [--upstream-count N] [--policy-count N] [--json FILE]

  Generated requests against a real gateway, a chaotic upstream, and mutated policies against the loader.
  --seed N            seed; a problem's case number replays alone with the same seed (default 1)
  --count N           requests against the gateway (default 2000)
  --upstream-count N  requests through the chaotic upstream (default 500)
  --policy-count N    policy mutants (default 1000)
  --json FILE         also write the full report as JSON
  exit codes: 0 no problems, 1 problems found, 2 usage or I/O error`;

const OPTIONS = {
  seed: { type: 'string', default: '1' },
  count: { type: 'string', default: '2000' },
  'upstream-count': { type: 'string', default: '500' },
  'policy-count': { type: 'string', default: '1000' },
  json: { type: 'string' },
} as const;

const secs = (t: number) => ((performance.now() - t) / 1000).toFixed(1);

function table(histogram: Record<string, Record<string, number>>): void {
  const all: Record<string, number> = {};
  for (const [kind, h] of Object.entries(histogram).sort()) {
    console.log(
      `  ${kind.padEnd(34)} ${Object.entries(h)
        .sort()
        .map(([s, n]) => `${s} ×${n}`)
        .join(', ')}`,
    );
    for (const [s, n] of Object.entries(h)) all[s] = (all[s] ?? 0) + n;
  }
  console.log(
    `  ${'all'.padEnd(34)} ${Object.entries(all)
      .sort()
      .map(([s, n]) => `${s} ×${n}`)
      .join(', ')}`,
  );
}

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), OPTIONS);
  const seed = intOption('seed', values.seed);
  const count = intOption('count', values.count);
  const upstreamCount = intOption('upstream-count', values['upstream-count']);
  const policyCount = intOption('policy-count', values['policy-count']);
  let t = performance.now();
  const requests = await fuzzRequests({ seed, count });
  const m = requests.memory;
  console.log(`Requests: ${requests.sent} against a real gateway and stub upstream (seed ${seed}, ${secs(t)} s)`);
  table(requests.histogram);
  console.log(`  upstream calls: ${requests.upstreamRequests}, carrying a client header: ${requests.leakedHeaders}`);
  console.log(
    `  after GC: RSS ${m.rssBeforeMb} MB after warm-up → ${m.rssAfterMb} MB at the end (every tenth: ` +
      `${m.rssSeriesMb.join(', ')}); heap ${m.heapBeforeMb} → ${m.heapAfterMb} MB`,
  );

  t = performance.now();
  const upstream = await fuzzUpstream({ seed, count: upstreamCount });
  console.log(
    `\nUpstream: ${upstream.sent} requests to a gateway in front of a chaotic upstream (${secs(t)} s); healthy ` +
      `afterwards: ${upstream.healthy}`,
  );
  table(upstream.histogram);

  t = performance.now();
  const policies = fuzzPolicies({ seed, count: policyCount });
  console.log(
    `\nPolicy loader: ${policies.compiled} mutants of the default policy (${secs(t)} s): ${policies.accepted} ` +
      `compiled, ${policies.refused} refused with a PolicyError, slowest ${policies.slowestMs} ms`,
  );

  const problems: Problem[] = [...requests.problems, ...upstream.problems, ...policies.problems];
  if (!upstream.healthy)
    problems.push({ case: -1, kind: 'health', problem: 'GET /healthz failed after the upstream run' });
  for (const p of problems.slice(0, 30)) console.log(`PROBLEM case ${p.case} (${p.kind}): ${p.problem}`);
  console.log(problems.length ? `\n${problems.length} problems` : '\nno problems');
  if (values.json) writeFileSync(values.json, JSON.stringify({ seed, requests, upstream, policies }, null, 2));
  return problems.length ? 1 : 0;
}

await runCli({ name: 'fuzz', usage: USAGE }, main);
