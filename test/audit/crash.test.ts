import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ChainLog } from '../../audit/chain-log.js';
import { assertAckedStored, quiet, tempDir } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/append-loop.js', import.meta.url));

/** Runs the append loop until it has acknowledged `acks` records, then SIGKILLs it; returns what it acked. */
async function crashAfter(dir: string, acks: number, durability: string): Promise<Set<string>> {
  const proc = spawn(process.execPath, [child], {
    env: { ...process.env, AUDIT_CRASH_DIR: dir, AUDIT_CRASH_DURABILITY: durability },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked = new Set<string>();
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.startsWith('ack ')) acked.add(l.slice(4));
    if (acked.size >= acks && proc.exitCode === null && !proc.killed) proc.kill('SIGKILL');
  });
  const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL', `child exited on its own with code ${code}`);
  return acked;
}

describe('crash safety', () => {
  // `none` is here too: a process crash (unlike a power cut) keeps what reached the page cache.
  for (const durability of ['group', 'fsync-per-record', 'none']) {
    it(
      `keeps every acknowledged record through SIGKILL under concurrent load, and restarts cleanly (${durability})`,
      { timeout: 60_000 },
      async (t) => {
        const dir = await tempDir(t);
        const acked = await crashAfter(dir, durability === 'fsync-per-record' ? 300 : 3000, durability);
        const log = await ChainLog.open({ ...quiet, dir });
        const restartedAt = log.startup.head.seq;
        await log.close();
        await assertAckedStored(dir, acked);
        assert.ok(restartedAt >= acked.size);
      },
    );
  }
});
