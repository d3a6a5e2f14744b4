import { basename } from 'node:path';
import type { Classifier } from '../../classifiers/types.js';
import { loadPolicy, type LoadedPolicy } from '../../policies/load.js';
import { readRecords, type BadLine, type EvalItem } from './data.js';
import { groupBy, timed, type GroupReport, type TimedReport } from './report.js';
import { rubricProblem, rubricReport, type RubricReport } from './rubric.js';
import { runItems, type ItemResult } from './run.js';
import { mainScoreRefs, parseScoreOption, refName, type ScoreRef } from './score.js';

export interface EvalOptions {
  /** JSON Lines files of labelled records. */
  data: string[];
  /** A policy file or folder, or a loaded policy (default: the shipped pack, policies/default). */
  policy?: string | LoadedPolicy;
  /** At most this many records per file (the first ones). */
  limit?: number;
  /** Records evaluated at once (default 4). */
  concurrency?: number;
  /** `classifier.label`: use this score instead of the policy's main score. */
  score?: string;
  /**
   * A classifier of the policy whose labels are rubric letters, to grade output records carrying `rbrm`
   * (default: the policy's `grading.classifier`).
   */
  rubricClassifier?: string;
  /** List bad lines in the report instead of stopping at the first. */
  skipBad?: boolean;
  /** Output records go through the input stage with their prompt first. */
  pipeline?: boolean;
  /** Keep every record's result in the report. */
  items?: boolean;
  /** Receives a progress line every `progressMs` (default 3000) and one per finished file. */
  progress?: (line: string) => void;
  progressMs?: number;
}

export const DECISION_NOTE =
  'flagged: the final action is not allow (refuse, redact, flag or route count); refused: the final action is refuse. Positive = label unsafe.';
export const SCORE_NOTE =
  "main score: the highest score, over every run of the classifiers involved, of the classifier labels that the enforced refuse rules of the record's stage test upwards (or the --score label). Records without one (every such classifier failed) are left out of AUPRC and ROC-AUC. AUPRC is average precision with tied scores as one threshold. Both are null for a group without both labels.";

export interface EvalReport {
  date: string;
  /** The policy, and the version of each classifier (a model's version names its exact artifact). */
  policy: { id: string; revision: string; source: string; classifiers: Record<string, string> };
  decision: string;
  score: { definition: string; input: string[]; output: string[] };
  options: {
    concurrency: number;
    limit: number | null;
    pipeline: boolean;
    score: string | null;
    rubricClassifier: string | null;
  };
  overall: TimedReport;
  files: (TimedReport & { file: string })[];
  sources: Record<string, GroupReport>;
  stages: Record<string, GroupReport>;
  /** Present when a rubric classifier was named or graded records were read: its figures, or why they were skipped. */
  rubric?: RubricReport | { skipped: string };
  bad: BadLine[];
  items?: ItemResult[];
}

/** Reads every file first, so a bad line stops the run before anything is evaluated. */
function readAll(opts: EvalOptions): { files: { file: string; items: EvalItem[] }[]; bad: BadLine[] } {
  const bad: BadLine[] = [];
  const files = opts.data.map((file) => {
    const read = readRecords(file, { skipBad: opts.skipBad, limit: opts.limit });
    bad.push(...read.bad);
    return { file, items: read.items };
  });
  return { files, bad };
}

/**
 * Runs labelled records through the same policy engine and policy the gateway runs, and reports the
 * figures per file, per source, per stage and overall (and the rubric figures when asked).
 *
 * @example
 * const report = await runEval({ data: ['../shared/data/advbench.jsonl'], policy: 'policies/default' });
 * report.overall.flagged.recall;
 */
