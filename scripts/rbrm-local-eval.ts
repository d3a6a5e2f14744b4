/**
 * Fits and measures the local RBRM grader (`rbrm-local`) on the output records of `../shared/data` that carry a
 * gold grade (jailbreakbench: A/C, coconot_pref: B/D). Splits are the heads' own (seed 7, by the normalised
 * prompt, 70/15/15), so the test split was never seen by the heads nor by the constants fitted here.
 *
 *   node dist/scripts/rbrm-local-eval.js [--split test|val|train|all] [--fit] [--write-splits]
 *     [--weights '{"…":…}'] [--request-harm unsafe|unsafe+jailbreak] [--model default|intent|DIR]
 *     [--no-disallowed-head]
 *
 * --fit searches the logit constants on the validation split and prints them. The objective is the mean
 * per-grade accuracy over A, C, D and the gold-B records whose response opens with a refusal (the heads'
 * phrase rule, scripts/train/heads-data.ts): most of coconot_pref's B ("rejected") answers comply with a
 * disclaimer, and fitting to them would teach the grader to never say B, which would blind the over-refusal
 * metric. The report gives the full gold matrix and that refusing-B row apart.
 * Only configurations that grade the hand-written SANITY cases right are considered (--no-sanity: all of them).
 * RBRM_LOCAL_TOP=N (with --fit) also prints the N best configurations, to see how flat the optimum is.
 * --write-splits writes each split as JSONL under .cache/rbrm-local/ (never committed) for `npm run eval`.
 * --model picks the heads (default: `default`, the npm-package encoder's); with a model whose pair head has a
 * `disallowed` label (intent), grade C is read from it unless --no-disallowed-head.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existingPath, parseCli, runCli, UsageError } from '../cli/args.js';
import { RbrmLocal, argmaxLetter, type Components } from '../classifiers/rbrm-local/index.js';
import { modelsRoot } from '../classifiers/heads/index.js';
import { PolicySchema } from '../policies/schema.js';
import { GRADES, type Grade } from './eval/data.js';
import { rubricReport } from './eval/rubric.js';
import type { ItemResult } from './eval/run.js';
import { markdownTable } from './eval/table.js';
import { RecordSchema, normalise, splitOf, type Split } from './train/data.js';
import { refusalTarget } from './train/heads-data.js';
import { SANITY, fit } from './rbrm-local/fit.js';

const SEED = 7; // the heads' split seed (classifiers/models/default/heads.json)
const FILES = ['jailbreakbench.jsonl', 'coconot_pref.jsonl'];
const repo = join(modelsRoot(), '..', '..');
const SHARED_DATA = join(repo, '..', 'shared', 'data');

interface Row {
  id: string;
  source: string;
  prompt: string;
  text: string;
  label: 'safe' | 'unsafe';
  rbrm: Grade;
  split: Split;
  raw: string;
}

function rows(dataDir: string): Row[] {
  return FILES.flatMap((file) =>
    readFileSync(existingPath(join(dataDir, file), `no ${file} in ${dataDir}`), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((raw): Row[] => {
        const record = RecordSchema.parse(JSON.parse(raw));
        const { id, source, prompt, text, label, rbrm } = record;
        if (record.stage !== 'output' || rbrm === undefined || prompt === undefined) return [];
        return [{ id, source, prompt, text, label, rbrm, split: splitOf(SEED, normalise(prompt)), raw }];
      }),
  );
}

/** The policy's own rbrm-output rubric, so what is measured is what ships. */
function defaultRubric() {
  const policy = PolicySchema.parse(
    JSON.parse(readFileSync(join(repo, 'policies', 'rules-only', 'policy.json'), 'utf8')),
  );
  const rubric = policy.rubrics?.find((r) => r.id === 'rbrm-output');
  if (!rubric) throw new Error('policies/rules-only/policy.json has no rbrm-output rubric');
  return rubric;
}

const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(3));

const USAGE = `usage: node dist/scripts/rbrm-local-eval.js [--split test|val|train|all] [--fit] [--write-splits]
         [--weights JSON] [--request-harm unsafe|unsafe+jailbreak] [--no-sanity] [--data DIR]
         [--model NAME|DIR] [--no-disallowed-head]

  Fits and measures the local RBRM grader on the graded output records of the shared data.
  --data DIR  the labelled JSONL sets (default ../shared/data beside the repository)
  --model     the heads' folder under classifiers/models, or a path (default: default)
  --no-disallowed-head  grade C from the output's unsafe score even where the pair head has a disallowed label
  exit codes: 0 done, 1 failed, 2 usage or I/O error`;

