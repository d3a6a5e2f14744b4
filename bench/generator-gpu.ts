/**
 * `npm run bench:generator-gpu`: the tiny model (or `--model FILE`) loaded with the CUDA backend and with the CPU
 * backend in one run, tokens per second for each and their ratio. Each backend runs in its own child process, so
 * one that fails to load cannot take the other down. Without a usable CUDA GPU (no device, no driver, or the
 * prebuilt @node-llama-cpp/linux-x64-cuda binaries missing) it says so in one line and exits 1; nothing is built
 * or downloaded. The tiny model is too small to keep a GPU busy: its ratio shows the wiring and the launch
 * overhead, not what a real model gains (pass --model for that).
 *
 * Options: --model FILE (default: the tiny model, written to a temporary folder), --tokens N (default 256),
 * --rounds N (default 3), --threads N (CPU threads, default: the runtime's choice).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaChat, LlamaLogLevel, resolveChatWrapper } from 'node-llama-cpp';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { writeTinyModel } from '../generator/local/tiny-model.js';

const USAGE = `usage: npm run bench:generator-gpu -- [--model FILE] [--tokens N] [--rounds N] [--threads N]

  Tokens/s of a GGUF model with the CUDA backend against the CPU backend, in one run (the tiny model by default).
  exit codes: 0 done, 1 no usable CUDA backend or a failed run, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:generator-gpu', usage: USAGE }, () => {
  const parsed = parseCli(
    process.argv.slice(2),
    Object.fromEntries(
      ['model', 'tokens', 'rounds', 'threads', 'backend'].map((k) => [k, { type: 'string' as const }]),
    ),
  );
  checkNumbers(parsed.values, ['tokens', 'rounds', 'threads'], 1);
  return parsed;
});
const tokens = Number(values.tokens ?? 256);
const rounds = Number(values.rounds ?? 3);

interface BackendResult {
  backend: string;
  device?: string[];
  gpuLayers?: number;
  tps?: number;
  loadMs?: number;
  error?: string;
}

/** The child's work: load on one backend, generate `tokens` greedily `rounds` times, print one JSON line. */
async function runBackend(backend: 'cpu' | 'cuda', model: string): Promise<BackendResult> {
  const started = performance.now();
  try {
    const llama = await getLlama({
      gpu: backend === 'cpu' ? false : 'cuda',
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
    });
    const loaded = await llama.loadModel({ modelPath: model, gpuLayers: backend === 'cpu' ? 0 : 'max' });
    const context = await loaded.createContext({
      contextSize: Math.min(4096, tokens + 256),
      threads: values.threads ? Number(values.threads) : undefined,
    });
    const chat = new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: resolveChatWrapper(loaded) });
    const loadMs = performance.now() - started;
    const rates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let n = 0;
      const t = performance.now();
      await chat.generateResponse(
        [
          { type: 'user', text: `Round ${r}: tell me a long story about the sea.` },
          { type: 'model', response: [] },
        ],
        { maxTokens: tokens, temperature: 1, seed: r, onToken: (x) => (n += x.length) },
      );
      rates.push(n / ((performance.now() - t) / 1000));
    }
    rates.sort((a, b) => a - b);
    return {
      backend,
      device: await llama.getGpuDeviceNames(),
      gpuLayers: loaded.gpuLayers,
      tps: rates[Math.floor(rates.length / 2)],
      loadMs,
    };
  } catch (e) {
    return { backend, error: (e as Error)?.message ?? String(e) };
  }
}

if (values.backend === 'cpu' || values.backend === 'cuda') {
  process.stdout.write(JSON.stringify(await runBackend(values.backend, values.model as string)) + '\n');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'bench-gpu-'));
const model = values.model ?? join(dir, 'tiny.gguf');
if (!values.model) writeTinyModel(model);
const self = fileURLToPath(import.meta.url);
const passOn = ['--model', model, '--tokens', String(tokens), '--rounds', String(rounds)];
if (values.threads) passOn.push('--threads', values.threads);
const child = (backend: string): BackendResult => {
  const r = spawnSync(process.execPath, [self, ...passOn, '--backend', backend], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as BackendResult;
  } catch {
    const why = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    return { backend, error: `the ${backend} run died (${why}): ${r.stderr.trim().split('\n').at(-1) ?? ''}` };
  }
};
const cuda = child('cuda');
const cpu = child('cpu');
rmSync(dir, { recursive: true, force: true });

console.log(`bench:generator-gpu — ${values.model ?? 'tiny model'}, ${tokens} tokens x ${rounds} rounds (median)`);
for (const r of [cuda, cpu]) {
  if (r.error) console.log(`${r.backend.padEnd(5)} failed: ${r.error}`);
  else
    console.log(
      `${r.backend.padEnd(5)} ${r.tps?.toFixed(0).padStart(7)} tokens/s  load ${r.loadMs?.toFixed(0)} ms` +
        (r.backend === 'cuda' ? `  ${r.gpuLayers} layers on ${r.device?.join(', ') || 'an unnamed device'}` : ''),
    );
}
if (cuda.error || !cuda.tps) {
  console.log(
    'no usable CUDA backend here: this needs an NVIDIA GPU with its driver and the prebuilt ' +
      '@node-llama-cpp/linux-x64-cuda package (installed with node-llama-cpp on linux x64). Nothing was built or downloaded.',
  );
  process.exit(1);
}
if (cpu.tps) console.log(`cuda / cpu tokens/s: ${(cuda.tps / cpu.tps).toFixed(2)}`);
