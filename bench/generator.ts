/**
 * `npm run bench:generator`: the local generator on the tiny random-weight model (CPU), tokens per second and time
 * to first token at 1 and 4 concurrent sequences, three ways in one run:
 *   runtime  — node-llama-cpp called directly (LlamaChat on its own context), the baseline;
 *   adapter  — LocalGenerator.stream() called directly (the Generator contract, no HTTP);
 *   http     — a bare node:http server (bench/servers/bare-sse.ts, its own process) streaming the runtime's tokens
 *              as chat completion chunks with no moderation: the floor any HTTP gateway pays (HTTP + SSE + the
 *              client's parsing on the same cores);
 *   gateway  — streamed chat completions over loopback HTTP to the gateway as `npm start` runs it, in its own
 *              process with GATEWAY_GENERATOR=local (default policy, records on); the client is this process.
 * Rounds interleave the three, so drift on a shared machine hits each alike; medians over rounds are printed with
 * the gateway's tokens/s as a ratio of the runtime's (goal: at least 0.95), and of the bare HTTP server's (the
 * gateway's own overhead, HTTP and SSE set aside). The tiny model generates far faster
 * than a real one, so the gateway's per-token cost weighs more here than it would in use.
 *
 * Each round runs, per level and per target, one batch of `level` × --batches requests (`level` at a time);
 * figures are medians over rounds. GATEWAY_* variables in the environment reach the gateway's configuration (e.g.
 * GATEWAY_AUDIT_DURABILITY=none to see what the records' fsync costs).
 *
 * BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes on the gateways' node command line.
 * Options: --before MAIN_JS (a second gateway from another build, e.g. a copy of an older dist/gateway/main.js,
 * measured in the same interleaved rounds as target `before`), --model FILE (a real GGUF instead of the tiny model), --targets LIST (default runtime,adapter,http,gateway), --rounds N (default 20), --batches N (default 1), --max-tokens N (default 128), --threads N (default 1:
 * on a shared machine more threads spin against each other).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LlamaChat, type ChatHistoryItem } from 'node-llama-cpp';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { GeneratorConfigSchema } from '../generator/local/config.js';
import { LocalGenerator } from '../generator/local/local-generator.js';
import { writeTinyModel } from '../generator/local/tiny-model.js';
import type { ChatRequest } from '../generator/types.js';
import { sseChat } from '../test/support/sse-client.js';
import { cpuMs, median, startProcess, stopProcesses, RULES_ONLY_POLICY } from './load.js';

const USAGE = `usage: npm run bench:generator -- [--rounds N] [--batches N] [--max-tokens N] [--threads N] [--targets LIST] [--model FILE]

  Tokens/s and TTFT of the local generator (tiny model, CPU) at 1 and 4 concurrent sequences: node-llama-cpp
  directly, the LocalGenerator directly, and through the gateway over HTTP; prints gateway/runtime ratios.`;

const { values } = parseOrExit({ name: 'bench:generator', usage: USAGE }, () => {
  const parsed = parseCli(
    process.argv.slice(2),
    Object.fromEntries(
      ['rounds', 'batches', 'max-tokens', 'threads', 'targets', 'model', 'before'].map((k) => [
        k,
        { type: 'string' as const },
      ]),
    ),
  );
  checkNumbers(parsed.values, ['rounds', 'batches', 'max-tokens', 'threads'], 1);
  return parsed;
});
const rounds = Number(values.rounds ?? 20);
const batches = Number(values.batches ?? 1);
const maxTokens = Number(values['max-tokens'] ?? 128);
const threads = Number(values.threads ?? 1);
const LEVELS = [1, 4];

/** One generation as a client sees it: tokens received, ms to the first text, ms in all. */
interface Sample {
  tokens: number;
  ttft: number;
  /** ms from the first text to the last: the decode phase, without the request's fixed costs at either end. */
  decode: number;
}
type Target = (request: ChatRequest, seed: number) => Promise<Sample>;

const request = (seed: number): ChatRequest => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'Tell me a long story about the sea and the ships on it.' }],
  temperature: 1,
  seed,
  max_tokens: maxTokens,
  stream: true,
  stream_options: { include_usage: true },
});

const dir = mkdtempSync(join(tmpdir(), 'bench-generator-'));
const model = values.model ?? join(dir, 'tiny.gguf');
if (!values.model) writeTinyModel(model);
const settings = {
  ...GeneratorConfigSchema.parse({}),
  model,
  gpu: 'cpu' as const,
  threads,
  contextSize: 1024,
  sequences: Math.max(...LEVELS),
};
const gen = await LocalGenerator.open(settings);