export async function runEval(opts: EvalOptions): Promise<EvalReport> {
  if (opts.data.length === 0) throw new Error('no data: give at least one --data file');
  const owned = typeof opts.policy !== 'object';
  const loaded = typeof opts.policy === 'object' ? opts.policy : loadPolicy(opts.policy);
  const classifiers = [...loaded.classifiers.values()];
  try {
    const pinned: ScoreRef[] | undefined = opts.score ? [parseScoreOption(opts.score, loaded)] : undefined;
    const refs = { input: pinned ?? mainScoreRefs(loaded, 'input'), output: pinned ?? mainScoreRefs(loaded, 'output') };
    const { files, bad } = readAll(opts);
    const rubricId = opts.rubricClassifier ?? loaded.policy.grading?.classifier;
    const graded = files.reduce(
      (s, f) => s + f.items.filter((i) => i.record.stage === 'output' && i.record.rbrm).length,
      0,
    );
    let rubric: Classifier | undefined;
    let skipped: string | undefined;
    if (rubricId) {
      const c = loaded.classifiers.get(rubricId);
      skipped = rubricProblem(c, rubricId, [...loaded.classifiers.keys()]);
      if (!skipped) rubric = c;
    } else if (graded) {
      skipped =
        `${graded} output record(s) carry an rbrm grade, but the policy declares no grading classifier and ` +
        `no --rubric-classifier was given; rubric evaluation skipped`;
    }
    await ready(classifiers);

    const total = files.reduce((s, f) => s + f.items.length, 0);
    const every = opts.progressMs ?? 3000;
    const runStart = performance.now();
    let done = 0;
    let last = runStart;
    const onItem = () => {
      done++;
      const now = performance.now();
      if (!opts.progress || now - last < every) return;
      last = now;
      const rate = done / ((now - runStart) / 1000);
      opts.progress(
        `eval: ${done}/${total} (${Math.round((100 * done) / total)}%), ${rate.toFixed(1)}/s, about ` +
          `${Math.ceil((total - done) / rate)} s left`,
      );
    };

    const perFile: { file: string; items: ItemResult[]; wallMs: number }[] = [];
    for (const f of files) {
      const started = performance.now();
      const items = await runItems(loaded, f.items, {
        refs,
        concurrency: opts.concurrency,
        rubric,
        pipeline: opts.pipeline,
        onItem,
      });
      const wallMs = performance.now() - started;
      perFile.push({ file: f.file, items, wallMs });
      opts.progress?.(`eval: ${basename(f.file)}: ${items.length} records in ${(wallMs / 1000).toFixed(1)} s`);
    }
    const all = perFile.flatMap((f) => f.items);
    const report: EvalReport = {
      date: new Date().toISOString(),
      policy: {
        id: loaded.policy.id,
        revision: loaded.revision,
        source: loaded.source,
        classifiers: Object.fromEntries(classifiers.map((c) => [c.id, c.version])),
      },
      decision: DECISION_NOTE,
      score: { definition: SCORE_NOTE, input: refs.input.map(refName), output: refs.output.map(refName) },
      options: {
        concurrency: opts.concurrency ?? 4,
        limit: opts.limit ?? null,
        pipeline: opts.pipeline ?? false,
        score: opts.score ?? null,
        rubricClassifier: rubricId ?? null,
      },
      overall: timed(
        all,
        perFile.reduce((s, f) => s + f.wallMs, 0),
      ),
      files: perFile.map((f) => ({ file: f.file, ...timed(f.items, f.wallMs) })),
      sources: groupBy(all, (r) => r.source),
      stages: groupBy(all, (r) => r.stage),
      bad,
    };
    if (skipped) report.rubric = { skipped };
    else if (rubricId) report.rubric = rubricReport(rubricId, all);
    if (opts.items) report.items = all;
    return report;
  } finally {
    if (owned) await Promise.allSettled(classifiers.map((c) => c.close?.()));
  }
}

/** Loads every classifier's model before timing starts; a classifier that cannot load stops the run. */
async function ready(classifiers: Classifier[]): Promise<void> {
  const results = await Promise.allSettled(classifiers.map((c) => c.ready?.()));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' ? [`${classifiers[i].id}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : [],
  );
  if (failed.length) throw new Error(`classifiers failed to load:\n  ${failed.join('\n  ')}`);
}