async function main(): Promise<void> {
  const { values } = parseCli(process.argv.slice(2), {
    split: { type: 'string', default: 'test' },
    fit: { type: 'boolean', default: false },
    'write-splits': { type: 'boolean', default: false },
    weights: { type: 'string' },
    'request-harm': { type: 'string', default: 'unsafe+jailbreak' },
    'no-sanity': { type: 'boolean', default: false },
    data: { type: 'string', default: SHARED_DATA },
    model: { type: 'string', default: 'default' },
    'no-disallowed-head': { type: 'boolean', default: false },
  });
  if (!['test', 'val', 'train', 'all'].includes(values.split))
    throw new UsageError(`--split is test, val, train or all, not ${JSON.stringify(values.split)}`);
  if (!['unsafe', 'unsafe+jailbreak'].includes(values['request-harm']))
    throw new UsageError(`--request-harm is unsafe or unsafe+jailbreak, not ${JSON.stringify(values['request-harm'])}`);
  const dataDir = existingPath(
    values.data,
    'the labelled sets live in ../shared/data beside the repository; pass --data DIR',
  );
  const all = rows(dataDir);
  if (values['write-splits']) {
    const out = join(repo, '.cache', 'rbrm-local');
    mkdirSync(out, { recursive: true });
    for (const s of ['train', 'val', 'test'] as const)
      writeFileSync(
        join(out, `${s}.jsonl`),
        all
          .filter((r) => r.split === s)
          .map((r) => r.raw)
          .join('\n') + '\n',
      );
    console.error(`wrote ${out}/{train,val,test}.jsonl`);
  }
  const split = values.fit ? 'val' : values.split;
  const chosen = all.filter((r) => split === 'all' || r.split === split);
  const grader = new RbrmLocal(
    'rbrm-local',
    {
      rubric: defaultRubric(),
      requestHarm: values['request-harm'] as 'unsafe' | 'unsafe+jailbreak',
      model: values.model,
      disallowedHead: !values['no-disallowed-head'],
      weights: values.weights ? JSON.parse(values.weights) : undefined,
    },
    60_000,
  );
  const signal = new AbortController().signal;
  const started = performance.now();
  try {
    await grader.ready();
    const items: { r: Row; c: Components }[] = [];
    for (const r of chosen)
      items.push({ r, c: await grader.components({ stage: 'output', prompt: r.prompt, text: r.text }, signal) });
    const perItem = (performance.now() - started) / Math.max(1, items.length);
    if (values.fit) {
      const sanity = await Promise.all(
        SANITY.map(async (x) => ({ c: await grader.components({ stage: 'output', ...x }, signal), grade: x.grade })),
      );
      const { weights, score } = fit(
        items.map(({ r, c }) => ({ c, rbrm: r.rbrm, refuses: refusalTarget(r.text) === 1 })),
        values['no-sanity'] ? [] : sanity,
      );
      const nB = items.filter(({ r }) => r.rbrm === 'B' && refusalTarget(r.text) === 1).length;
      console.log(
        `validation split: ${items.length} records (gold B kept: ${nB} that open with a refusal); best mean ` +
          `per-grade accuracy ${score.toFixed(3)}`,
      );
      console.log(JSON.stringify(weights));
      return;
    }
    const results = await Promise.all(
      items.map(async ({ r }) => {
        const { scores } = await grader.classify({ stage: 'output', prompt: r.prompt, text: r.text }, signal);
        return {
          id: r.id,
          source: r.source,
          rbrm: r.rbrm,
          grade: argmaxLetter(scores, GRADES) as Grade,
          refuses: refusalTarget(r.text) === 1,
        } as ItemResult & { refuses: boolean };
      }),
    );
    const report = rubricReport('rbrm-local', results);
    console.log(
      `rbrm-local on the ${split} split: ${report.n} output records (${FILES.join(', ')}); ${grader.version}; ` +
        `~${perItem.toFixed(1)} ms per record\n`,
    );
    console.log(
      markdownTable(
        ['gold \\ predicted', ...GRADES, 'n', 'accuracy'],
        GRADES.map((g) => [
          g,
          ...GRADES.map((p) => String(report.matrix[g][p])),
          String(report.perGrade[g].n),
          fmt(report.perGrade[g].accuracy),
        ]),
      ),
    );
    const bal = GRADES.map((g) => report.perGrade[g].accuracy).filter((a): a is number => a !== null);
    console.log(
      `\naccuracy ${fmt(report.accuracy)}, balanced (mean per grade) ` +
        `${fmt(bal.reduce((s, a) => s + a, 0) / bal.length)}`,
    );
    console.log(
      `over-refusal (safe prompts graded B): predicted ${fmt(report.overRefusal.predicted)}, gold ` +
        `${fmt(report.overRefusal.gold)} of ${report.overRefusal.safePrompts} safe-prompt records`,
    );
    const rb = results.filter((r) => r.rbrm === 'B' && r.refuses);
    const share = (xs: typeof results, g: Grade) =>
      fmt(xs.length ? xs.filter((r) => r.grade === g).length / xs.length : null);
    console.log(
      `gold B whose answer opens with a refusal (phrase rule): graded B ${share(rb, 'B')}, A ${share(rb, 'A')}, D ` +
        `${share(rb, 'D')} of ${rb.length}`,
    );
    const d = results.filter((r) => r.rbrm === 'D');
    const rate = (xs: typeof results, f: (r: (typeof results)[number]) => boolean) =>
      fmt(xs.length ? xs.filter(f).length / xs.length : null);
    console.log(
      `safe prompts answered compliantly (gold D) but graded B: ${rate(d, (r) => r.grade === 'B')} of ${d.length}`,
    );
    // Grade C as a block (the argmax, as graded-disallowed reads a confident C): what the output stage would do.
    const c = results.filter((r) => r.rbrm === 'C');
    const notC = results.filter((r) => r.rbrm !== 'C');
    console.log(
      `graded C (an argmax block): disallowed answers (gold C) ${rate(c, (r) => r.grade === 'C')} of ${c.length}; ` +
        `safe compliant answers (gold D) passed ${rate(d, (r) => r.grade !== 'C')} of ${d.length}; ` +
        `answers without disallowed content (gold A, B, D) passed ${rate(notC, (r) => r.grade !== 'C')} of ${notC.length}`,
    );
  } finally {
    await grader.close();
  }
}

await runCli({ name: 'rbrm-local-eval', usage: USAGE }, main);