// The baseline: its own context on the same model, one LlamaChat per sequence, the same sampling.
const context = await gen.runtime.model.createContext({
  contextSize: settings.contextSize,
  sequences: settings.sequences,
  threads,
});
const chats = Array.from(
  { length: settings.sequences },
  () => new LlamaChat({ contextSequence: context.getSequence(), chatWrapper: gen.runtime.chatWrapper }),
);
const runtime: Target = async (req, seed) => {
  const chat = chats.pop() as LlamaChat;
  const started = performance.now();
  let ttft = 0;
  let last = 0;
  let tokens = 0;
  const history: ChatHistoryItem[] = [
    { type: 'user', text: (req.messages[0]?.content as string) ?? '' },
    { type: 'model', response: [] },
  ];
  try {
    await chat.generateResponse(history, {
      maxTokens,
      temperature: 1,
      topP: settings.topP,
      seed,
      onTextChunk: () => {
        last = performance.now() - started;
        ttft ||= last;
      },
      onToken: (t) => (tokens += t.length),
    });
  } finally {
    chats.push(chat);
  }
  return { tokens, ttft, decode: last - ttft };
};

const never = new AbortController().signal;
const adapter: Target = async (req) => {
  const started = performance.now();
  let ttft = 0;
  let last = 0;
  let tokens = 0;
  for await (const c of gen.stream(req, never)) {
    if (c.choices[0]?.delta.content) {
      last = performance.now() - started;
      ttft ||= last;
    }
    if (c.usage) tokens = Number((c.usage as { completion_tokens?: number }).completion_tokens);
  }
  return { tokens, ttft, decode: last - ttft };
};

// The gateway as `npm start` runs it: its own process, the model loaded in it, the client (this process) outside.
const PORT = 18391;
const startGateway = (main: string, port: number, audit: string) =>
  startProcess(
    [...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), main],
    {
      GATEWAY_POLICY_WATCH: 'off',
      GATEWAY_POLICY: RULES_ONLY_POLICY,
      GATEWAY_LOG_LEVEL: 'warn',
      ...(process.env as Record<string, string>),
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_AUTH: 'off',
      GATEWAY_PID_FILE: 'off',
      GATEWAY_AUDIT_DIR: join(dir, audit),
      GATEWAY_GENERATOR: 'local',
      GATEWAY_LOCAL_MODEL: model,
      GATEWAY_LOCAL_GPU: 'cpu',
      GATEWAY_LOCAL_THREADS: String(threads),
      GATEWAY_LOCAL_CONTEXT_SIZE: String(settings.contextSize),
      GATEWAY_LOCAL_SEQUENCES: String(settings.sequences),
    },
    `http://127.0.0.1:${port}/readyz`,
  );
const gatewayProcess = await startGateway(join(import.meta.dirname, '../gateway/main.js'), PORT, 'audit');
// --before: a second gateway from another build (an older dist/gateway/main.js), measured in the same rounds.
const beforeProcess = values.before ? await startGateway(values.before, PORT + 1, 'audit-before') : undefined;
const gw = { url: `http://127.0.0.1:${PORT}` };
const bareProcess = await startProcess(
  [
    join(import.meta.dirname, 'servers/bare-sse.js'),
    model,
    String(threads),
    String(settings.contextSize),
    String(settings.sequences),
  ],
  {},
);
/** A streamed chat completion over HTTP, timed as the client sees it. */
const overHttp =
  (url: string): Target =>
  async (req) =>
    sseSample(await sseChat(url, req), url);
const gateway = overHttp(`${gw.url}/v1/chat/completions`);
const before = overHttp(`http://127.0.0.1:${PORT + 1}/v1/chat/completions`);
const http = overHttp(`http://127.0.0.1:${bareProcess.port}/v1/chat/completions`);
function sseSample(r: Awaited<ReturnType<typeof sseChat>>, url: string): Sample {
  if (r.status !== 200) throw new Error(`${url} answered ${r.status}`);
  let ttft = 0;
  let last = 0;
  let tokens = 0;
  for (const e of r.events) {
    if (e.data === '[DONE]') continue;
    if (e.data.choices?.[0]?.delta?.content) {
      last = e.at - r.started;
      ttft ||= last;
    }
    if (e.data.usage) tokens = e.data.usage.completion_tokens;
  }
  return { tokens, ttft, decode: last - ttft };
}

interface Measured {
  /** Tokens/s over the wall time, request overheads included. */
  tps: number;
  /** CPU ms of the process doing the work (all its threads) and the tokens: robust to a busy machine, unlike time. */
  cpu: number;
  tokens: number;
  ttft: number;
  /** Tokens/s while decoding (first text to last), per stream × streams at once. */
  decode: number;
}

