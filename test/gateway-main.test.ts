import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The compiled entry point `npm start` runs (this file runs from dist/test/). */
const MAIN = fileURLToPath(new URL('../gateway/main.js', import.meta.url));

describe('npm start (gateway/main.js)', () => {
  it('writes its pid to the pid file, reloads on SIGHUP sent to that pid, and removes the file on SIGTERM', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-main-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'run', 'gateway.pid');
    const proc = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        GATEWAY_PORT: '0',
        GATEWAY_AUDIT_DIR: join(dir, 'audit'),
        GATEWAY_POLICY_WATCH: 'off',
        GATEWAY_PID_FILE: pidFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    });
    const exited = new Promise<string>((resolve) =>
      proc.once('exit', (code, signal) => resolve(String(code ?? signal))),
    );
    const messages: { message: string; trigger?: string }[] = [];
    const waiters: { test: (m: { message: string; trigger?: string }) => boolean; resolve: () => void }[] = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { message: string; trigger?: string };
      messages.push(m);
      for (const w of waiters.filter((w) => w.test(m))) w.resolve();
    });
    const logged = (test: (m: { message: string; trigger?: string }) => boolean) =>
      messages.some(test)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiters.push({ test, resolve })),
            exited.then((how) => Promise.reject(new Error(`the gateway exited (${how})`))),
          ]);

    await logged((m) => m.message.startsWith('pid file written'));
    const first = messages.map((m) => m.message);
    assert.ok(
      first.indexOf('loading the policy and its classifiers') < first.indexOf('ready'),
      `start-up says what it loads before it is ready: ${first.join(' | ')}`,
    );
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(proc.pid));

    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGHUP');
    await logged((m) => m.message === 'policy reloaded' && m.trigger === 'SIGHUP');

    proc.kill('SIGTERM');
    assert.equal(await exited, '0');
    assert.equal(existsSync(pidFile), false, 'a clean exit removes the pid file');
  });
});
