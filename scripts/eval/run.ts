import { runClassifier } from '../../classifiers/run.js';
import type { Classifier, ClassifierResult, Stage } from '../../classifiers/types.js';
import { ACTION_RANK, evaluateStage, type RequestMeta, type StageDecision } from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import type { Action } from '../../policies/schema.js';
import { asResponse, runCase } from '../../policies/testing.js';
import { GRADES, type EvalItem, type Grade } from './data.js';
import { mainScore, type ScoreRef } from './score.js';

/** What the policy did with one record. */
export interface ItemResult {
  file: string;
  line: number;
  id: string;
  source: string;
  stage: Stage;
  label: 'safe' | 'unsafe';
  /** The final action: the strongest over the stages that ran. */
  action: Action;
  /** Enforced rules that matched, winner first. */
  rules: string[];
  /** Classifiers that failed on this record. */
  errors: string[];
  /** The policy's main score (see score.ts); absent when no classifier behind it gave a score. */
  score?: number;
  /** Time spent in the policy engine for this record, in milliseconds. */
  latencyMs: number;
  /** The gold rubric grade (output records). */
  rbrm?: Grade;
  /** The rubric classifier's grade: the letter with the highest score; null when it failed. */
  grade?: Grade | null;
}

export interface RunOptions {
  /** The labels behind the main score, per stage. */
  refs: Record<Stage, readonly ScoreRef[]>;
  /** Records evaluated at once (default 4). */
  concurrency?: number;
  /** A classifier whose labels include A–D, to grade output records that carry `rbrm`. */
  rubric?: Classifier;
  /**
   * Output records go through the input stage with their prompt first, as in the gateway (default: the output stage
   * alone).
   */
  pipeline?: boolean;
  /** Called after each record. */
  onItem?: (result: ItemResult) => void;
}

/** The request metadata of a plain chat completion with no key, as the policy test runner uses. */
const META: RequestMeta = { tenant: null, key: null, model: null, route: '/v1/chat/completions', headers: {} };

/** The stage decisions for one record, through the same engine and documents the gateway builds. */
async function decide(loaded: LoadedPolicy, item: EvalItem, pipeline: boolean): Promise<StageDecision[]> {
  const r = item.record;
  if (r.stage === 'input') return [(await runCase(loaded, { request: r.text })).input];
  if (pipeline) {
    const run = await runCase(loaded, { request: r.prompt ?? '', output: r.text });
    return run.output ? [run.input, run.output] : [run.input];
  }
  return [await evaluateStage(loaded, { stage: 'output', doc: asResponse(r.text), meta: META, prompt: r.prompt })];
}

/** The letter with the highest score (the first on ties); null when the classifier failed. */
export function gradeOf(result: ClassifierResult): Grade | null {
  if (result.error !== undefined) return null;
  let best: Grade = GRADES[0];
  for (const g of GRADES) if ((result.scores[g] ?? 0) > (result.scores[best] ?? 0)) best = g;
  return best;
}

/** Grades an output record: the rubric classifier's result from the stage if a rule read it, else a run of its own. */
async function grade(rubric: Classifier, item: EvalItem, decisions: StageDecision[]): Promise<Grade | null> {
  const out = decisions.find((d) => d.stage === 'output');
  const seen = out?.classifiers.find((c) => c.id === rubric.id);
  return gradeOf(
    seen ?? (await runClassifier(rubric, { stage: 'output', text: item.record.text, prompt: item.record.prompt })),
  );
}

/** Evaluates one record. */
export async function evaluateItem(loaded: LoadedPolicy, item: EvalItem, opts: RunOptions): Promise<ItemResult> {
  const r = item.record;
  const started = performance.now();
  let decisions: StageDecision[];
  try {
    decisions = await decide(loaded, item, opts.pipeline ?? false);
  } catch (e) {
    throw new Error(`${item.file}:${item.line}: the policy engine failed on record ${r.id}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const latencyMs = performance.now() - started;
  const final = decisions.reduce((a, d) => (ACTION_RANK[d.action] > ACTION_RANK[a.action] ? d : a));
  const scores = decisions.map((d) => mainScore(d, opts.refs[d.stage])).filter((s): s is number => s !== undefined);
  const result: ItemResult = {
    file: item.file,
    line: item.line,
    id: r.id,
    source: r.source ?? '(none)',
    stage: r.stage,
    label: r.label,
    action: final.action,
    rules: final.matches.map((m) => m.id),
    errors: [...new Set(decisions.flatMap((d) => d.classifiers.filter((c) => c.error !== undefined).map((c) => c.id)))],
    ...(scores.length && { score: Math.max(...scores) }),
    latencyMs,
  };
  if (r.stage === 'output' && r.rbrm) {
    result.rbrm = r.rbrm;
    if (opts.rubric) result.grade = await grade(opts.rubric, item, decisions);
  }
  return result;
}

/**
 * Evaluates records with at most `concurrency` in flight, keeping their order.
 *
 * @example
 * const results = await runItems(loadPolicy(), items, { refs: { input: mainScoreRefs(p, 'input'), output: mainScoreRefs(p, 'output') } });
 */
export async function runItems(
  loaded: LoadedPolicy,
  items: readonly EvalItem[],
  opts: RunOptions,
): Promise<ItemResult[]> {
  const out = new Array<ItemResult>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await evaluateItem(loaded, items[i], opts);
      opts.onItem?.(out[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 4, items.length)) }, worker));
  return out;
}
