/**
 * The sink half of bench:replicas: PgChainLog alone under N concurrent appenders, group commit (one multi-row
 * INSERT per batch) against one transaction per record, in interleaved rounds; records are built before the clock
 * starts, so the figures are the log's own work plus PostgreSQL's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgChainLog } from '../audit/pg/sink.js';
import type { DecisionRecord } from '../audit/types.js';
import { median, percentile } from './load.js';

/** A decision like the default pack's: one rules stage, hashed content. */
function record(i: number): DecisionRecord {
  return {
    v: 1,
    action: 'allow',
    api: 'chat.completions',
    content: { mode: 'hash', prompt: { sha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' } },
    decision_id: `dec_${i.toString(16).padStart(32, '0')}`,
    instance: 'bench',
    key_id: null,
    latency_ms: { generator: 2, input: 0.3, total: 2.5 },
    model: 'gpt-4o-mini',
    policy: { id: 'default', revision: 'a'.repeat(64) },
    route: '/v1/chat/completions',
    stages: {
      input: {
        action: 'allow',
        classifiers: [{ explanation: 'no match', id: 'hazards', latency_ms: 0.1, scores: { S1: 0 }, version: '1' }],
        latency_ms: 0.2,
        rules: [],
      },
    },
    status: 200,
    stream: false,
    tenant: null,
    time: new Date().toISOString(),
  } as DecisionRecord;
}

export interface SinkRound {
  mode: 'group' | 'fsync-per-record';
  rps: number;
  p50: number;
  p99: number;
}

async function round(
  log: PgChainLog,
  mode: SinkRound['mode'],
  seconds: number,
  concurrency: number,
): Promise<SinkRound> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = record(n++);
        const t = performance.now();
        await log.append(r);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { mode, rps: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Medians over `rounds` interleaved rounds of each mode. */
export async function sinkBench(databaseUrl: string, o: { seconds: number; rounds: number; concurrency: number }) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-pg-sink-'));
  const logs = {
    group: await PgChainLog.open({
      databaseUrl,
      chain: 'sink-group',
      keyFile: join(dir, 'key.pem'),
      onEvent: () => {},
    }),
    'fsync-per-record': await PgChainLog.open({
      databaseUrl,
      chain: 'sink-per-record',
      keyFile: join(dir, 'key.pem'),
      durability: 'fsync-per-record',
      onEvent: () => {},
    }),
  };
  const runs: SinkRound[] = [];
  try {
    for (let r = 0; r < o.rounds; r++)
      for (const mode of ['fsync-per-record', 'group'] as const)
        runs.push(await round(logs[mode], mode, o.seconds, o.concurrency));
  } finally {
    await Promise.all(Object.values(logs).map((l) => l.close()));
    await rm(dir, { recursive: true, force: true });
  }
  const of = (mode: SinkRound['mode']) => {
    const rs = runs.filter((x) => x.mode === mode);
    return {
      mode,
      rps: median(rs.map((x) => x.rps)),
      p50: median(rs.map((x) => x.p50)),
      p99: median(rs.map((x) => x.p99)),
    };
  };
  const group = of('group');
  const perRecord = of('fsync-per-record');
  return { group, perRecord, ratio: group.rps / perRecord.rps };
}
