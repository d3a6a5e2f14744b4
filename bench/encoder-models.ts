/**
 * `npm run bench:encoder-models`: the cost per text of the fine-tuned encoder (`classifiers/models/intent`, issue 22)
 * beside the npm-package encoder it was trained from, at each precision, in interleaved rounds in one process. The
 * two are the same graph (encoder/finetuned.ts rebuilds it with use-lite-graph.ts) with other weights, so the ratio
 * should be 1 within the noise.
 *   npm run bench:encoder-models -- [--model intent] [--seconds 2] [--rounds 3] [--concurrency 32]
 */
import { Encoder, type Precision } from '../classifiers/encoder/index.js';
import { ensureFineTunedModel } from '../classifiers/encoder/finetuned.js';
import { encoderWeightsPath, loadModel, modelDir } from '../classifiers/heads/model.js';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import { closedLoop, longText, prompt } from './classifier-compare.js';
import { median } from './load.js';

const USAGE = `usage: npm run bench:encoder-models -- [--model NAME] [--seconds N] [--rounds N] [--concurrency N]

  Texts per second of a fine-tuned model folder's encoder (default intent) beside the npm-package encoder, fp32 and
  int8, short and long texts, 1 and N callers; medians of interleaved rounds and the ratio fine-tuned ÷ package.
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:encoder-models', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    model: { type: 'string', default: 'intent' },
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
  });
  checkNumbers(parsed.values, ['seconds', 'rounds', 'concurrency']);
  return parsed;
});
const weights = encoderWeightsPath(loadModel(modelDir(values.model)));
if (!weights) {
  console.error(`bench:encoder-models: ${values.model} has no fine-tuned encoder (no encoderWeights in heads.json)`);
  process.exit(2);
}
const [seconds, rounds, callers] = [Number(values.seconds), Number(values.rounds), Number(values.concurrency)];
const fineTuned = await ensureFineTunedModel(weights);

const open = (precision: Precision, model?: typeof fineTuned) =>
  Encoder.create({ precision, model, cacheSize: 0, maxQueue: 100_000 });
const encoders: Array<{ name: string; precision: Precision; encoder: Encoder }> = [];
for (const precision of ['fp32', 'int8'] as const) {
  encoders.push({ name: `package ${precision}`, precision, encoder: await open(precision) });
  encoders.push({ name: `${values.model} ${precision}`, precision, encoder: await open(precision, fineTuned) });
}
const loads = [
  { name: 'short, 1 caller', n: 1, text: prompt },
  { name: `short, ${callers} callers`, n: callers, text: prompt },
  { name: 'long, 1 caller', n: 1, text: longText },
  { name: `long, ${callers} callers`, n: callers, text: longText },
];
const runs = loads.map(() => encoders.map(() => [] as number[]));
let offset = 0;
try {
  for (let r = 0; r < rounds; r++) {
    for (const [k, load] of loads.entries())
      for (const [j, e] of encoders.entries()) {
        const base = (offset += 1_000_000);
        const figure = await closedLoop((i) => e.encoder.embed([load.text(base + i)]), load.n, seconds);
        runs[k]?.[j]?.push(figure.per_s);
      }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
} finally {
  await Promise.all(encoders.map((e) => e.encoder.close()));
}
console.log(`texts/s, medians of ${rounds} interleaved rounds × ${seconds} s (each text new, no cache)`);
console.log(`${'load'.padEnd(20)} | ${encoders.map((e) => e.name.padEnd(14)).join(' | ')} | ratio fp32, int8`);
for (const [k, load] of loads.entries()) {
  const m = encoders.map((_, j) => median(runs[k]?.[j] ?? []));
  const ratio = (a: number, b: number) => ((m[b] ?? NaN) / (m[a] ?? NaN)).toFixed(2);
  console.log(
    `${load.name.padEnd(20)} | ${m.map((v) => v.toFixed(0).padEnd(14)).join(' | ')} | ${ratio(0, 1)}×, ${ratio(2, 3)}×`,
  );
}
