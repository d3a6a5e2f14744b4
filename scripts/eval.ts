/**
 * The evaluation harness: runs labelled JSON Lines records through the same policy engine and policy the
 * gateway runs and reports precision, recall, F1, over-refusal, AUPRC, ROC-AUC, latency and throughput.
 *
 *   npm run eval -- --data <file.jsonl> [--data …] [--policy <path>] [--out report.json] [--limit N]
 *                   [--concurrency N] [--score classifier.label] [--rubric-classifier <id>] [--pipeline]
 *                   [--skip-bad] [--items] [--quiet]
 *
 *   npm run eval -- --levels [--data-dir ../shared/data] [--policy policies/default] [--split val|test]
 *                   [--out levels.json]
 *
 * Exit codes: 0 done, 1 the run failed (bad data, a policy that does not validate), 2 bad arguments or a file
 * that cannot be read.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorKind, intOption, parseCli, runCli, UsageError } from '../cli/args.js';
import { DEFAULT_POLICY_PATH } from '../policies/load.js';
import { answersTable, levelsTable } from './calibrate/table.js';
import { DEFAULT_LOOKALIKE_FACTOR } from './calibrate/fit.js';
import { runEval } from './eval/harness.js';
import { levelsReport } from './eval/levels.js';
import { formatReport } from './eval/table.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run eval -- --data <file.jsonl> [--data …] [--policy <path>] [--out report.json] [--limit N] [--concurrency N] [--score classifier.label] [--rubric-classifier <id>] [--pipeline] [--skip-bad] [--items] [--quiet]
       npm run eval -- --levels [--data-dir ../shared/data] [--policy policies/default] [--split val|test] [--out levels.json]

  Runs labelled JSON Lines records through the policy engine and reports precision, recall, over-refusal and more.
  --levels: the rules-only pack and the model pack at each level (strict, balanced, permissive) on the validation
  split of --data-dir (--split test: the test split): benign refusal rates, recall per hazard category and per source.
  exit codes: 0 done, 1 the run failed (bad data, a policy that does not validate), 2 usage or I/O error`;

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), {
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
    levels: { type: 'boolean', default: false },
    split: { type: 'string' },
    'data-dir': { type: 'string', default: join(root, '..', 'shared', 'data') },
  });
  if (values.levels) return levels(values);
  if (values.split !== undefined) throw new UsageError('--split goes with --levels');
  if (values.data.length === 0) throw new UsageError('give at least one --data file');
  const limit = values.limit === undefined ? undefined : intOption('limit', values.limit, 1);
  const concurrency = values.concurrency === undefined ? undefined : intOption('concurrency', values.concurrency, 1);
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
    // Bad records and invalid policies fail the run (1); a file that cannot be read is an I/O error (2).
    if (errorKind(e) !== 'internal') throw e;
    console.error(`eval: ${(e as Error).message}`);
    return 1;
  }
}

/** `--levels`: the levels table on the validation split (or `--split test`). */
async function levels(values: {
  policy?: string;
  split?: string;
  'data-dir': string;
  out?: string;
  limit?: string;
  concurrency?: string;
  quiet: boolean;
  data: string[];
}): Promise<number> {
  if (values.data.length) throw new UsageError('--levels reads the validation split of --data-dir, not --data files');
  const split = values.split ?? 'val';
  if (split !== 'val' && split !== 'test') throw new UsageError(`--split must be val or test, not ${split}`);
  const policy = values.policy ?? DEFAULT_POLICY_PATH;
  const report = await levelsReport({
    dataDir: values['data-dir'],
    policy,
    rulesOnly: join(root, 'policies', 'rules-only'),
    split,
    limit: values.limit === undefined ? undefined : intOption('limit', values.limit, 1),
    concurrency: values.concurrency === undefined ? 8 : intOption('concurrency', values.concurrency, 1),
    progress: values.quiet ? undefined : (line) => console.error(line),
  });
  process.stdout.write(
    levelsTable(
      `Operating levels of ${policy} through the policy engine, on the ${report.data} (refused = action refuse; ` +
        `benign refusal = max(everyday benign, look-alikes ÷ ${DEFAULT_LOOKALIKE_FACTOR}))`,
      report.columns,
      report.counts,
    ) +
      '\n' +
      answersTable(
        'Output stage (the output stage alone) on the graded answers of the same split, with their prompts ' +
          '(blocked = action refuse; safe compliant = safe and not opening with a refusal)',
        report.answers,
        false,
      ),
  );
  if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
  return 0;
}

await runCli({ name: 'eval', usage: USAGE }, main);
