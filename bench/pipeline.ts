/**
 * `npm run bench:pipeline`: the CPU the pipeline itself spends on one chat completion — input stage, output
 * stage, decision record, metrics and the chain log — without HTTP, so its figures move far less with a noisy
 * neighbour than the HTTP benches do. The generator is an in-memory one that answers at once (a bench harness,
 * not a product part), and requests run in-process at a fixed concurrency.
 *
 * Four variants of the default gateway run in interleaved rounds: everything on (chain log in `none`, so no
 * disk wait hides in the figure; metrics on), the log off (records built, then dropped), metrics off, and both
 * off. It prints microseconds per request (median round) and what the log and the metrics cost per request.
 *
 * Options: --requests N per round (default 4000), --rounds N (default 8), --concurrency N (default 32).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNumbers, parseCli, parseOrExit } from '../cli/args.js';
import type { ChatCompletion, Generator } from '../generator/types.js';
import { loadConfig } from '../gateway/config.js';
import { requestContext } from '../gateway/pipeline/context.js';
import { startGateway, type Gateway } from '../gateway/server.js';
import { createLogger } from '../gateway/http/logger.js';
import { fmt, median } from './load.js';

const USAGE = `usage: npm run bench:pipeline -- [options]

  The CPU the pipeline spends per chat completion, without HTTP.
  --requests N per round (default 4000), --rounds N (default 8), --concurrency N (default 32).
  exit codes: 0 done, 1 failed, 2 usage error`;

const { values } = parseOrExit({ name: 'bench:pipeline', usage: USAGE }, () => {
  const parsed = parseCli(process.argv.slice(2), {
    requests: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '32' },
  });
  checkNumbers(parsed.values, ['requests', 'rounds', 'concurrency']);
  return parsed;
});
const requests = Number(values.requests);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const answer: ChatCompletion = {
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'The capital of France is Paris.' }, finish_reason: 'stop' },
  ],
  usage: { prompt_tokens: 14, completion_tokens: 8, total_tokens: 22 },
};
/** Answers at once with a fresh copy (the pipeline may rewrite what it gets). */
const generator: Generator = {
  id: 'in-memory',
  complete: async () => structuredClone(answer),
  stream: async function* () {},
  close: () => Promise.resolve(),
};
const dropRecords = { append: async () => undefined, close: async () => undefined };

const dir = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
const open = (name: string, log: boolean) =>
  startGateway(
    loadConfig({
      env: {
        GATEWAY_PORT: '0',
        GATEWAY_UPSTREAM_URL: 'http://127.0.0.1:9/v1',
        GATEWAY_AUDIT_DIR: join(dir, name),
        GATEWAY_AUDIT_DURABILITY: 'none',
        GATEWAY_POLICY_WATCH: 'off',
      },
    }),
    { generator, logger: createLogger('error'), ...(log ? {} : { audit: dropRecords }) },
  );
const variants: Array<{ name: string; gw: Gateway }> = [
  { name: 'log and metrics on', gw: await open('on', true) },
  { name: 'log off', gw: await open('log-off', false) },
  { name: 'metrics off', gw: await open('metrics-off', true) },
  { name: 'log and metrics off', gw: await open('both-off', false) },
];
for (const v of variants.slice(2)) v.gw.pipeline.observer = undefined;

const signal = new AbortController().signal;
/** Microseconds of wall time per request, `concurrency` requests in flight; the loop is CPU-bound. */
async function round(gw: Gateway): Promise<number> {
  let left = requests;
  const worker = async () => {
    while (left-- > 0) {
      const ctx = requestContext();
      await gw.pipeline.complete(
        { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is the capital of France?' }] },
        ctx,
        signal,
      );
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ((performance.now() - t) * 1000) / requests;
}

const us = variants.map(() => [] as number[]);
try {
  for (const v of variants) await round(v.gw); // warm-up
  for (let r = 0; r < rounds; r++) for (const [i, v] of variants.entries()) us[i].push(await round(v.gw));
} finally {
  for (const v of variants) await v.gw.close();
  rmSync(dir, { recursive: true, force: true });
}
const [on, logOff, metricsOff, bothOff] = us.map(median);
console.log(
  `bench:pipeline — ${rounds} interleaved rounds of ${requests} requests at concurrency ${concurrency}, in-process; ` +
    `medians`,
);
for (const [i, v] of variants.entries())
  console.log(`${v.name.padEnd(22)} ${fmt(median(us[i]), 1).padStart(7)} us/request`);
console.log(
  `the chain log costs   ${fmt(on - logOff, 1).padStart(7)} us/request (${fmt((100 * (on - logOff)) / on, 0)}% of ` +
    `the full pipeline's time)`,
);
console.log(
  `the metrics cost      ${fmt(on - metricsOff, 1).padStart(7)} us/request ` +
    `(${fmt((100 * (on - metricsOff)) / on, 0)}%)`,
);
console.log(`pipeline alone        ${fmt(bothOff, 1).padStart(7)} us/request`);
