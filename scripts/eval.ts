/**
 * The evaluation harness: runs labelled JSON Lines records through the same policy engine and policy the
 * gateway runs and reports precision, recall, F1, over-refusal, AUPRC, ROC-AUC, latency and throughput.
 *
 *   npm run eval -- --data <file.jsonl> [--data …] [--policy <path>] [--out report.json] [--limit N]
 *                   [--concurrency N] [--score classifier.label] [--rubric-classifier <id>] [--pipeline]
 *                   [--skip-bad] [--items] [--quiet]
 *
 * Exit codes: 0 done, 1 the run failed (bad data, a policy that does not load), 2 bad arguments.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runEval } from './eval/harness.js';
import { formatReport } from './eval/table.js';

const USAGE =
  'usage: npm run eval -- --data <file.jsonl> [--data …] [--policy <path>] [--out report.json] [--limit N] [--concurrency N] [--score classifier.label] [--rubric-classifier <id>] [--pipeline] [--skip-bad] [--items] [--quiet]';

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

async function main(): Promise<number> {
  let values;
  let limit: number | undefined;
  let concurrency: number | undefined;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string', multiple: true, default: [] },
        policy: { type: 'string' },
        out: { type: 'string' },
        limit: { type: 'string' },
        concurrency: { type: 'string' },
        score: { type: 'string' },
        'rubric-classifier': { type: 'string' },
        pipeline: { type: 'boolean', default: false },
        'skip-bad': { type: 'boolean', default: false },
        items: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (values.data.length === 0) throw new Error('give at least one --data file');
    limit = positive('limit', values.limit);
    concurrency = positive('concurrency', values.concurrency);
  } catch (e) {
    console.error(`eval: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const report = await runEval({
      data: values.data,
      policy: values.policy,
      limit,
      concurrency,
      score: values.score,
      rubricClassifier: values['rubric-classifier'],
      pipeline: values.pipeline,
      skipBad: values['skip-bad'],
      items: values.items,
      progress: values.quiet ? undefined : (line) => console.error(line),
    });
    process.stdout.write(formatReport(report));
    if (values.out) {
      writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
      if (!values.quiet) console.error(`eval: wrote ${values.out}`);
    }
    return 0;
  } catch (e) {
    console.error(`eval: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
