/** Shared fixtures for the audit tests: decision records, throwaway log directories, and file surgery. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainLog, type ChainLogOptions } from '../../audit/chain-log.js';
import { loadPublicKey } from '../../audit/keys.js';
import { listSegments } from '../../audit/segments.js';
import { verifyLog, type VerifyReport } from '../../audit/verify.js';
import type { DecisionRecord } from '../../audit/types.js';
import { readRecords } from '../../audit/reader.js';
import assert from 'node:assert/strict';

export function decision(i: number, over: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    v: 1,
    api: 'chat.completions',
    decision_id: `dec-${i}`,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    instance: 'test',
    key_id: 'k-1234',
    tenant: i % 2 ? 'acme' : 'globex',
    route: '/v1/chat/completions',
    model: 'gpt-test',
    stream: false,
    policy: { id: 'default', revision: i < 5 ? 'rev-a' : 'rev-b' },
    action: i % 3 === 0 ? 'refuse' : 'allow',
    status: 200,
    stages: {
      input: {
        action: i % 3 === 0 ? 'refuse' : 'allow',
        rules:
          i % 3 === 0
            ? [
                {
                  id: 'deny-violence',
                  action: 'refuse',
                  reason: 'violence 0.9 >= 0.8',
                  classifier: 'onnx',
                  label: 'violence',
                  score: 0.9,
                  threshold: 0.8,
                },
              ]
            : [],
        classifiers: [
          {
            id: 'onnx',
            version: '1.0.0',
            scores: { violence: i % 3 === 0 ? 0.9 : 0.1 },
            explanation: 'encoder head',
            latency_ms: 3,
            details: { tokens: 12 },
          },
        ],
        latency_ms: 4,
      },
    },
    latency_ms: { total: 20, input: 4 },
    content: { mode: 'full', prompt: `prompt ${i}` },
    ...over,
  };
}

/** A temporary directory removed by the returned cleanup. */
export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `n` decisions through a fresh log and closes it (which signs a final checkpoint). */
export async function writeLog(dir: string, n: number, opts: Partial<ChainLogOptions> = {}): Promise<void> {
  const log = await ChainLog.open({ dir, onEvent: () => {}, ...opts });
  await Promise.all(Array.from({ length: n }, (_, i) => log.append(decision(i + 1))));
  await log.close();
}

export async function verifyDir(dir: string): Promise<VerifyReport> {
  return verifyLog({ dir, publicKeys: [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))] });
}

/** The lines of the (only or given) segment, without the final empty string. */
export async function segmentLines(dir: string, index = 0): Promise<{ path: string; lines: string[] }> {
  const seg = (await listSegments(dir))[index];
  const text = await readFile(seg.path, 'utf8');
  return { path: seg.path, lines: text.split('\n').slice(0, -1) };
}

export async function writeLines(path: string, lines: string[]): Promise<void> {
  await writeFile(path, lines.map((l) => `${l}\n`).join(''));
}

/** Spread first into ChainLog options to keep test output free of the default stderr events. */
export const quiet = { onEvent: () => {} };

/** After a crash: the log verifies and every acknowledged decision id has its record. */
export async function assertAckedStored(dir: string, acked: Set<string>): Promise<void> {
  const report = await verifyDir(dir);
  assert.equal(report.ok, true, JSON.stringify(report.problems.slice(0, 3)));
  const stored = new Set<string>();
  for await (const r of readRecords(dir)) if (r.kind === 'decision') stored.add(r.decision_id);
  const lost = [...acked].filter((id) => !stored.has(id));
  assert.deepEqual(lost, [], `${lost.length} of ${acked.size} acknowledged records missing`);
}
