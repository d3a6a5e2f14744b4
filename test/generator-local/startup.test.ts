import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../gateway/config.js';
import { LocalGenerator } from '../../generator/local/local-generator.js';
import { LocalModelError } from '../../generator/local/runtime.js';
import { tinyModel, tinySettings } from './tiny.js';

const MAIN = fileURLToPath(new URL('../../gateway/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gw-local-bad-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Opening the model fails with a LocalModelError that names the path and says why. */
async function failsToOpen(path: string, why: RegExp): Promise<void> {
  await assert.rejects(LocalGenerator.open(tinySettings(path)), (e: unknown) => {
    assert.ok(e instanceof LocalModelError, `expected a LocalModelError, got ${e}`);
    assert.ok(e.message.includes(path), e.message);
    assert.match(e.message, why);
    return true;
  });
}

/** Runs `npm start`'s entry point with these variables until it exits. */
function startGateway(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { ...process.env, GATEWAY_PORT: '0', GATEWAY_POLICY_WATCH: 'off', GATEWAY_PID_FILE: 'off', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('local model start-up errors', () => {
  it('names a missing file', async () => {
    await failsToOpen(join(dir, 'absent.gguf'), /file not found/);
  });

  it('names a file that is not GGUF', async () => {
    const path = join(dir, 'not-gguf.gguf');
    writeFileSync(path, 'PK\u0003\u0004 this is a zip, not a model');
    await failsToOpen(path, /not a GGUF file/);
  });

  it('names a GGUF file cut short (a corrupt download)', async () => {
    const whole = readFileSync(tinyModel());
    const path = join(dir, 'truncated.gguf');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 3)));
    await failsToOpen(path, /cannot load/);
  });

  it('stops npm start with the path and the reason, exit code 1', async () => {
    const path = join(dir, 'missing.gguf');
    const { code, stderr } = await startGateway({
      GATEWAY_GENERATOR: 'local',
      GATEWAY_LOCAL_MODEL: path,
      GATEWAY_AUDIT_DIR: join(dir, 'audit'),
    });
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`local model ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file not found`));
  });

  it('refuses a local generator without a model file, naming the variable', () => {
    assert.throws(
      () => loadConfig({ env: { GATEWAY_GENERATOR: 'local' } }),
      (e: unknown) =>
        e instanceof ConfigError && /generator\.model/.test(e.message) && /GATEWAY_LOCAL_MODEL/.test(e.message),
    );
    assert.throws(
      () =>
        loadConfig({ env: { GATEWAY_GENERATOR: 'local', GATEWAY_LOCAL_MODEL: 'm.gguf', GATEWAY_LOCAL_GPU: 'tpu' } }),
      (e: unknown) => e instanceof ConfigError && /generator\.gpu \(from GATEWAY_LOCAL_GPU\)/.test(e.message),
    );
  });

  it('reads the config-file form and the environment the same way', () => {
    const file = join(dir, 'gateway.json');
    writeFileSync(
      file,
      JSON.stringify({ generator: { type: 'local', model: '/m/qwen.gguf', sequences: 2, gpuLayers: 'max' } }),
    );
    const fromFile = loadConfig({ file }).generator;
    const fromEnv = loadConfig({
      env: {
        GATEWAY_GENERATOR: 'local',
        GATEWAY_LOCAL_MODEL: '/m/qwen.gguf',
        GATEWAY_LOCAL_SEQUENCES: '2',
        GATEWAY_LOCAL_GPU_LAYERS: 'max',
      },
    }).generator;
    assert.deepEqual(fromFile, fromEnv);
    assert.equal(fromFile.sequences, 2);
    assert.equal(fromFile.gpuLayers, 'max');
    assert.equal(loadConfig({ env: { GATEWAY_LOCAL_GPU_LAYERS: '12' } }).generator.gpuLayers, 12);
  });
});
