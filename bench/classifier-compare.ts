/**
 * The learned path's two speed-ups side by side, for `npm run bench:classifier`:
 *  - precision: fp32 against int8 (classifiers/encoder/quantize.ts), texts per second, one caller and
 *    micro-batched under `concurrency` callers;
 *  - sharing: the ML pack's encoder work per chat request (policies/ml: the heads read the prompt's windows at the
 *    input stage, then the grader embeds the answer and the prompt), every request a new prompt and answer.
 *    "unshared" is an encoder without its cache (cacheSize 0), so each classifier encodes what it reads, as before
 *    embeddings were keyed by token ids: 3 encodes per request. "shared" is the default: 2.
 * int8 is the served scheme (activations quantized per row, batched like fp32); "int8 solo" is the scheme before it
 * (onnxruntime's per-tensor activations, each text run alone since its scores moved with batch mates), rebuilt
 * here from quantize.ts's `per-tensor` option for the comparison.
 * Every configuration is its own Encoder (its own worker), run one at a time in interleaved rounds; figures are the
 * median round, ratios are against fp32 (unshared, for requests).
 */
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../classifiers/encoder/build.js';
import { quantizeMatMulWeights } from '../classifiers/encoder/quantize.js';
import { Encoder, ensureEncoderModel } from '../classifiers/encoder/index.js';
import type { Precision } from '../classifiers/encoder/precision.js';
import { median, percentile } from './load.js';

interface Figure {
  per_s: number;
  p50_ms: number;
}

/** Closed loop: `callers` callers each run `call(i)` with a fresh counter value, for `seconds`. */
export async function closedLoop(
  call: (i: number) => Promise<unknown>,
  callers: number,
  seconds: number,
): Promise<Figure> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await call(next++);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { per_s: latencies.length / ((performance.now() - started) / 1000), p50_ms: percentile(latencies, 50) };
}

const SUBJECTS = ['my landlord', 'the museum', 'a chess club', 'our bakery', 'the city council', 'a hiking group'];
const ASKS = ['write a polite email to', 'plan a weekend budget for', 'summarise the rules of', 'explain taxes to'];
/** A prompt no earlier request used (the counter makes it unique) and an answer of its own. */
export const prompt = (i: number) =>
  `Please ${ASKS[i % 4]} ${SUBJECTS[i % 6]}, request number ${i}, in three sentences.`;
const answer = (i: number) => `Sure. Here is a short plan for request ${i}: start early, keep notes, and ask for help.`;
/** ~200-token texts (the model reads 128), unique per counter value. */
export const longText = (i: number) => Array.from({ length: 8 }, (_, k) => prompt(i * 8 + k)).join(' ');

/** The ML pack's encoder calls for one request: input stage, then output stage. */
async function mlRequest(encoder: Encoder, i: number): Promise<void> {
  const p = prompt(i);
  await encoder.embedChunks(p, { maxChunks: 4 });
  await encoder.embed([answer(i), p]);
}

export interface CompareOptions {
  seconds: number;
  rounds: number;
  concurrency: number;
  intraOpThreads?: number;
  /** The encoders' batching wait; default the encoder's. */
  maxWaitMs?: number;
}

/**
 * Runs the comparison and returns the lines to print.
 * @example
 * for (const line of await compareEncoders({ seconds: 2, rounds: 3, concurrency: 32 })) console.log(line);
 */
