/**
 * `npm run bench:audit`: records per second and append latency (p50/p99) of the chain log under concurrent
 * load, fsync-per-record against group commit (and `none` for reference), with the group/per-record ratio.
 * Options: --seconds N (per mode, default 3), --concurrency N (in-flight appends, default 64), --json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChainLog } from '../audit/chain-log.js';
import type { DecisionRecord } from '../audit/types.js';
import type { Durability } from '../audit/writer.js';

const { values } = parseArgs({ options: {
  seconds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' }, json: { type: 'boolean', default: false },
} });
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

function record(i: number): DecisionRecord {
  return {
    decision_id: `bench-${i}`, time: new Date().toISOString(), instance: 'bench', key_id: 'k-0000', tenant: 'acme',
    route: '/v1/chat/completions', model: 'gpt-bench', stream: false, policy: { id: 'default', revision: 'rev-1' },
    action: 'allow', status: 200,
    stages: { input: { action: 'allow', rules: [], latencyMs: 3, classifiers: [
      { id: 'pii', version: '1.0.0', scores: { email: 0.01, phone: 0 }, explanation: 'no match', latencyMs: 1 },
      { id: 'onnx', version: '1.0.0', scores: { violence: 0.02, self_harm: 0.01, hate: 0.03 }, explanation: 'encoder heads', latencyMs: 2 },
    ] } },
    latency_ms: { total: 25, input: 3, generator: 20 },
    content: { mode: 'hash', prompt: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' },
  };
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function measure(durability: Durability) {
  const dir = await mkdtemp(join(tmpdir(), `bench-audit-${durability}-`));
  try {
    const log = await ChainLog.open({ dir, durability, checkpointEvery: 10_000 });
    const latencies: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    let i = 0;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await log.append(record(i++));
        latencies.push(performance.now() - t0);
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - start) / 1000;
    await log.close();
    latencies.sort((a, b) => a - b);
    return { durability, records: latencies.length, records_per_s: latencies.length / elapsed, p50_ms: pct(latencies, 50), p99_ms: pct(latencies, 99) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const results = [];
for (const mode of ['fsync-per-record', 'group', 'none'] as const) results.push(await measure(mode));
const [perRecord, group] = results;
const ratio = group.records_per_s / perRecord.records_per_s;
if (values.json) console.log(JSON.stringify({ seconds, concurrency, results, group_over_per_record: ratio }, null, 2));
else {
  console.log(`audit log, ${concurrency} concurrent appends, ${seconds}s per mode, dir ${tmpdir()}`);
  console.log('mode               records/s    p50 ms    p99 ms   records');
  for (const r of results) {
    console.log(`${r.durability.padEnd(17)} ${r.records_per_s.toFixed(0).padStart(10)} ${r.p50_ms.toFixed(2).padStart(9)} ${r.p99_ms.toFixed(2).padStart(9)} ${String(r.records).padStart(9)}`);
  }
  console.log(`group commit / fsync-per-record: ${ratio.toFixed(1)}x (goal >= 20x) ${ratio >= 20 ? 'PASS' : 'FAIL'}`);
}