/** `level` × `batches` generations, `level` at a time: tokens/s over the wall time, and the median TTFT. */
async function measure(target: Target, level: number): Promise<Measured> {
  const samples: Sample[] = [];
  // The gateway's work happens in its process; the others' in this one (where the gateway's client also runs).
  const pid =
    new Map<Target, number | undefined>([
      [gateway, gatewayProcess.child.pid],
      [before, beforeProcess?.child.pid],
      [http, bareProcess.child.pid],
    ]).get(target) ?? process.pid;
  const cpuBefore = cpuMs(pid);
  const requests = level * batches;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: level }, async () => {
      while (next < requests) {
        const seed = 1000 + next++;
        samples.push(await target(request(seed), seed));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const tokens = samples.reduce((n, s) => n + s.tokens, 0);
  // Per stream: tokens after the first over the decode time; summed over the `level` streams running together.
  const decode = median(samples.map((s) => (s.tokens - 1) / (s.decode / 1000))) as number;
  return {
    tps: tokens / seconds,
    cpu: cpuMs(pid) - cpuBefore,
    tokens,
    ttft: median(samples.map((s) => s.ttft)) as number,
    decode: decode * level,
  };
}

const all = { runtime, adapter, http, gateway, before } as const;
type Name = keyof typeof all;
const chosen = (values.targets ?? `runtime,adapter,http,gateway${values.before ? ',before' : ''}`).split(',') as Name[];
const unknown = chosen.filter((t) => !(t in all) || (t === 'before' && !beforeProcess));
if (unknown.length)
  throw new Error(`--targets: unknown ${unknown.join(', ')} (runtime, adapter, http, gateway, before)`);
const targets = Object.fromEntries(chosen.map((t) => [t, all[t]])) as Partial<typeof all>;
type Series = { tps: number[]; ttft: number[]; decode: number[]; cpu: number[]; tokens: number[] };
const results: Record<string, Series> = {};
for (const target of Object.keys(targets) as Name[]) await measure(all[target], 1); // warm-up, not reported
for (let round = 0; round < rounds; round++) {
  for (const level of LEVELS) {
    const order = (Object.keys(targets) as Name[]).sort(() => (round % 2 ? -1 : 1)); // alternate the order
    for (const target of order) {
      const r = await measure(all[target], level);
      const key = `${target}@${level}`;
      results[key] ??= { tps: [], ttft: [], decode: [], cpu: [], tokens: [] };
      results[key].tps.push(r.tps);
      results[key].ttft.push(r.ttft);
      results[key].decode.push(r.decode);
      results[key].cpu.push(r.cpu);
      results[key].tokens.push(r.tokens);
    }
  }
}

console.log(
  `bench:generator — ${values.model ?? 'tiny model'} (${gen.runtime.backend}, ${threads} thread${threads > 1 ? 's' : ''}), ` +
    `${batches} x level requests of ${maxTokens} max tokens per target per round, ${rounds} rounds, ` +
    `load average ${loadavg()[0]?.toFixed(1)}`,
);
console.log(
  'target    conc  tokens/s  ratio   decode tokens/s  ratio   TTFT p50 ms  CPU ms/token  ratio   tok/s vs http  CPU vs http',
);
/** The median of per-round ratios to the runtime: rounds run back to back, so drift cancels within one. */
const ratio = (xs: number[], base: number[] | undefined) =>
  base ? (median(xs.map((x, i) => x / (base[i] as number))) as number) : NaN;
/** CPU per token over every round: the counters tick every 10 ms, too coarse for one round. */
const cpuPerToken = (r: Series) => sum(r.cpu) / sum(r.tokens);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
for (const level of LEVELS) {
  const base = results[`runtime@${level}`];
  const floor = results[`http@${level}`];
  for (const target of Object.keys(targets)) {
    const r = results[`${target}@${level}`] as Series;
    console.log(
      [
        target.padEnd(9),
        String(level).padStart(4),
        (median(r.tps) as number).toFixed(0).padStart(9),
        ratio(r.tps, base?.tps).toFixed(3).padStart(6),
        (median(r.decode) as number).toFixed(0).padStart(16),
        ratio(r.decode, base?.decode).toFixed(3).padStart(6),
        (median(r.ttft) as number).toFixed(1).padStart(13),
        cpuPerToken(r).toFixed(3).padStart(13),
        (base ? cpuPerToken(base) / cpuPerToken(r) : NaN).toFixed(3).padStart(6),
        ratio(r.tps, floor?.tps).toFixed(3).padStart(15),
        (floor ? cpuPerToken(floor) / cpuPerToken(r) : NaN).toFixed(3).padStart(12),
      ].join(' '),
    );
  }
}
console.log(
  'tokens/s: all tokens over the wall time (TTFT, final check and record included); decode: from first text to ' +
    'last; CPU: the working process (all threads) per token, its ratio as runtime/target (below 1: the target costs more)',
);
console.log(
  "vs http: the same ratios against the bare HTTP SSE server (no moderation), i.e. the gateway's own cost with " +
    'HTTP, SSE and the client set aside',
);
console.log('goal: the gateway at least 0.95 of the runtime at each level');

await stopProcesses([gatewayProcess, bareProcess, ...(beforeProcess ? [beforeProcess] : [])]);
await gen.close();
await context.dispose();
rmSync(dir, { recursive: true, force: true });
