/**
 * `npm run bench:audit`: records per second and append latency (p50/p99) of the chain log under concurrent
 * load, fsync-per-record against group commit (and `none` for reference), with the group/per-record ratio.
 * Modes run in interleaved rounds and each figure is the median round, so a noisy neighbour hits all modes.
 * Options: --seconds N per round (default 2), --rounds N (default 3), --concurrency N (in-flight appends,
 * default 128), --window MS and --max-batch N (group commit tuning, default the config defaults), --json,
 * --no-gateway (skip the second part: a real gateway's throughput with the log off and on), --slices N and
 * --slice-seconds S for that part (default 12 slices of 1.5 s per log mode; see bench/audit-gateway.ts).
 */
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { ChainLog } from '../audit/chain-log.js';
import type { DecisionRecord } from '../audit/types.js';
import type { Durability } from '../audit/writer.js';
import { gatewayAuditBench } from './audit-gateway.js';
import { median, percentile } from './load.js';

const USAGE = `usage: npm run bench:audit -- [options]

  Records per second and append latency of the chain log, group commit against fsync-per-record.
  --seconds N per round (default 2), --rounds N (default 3), --concurrency N (in-flight appends, default 128),
  --window MS and --max-batch N (group commit tuning, default the config defaults), --json, --no-gateway (skip
  the second part: a real gateway's throughput with the log off and on), --slices N and --slice-seconds S for
  that part (default 12 slices of 1.5 s per log mode; see bench/audit-gateway.ts).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:audit', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    'no-gateway': { type: 'boolean', default: false },
    slices: { type: 'string', default: '12' },
    'slice-seconds': { type: 'string', default: '1.5' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '128' },
    window: { type: 'string' },
    'max-batch': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  checkNumbers(parsed.values, ['slices', 'slice-seconds', 'seconds', 'rounds', 'concurrency', 'window', 'max-batch']);
  return parsed;
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const tuning = {
  ...(values.window === undefined ? {} : { groupWindowMs: Number(values.window) }),
  ...(values['max-batch'] === undefined ? {} : { groupMaxRecords: Number(values['max-batch']) }),
};
const MODES = ['fsync-per-record', 'group', 'none'] as const;

/** A decision record like the gateway's, with members in the sorted order RequestRun.finish writes them in. */
function record(i: number): DecisionRecord {
  return {
    action: 'allow',
    api: 'chat.completions',
    content: { mode: 'hash', prompt: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
    decision_id: `bench-${i}`,
    instance: 'bench',
    key_id: 'k-0000',
    latency_ms: { generator: 20, input: 3, total: 25 },
    model: 'gpt-bench',
    policy: { id: 'default', revision: 'rev-1' },
    route: '/v1/chat/completions',
    stages: {
      input: {
        action: 'allow',
        classifiers: [
          { explanation: 'no match', id: 'pii', latency_ms: 1, scores: { email: 0.01, phone: 0 }, version: '1.0.0' },
          {
            explanation: 'encoder heads',
            id: 'onnx',
            latency_ms: 2,
            scores: { hate: 0.03, self_harm: 0.01, violence: 0.02 },
            version: '1.0.0',
          },
        ],
        latency_ms: 3,
        rules: [],
      },
    },
    status: 200,
    stream: false,
    tenant: 'acme',
    time: new Date().toISOString(),
    v: 1,
  };
}

/**
 * Records are built before the clock starts and reused (append never changes them), so the figures are the
 * log's own work — masking, canonical JSON, hashing, writing, syncing — not the caller's building of records.
 */
const records = Array.from({ length: 4096 }, (_, i) => record(i));

interface Round {
  records_per_s: number;
  p50_ms: number;
  p99_ms: number;
  records: number;
}

async function measure(durability: Durability): Promise<Round> {
  const dir = await mkdtemp(join(tmpdir(), `bench-audit-${durability}-`));
  try {
    const log = await ChainLog.open({ dir, durability, checkpointEvery: 10_000, onEvent: () => {}, ...tuning });
    const latencies: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    let i = 0;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await log.append(records[i++ & (records.length - 1)]);
        latencies.push(performance.now() - t0);
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - start) / 1000;
    await log.close();
    latencies.sort((a, b) => a - b);
    return {
      records_per_s: latencies.length / elapsed,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      records: latencies.length,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Median latency of a 300-byte append + fdatasync on the bench's file system, for context. */
async function fsyncProbe(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fsync-'));
  const fh = await open(join(dir, 'probe'), 'a');
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await fh.write('x'.repeat(300));
    await fh.datasync();
    times.push(performance.now() - t0);
  }
  await fh.close();
  await rm(dir, { recursive: true, force: true });
  return median(times);
}

const fsyncMs = await fsyncProbe();
// Rounds interleave the modes, so a slow minute of the disk lands on every mode alike.
const byMode = MODES.map((durability) => ({ durability, rounds: [] as Round[] }));
for (let r = 0; r < rounds; r++) for (const mode of byMode) mode.rounds.push(await measure(mode.durability));
const results = byMode.map(({ durability, rounds: rs }) => {
  return {
    durability,
    records_per_s: median(rs.map((x) => x.records_per_s)),
    p50_ms: median(rs.map((x) => x.p50_ms)),
    p99_ms: median(rs.map((x) => x.p99_ms)),
  };
});
const ratio = results[1].records_per_s / results[0].records_per_s;
if (values.json)
  console.log(
    JSON.stringify({ seconds, rounds, concurrency, fsync_ms: fsyncMs, results, group_over_per_record: ratio }, null, 2),
  );
else {
  console.log(
    `audit log: ${concurrency} concurrent appends, ${rounds} rounds x ${seconds}s per mode (medians); fdatasync ` +
      `${fsyncMs.toFixed(2)} ms on ${tmpdir()}`,
  );
  console.log('mode               records/s    p50 ms    p99 ms');
  for (const r of results)
    console.log(
      `${r.durability.padEnd(17)} ${r.records_per_s.toFixed(0).padStart(10)} ${r.p50_ms.toFixed(2).padStart(9)} ` +
        `${r.p99_ms.toFixed(2).padStart(9)}`,
    );
  console.log(`group commit / fsync-per-record: ${ratio.toFixed(1)}x (goal >= 20x) ${ratio >= 20 ? 'PASS' : 'FAIL'}`);
}

if (!values['no-gateway'])
  await gatewayAuditBench({
    slices: Number(values.slices),
    sliceSeconds: Number(values['slice-seconds']),
    concurrency: 32,
  });
