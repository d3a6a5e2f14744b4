import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ChainLog } from '../../audit/chain-log.js';
import { auth, chat } from '../support/harness.js';
import { assertAckedStored, quiet, tempDir } from './helpers.js';

const child = fileURLToPath(new URL('./fixtures/gateway-child.js', import.meta.url));

describe('gateway crash safety', () => {
  it(
    'keeps the record of every request the client saw answered when the gateway is SIGKILLed under load',
    { timeout: 120_000 },
    async (t) => {
      const dir = await tempDir(t);
      const proc = spawn(process.execPath, [child], {
        env: { ...process.env, AUDIT_GW_DIR: dir },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      t.after(() => {
        if (proc.exitCode === null) proc.kill('SIGKILL');
      });
      const lines = createInterface({ input: proc.stdout });
      const exited = once(proc, 'exit');
      const first = await Promise.race([
        once(lines, 'line').then(([line]) => line as string),
        exited.then(([code]) => {
          throw new Error(`the gateway child exited (code ${code}) before listening`);
        }),
      ]);
      const url = first.replace(/^url /, '');
      for (let i = 0; i < 600; i++) {
        const ok = await fetch(`${url}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        await sleep(100);
      }

      const acked = new Set<string>();
      let stop = false;
      const client = async (c: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          try {
            const res = await fetch(`${url}/v1/chat/completions`, {
              method: 'POST',
              headers: { ...auth, 'content-type': 'application/json' },
              body: JSON.stringify(chat(`hello from client ${c}, request ${i}`)),
            });
            await res.arrayBuffer();
            const id = res.headers.get('x-gateway-decision-id');
            if (res.status === 200 && id) acked.add(id);
            if (acked.size >= 400 && !stop) {
              stop = true;
              proc.kill('SIGKILL');
            }
          } catch {
            return; // the gateway is gone
          }
        }
      };
      await Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
      const [, signal] = (await exited) as [number | null, string | null];
      assert.equal(signal, 'SIGKILL');
      assert.ok(acked.size >= 400, `only ${acked.size} requests were answered before the gateway died`);

      const log = await ChainLog.open({ ...quiet, dir });
      await log.close();
      await assertAckedStored(dir, acked);
    },
  );
});