export async function compareEncoders({ seconds, rounds, concurrency, intraOpThreads, maxWaitMs }: CompareOptions) {
  const open = (precision: Precision, cacheSize: number) =>
    Encoder.create({ precision, cacheSize, maxQueue: 100_000, intraOpThreads, maxWaitMs });
  const solo = await soloEncoder(intraOpThreads);
  const configs = [
    { name: 'fp32, unshared', precision: 'fp32', encoder: await open('fp32', 0) },
    { name: 'fp32, shared', precision: 'fp32', encoder: await open('fp32', 10_000) },
    { name: 'int8 solo, shared', precision: 'solo', encoder: await solo(10_000) },
    { name: 'int8, unshared', precision: 'int8', encoder: await open('int8', 0) },
    { name: 'int8, shared', precision: 'int8', encoder: await open('int8', 10_000) },
  ] as const;
  // Offsets keep every round's texts new to every encoder (no cache hit across rounds).
  let offset = 0;
  const fresh = () => (offset += 1_000_000);
  const texts = [
    { name: 'short texts, 1 caller', callers: 1, text: prompt },
    { name: `short texts, ${concurrency} callers`, callers: concurrency, text: prompt },
    { name: 'long texts, 1 caller', callers: 1, text: longText },
    { name: `long texts, ${concurrency} callers`, callers: concurrency, text: longText },
  ];
  const requests = [
    { name: 'ML-pack requests, 1 caller', callers: 1 },
    { name: `ML-pack requests, ${concurrency} callers`, callers: concurrency },
  ];
  const textRuns = texts.map(() => ({ fp32: [] as Figure[], solo: [] as Figure[], int8: [] as Figure[] }));
  const requestRuns = requests.map(() => configs.map(() => [] as Figure[]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [k, t] of texts.entries())
        for (const c of [configs[0], configs[2], configs[4]]) {
          const base = fresh();
          textRuns[k]?.[c.precision].push(
            await closedLoop((i) => c.encoder.embed([t.text(base + i)]), t.callers, seconds),
          );
        }
      for (const [k, q] of requests.entries())
        for (const [j, c] of configs.entries()) {
          const base = fresh();
          requestRuns[k]?.[j]?.push(await closedLoop((i) => mlRequest(c.encoder, base + i), q.callers, seconds));
        }
      process.stderr.write(`comparison round ${r + 1}/${rounds} done\n`);
    }
  } finally {
    await Promise.all(configs.map((c) => c.encoder.close()));
  }
  const med = (fs: Figure[]): Figure => ({
    per_s: median(fs.map((f) => f.per_s)),
    p50_ms: median(fs.map((f) => f.p50_ms)),
  });
  const cell = (f: Figure) => `${f.per_s.toFixed(0)}/s p50 ${f.p50_ms.toFixed(1)} ms`;
  const lines = [
    '',
    `fp32 vs int8 and shared vs unshared encodes: ${rounds} interleaved rounds × ${seconds} s, medians; ratios vs fp32; ` +
      `batching wait ${maxWaitMs ?? 'the encoder default'} ms`,
    `${'texts (each new)'.padEnd(36)} | ${'fp32'.padEnd(22)} | ${'int8 solo'.padEnd(22)} | ${'int8'.padEnd(22)} | ` +
      'int8 ÷ fp32, ÷ int8 solo',
  ];
  texts.forEach((t, k) => {
    const [f, o, q] = [med(textRuns[k]?.fp32 ?? []), med(textRuns[k]?.solo ?? []), med(textRuns[k]?.int8 ?? [])];
    lines.push(
      `${t.name.padEnd(36)} | ${cell(f).padEnd(22)} | ${cell(o).padEnd(22)} | ${cell(q).padEnd(22)} | ` +
        `${(q.per_s / f.per_s).toFixed(2)}×, ${(q.per_s / o.per_s).toFixed(2)}×`,
    );
  });
  lines.push(
    '',
    `${'requests/s (prompt windows; answer + prompt)'.padEnd(46)} | ${configs.map((c) => c.name.padEnd(24)).join(' | ')}`,
  );
  requests.forEach((q, k) => {
    const figs = configs.map((_, j) => med(requestRuns[k]?.[j] ?? []));
    const base = figs[0]?.per_s ?? NaN;
    lines.push(
      `${q.name.padEnd(46)} | ${figs.map((f) => `${cell(f)} ${(f.per_s / base).toFixed(2)}×`.padEnd(24)).join(' | ')}`,
    );
  });
  return lines;
}

/**
 * The int8 encoder as it was served before per-row quantization: onnxruntime's per-tensor activations (quantize.ts
 * `per-tensor`), each text alone (`maxBatchSize` 1). The file is written once beside the float model; the encoder
 * loads it as a given model (precision `fp32` means "serve the file as it is").
 */
async function soloEncoder(intraOpThreads: number | undefined) {
  const artifact = await ensureEncoderModel();
  const modelPath = artifact.modelPath.replace(/\.onnx$/, '-int8-per-tensor-bench.onnx');
  if (
    !(await stat(modelPath).then(
      (s) => s.size > 0,
      () => false,
    ))
  )
    await writeFileAtomic(
      modelPath,
      quantizeMatMulWeights(await readFile(artifact.modelPath), { activations: 'per-tensor' }).bytes,
    );
  return (cacheSize: number) =>
    Encoder.create({
      model: { ...artifact, modelPath },
      precision: 'fp32',
      maxBatchSize: 1,
      cacheSize,
      maxQueue: 100_000,
      intraOpThreads,
    });
}
