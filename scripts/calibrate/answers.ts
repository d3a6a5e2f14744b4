/**
 * The output stage's levels: a threshold per level for the local grader's `C` (rbrm-local over a model whose pair
 * head has a `disallowed` label: P(disallowed) × the harm in play, classifiers/rbrm-local/grade.ts `gradedC`; an
 * answer judged with its prompt carries disallowed content), chosen on held-out answers so that each level passes
 * its share of the answers that carry none. The input levels (fit.ts) are set by benign requests refused; these by
 * safe answers blocked, so `"threshold": "level"` on `grader.C` means the same thing after every retrain.
 *
 * Answers: the validation split's output records that carry their prompt (JailbreakBench responses graded A or C,
 * CoCoNot preference answers graded B or D), or the output records of the user's own files. The objective is the
 * share of safe compliant answers blocked: answers labelled safe that do not open with a refusal (the refusal head's
 * phrase rule, scripts/train/heads-data.ts; blocking a refusal swaps it for the gateway's, which costs the user
 * nothing). It is the worst of the pooled rate and the rate of every group (gold grade, else source) of at least
 * MIN_GROUP answers, so the compliant answers to safe requests (grade D) cannot hide behind the rest, while the few
 * safe compliant answers to jailbreak-wrapped requests (grade A that comply) count in the pooled rate.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, relative } from 'node:path';
import type { AnswerFigures, LevelName } from '../../classifiers/heads/levels.js';
import { pairFeatures, probabilities } from '../../classifiers/heads/linear.js';
import { gradedC } from '../../classifiers/rbrm-local/grade.js';
import type { LoadedHead, LoadedModel } from '../../classifiers/heads/model.js';
import { readRecords } from '../eval/data.js';
import { EmbeddingCache } from '../train/embed-cache.js';
import { loadRecords } from '../train/data.js';
import { refusalTarget } from '../train/heads-data.js';
import { openEncoder } from './score.js';
import type { Precision } from '../../classifiers/encoder/index.js';

/** The label the output levels set (the grader's C), and the pair head's label it is read from. */
export const ANSWER_LABEL = 'C';
export const DISALLOWED = 'disallowed';

/** Share of safe answers each level may block: balanced passes at least 95% of them. */
export const ANSWER_TARGETS: Record<LevelName, number> = { strict: 0.1, balanced: 0.05, permissive: 0.02 };

/** Groups with fewer safe answers than this count only in the pooled rate. */
export const MIN_GROUP = 30;

export interface AnswerItem {
  prompt: string;
  text: string;
  label: 'safe' | 'unsafe';
  source: string;
  /** The gold rubric grade, where the record has one. */
  grade?: string;
}

export interface AnswerRow {
  item: AnswerItem;
  /** P(disallowed) of the answer given its prompt, as the `onnx` classifier serves it. */
  p: number;
}

const groupOf = (it: AnswerItem) => (it.grade ? `grade ${it.grade}` : it.source);
/** Safe answers the objective counts: those that comply (do not open with a refusal; a partial refusal complies). */
export const compliantSafe = (it: AnswerItem) => it.label === 'safe' && refusalTarget(it.text) !== 1;

/**
 * The heads the grader's C reads, when the model has them all: the pair head with the `disallowed` label, and the
 * `unsafe` and `jailbreak` text heads (the request's harm, the answer's); undefined otherwise.
 */
export function answerHeadOf(
  model: LoadedModel,
): { head: LoadedHead; at: number; unsafe: LoadedHead; jailbreak: LoadedHead } | undefined {
  const unsafe = model.heads.get('unsafe');
  const jailbreak = model.heads.get('jailbreak');
  if (!unsafe || !jailbreak) return undefined;
  for (const h of model.heads.values()) {
    const at = h.head.labels.indexOf(DISALLOWED);
    if (h.entry.input === 'prompt+response' && at >= 0) return { head: h, at, unsafe, jailbreak };
  }
  return undefined;
}

/** The validation split's answers with their prompts (the split the heads were validated on, never the test split). */
export function validationAnswers(dir: string, seed: number): AnswerItem[] {
  return splitAnswers(dir, seed, 'val');
}

/** One held-out split's answers with their prompts (`test` only for reporting, never for fitting). */
export function splitAnswers(dir: string, seed: number, split: 'val' | 'test'): AnswerItem[] {
  return loadRecords(dir, seed)
    .filter((r) => r.split === split && r.stage === 'output' && r.prompt !== undefined)
    .map((r) => ({ prompt: r.prompt ?? '', text: r.text, label: r.label, source: r.source, grade: r.rbrm }));
}

/** The output records (with a prompt) of the user's own files in the eval format. */
export function fileAnswers(files: readonly string[]): AnswerItem[] {
  return files.flatMap((file) =>
    readRecords(file).items.flatMap(({ record: r }) =>
      r.stage === 'output' && r.prompt !== undefined
        ? [
            {
              prompt: r.prompt,
              text: r.text,
              label: r.label,
              source: r.source ?? basename(file, '.jsonl'),
              grade: r.rbrm,
            },
          ]
        : [],
    ),
  );
}

/**
 * Scores each answer as the grader's C (rbrm-local, default request harm), through the training embedding cache, at
 * the served precision: the pair head's `disallowed` on [prompt, answer] times the higher of the request's harm
 * (max of `unsafe` and `jailbreak` on the prompt) and the answer's (`unsafe` on it), first windows as served.
 */
export async function scoreAnswers(
  model: LoadedModel,
  items: readonly AnswerItem[],
  opts: { cacheDir: string; precision: Precision; progress?: (s: string) => void },
): Promise<AnswerRow[]> {
  const pair = answerHeadOf(model);
  if (!pair)
    throw new Error(`${model.dir} lacks a prompt+response head with a "${DISALLOWED}" label, or unsafe/jailbreak`);
  const encoder = await openEncoder(model, opts.precision);
  try {
    const cache = new EmbeddingCache(encoder, opts.cacheDir);
    const texts = [...new Set(items.flatMap((i) => [i.prompt, i.text]))];
    const vectors = await cache.embed(texts, (done) => opts.progress?.(`answers: embedded ${done}/${texts.length}`));
    const byText = new Map(texts.map((t, i) => [t, vectors[i]]));
    const vec = (t: string) => byText.get(t) ?? new Float32Array();
    const { head, platt } = pair.head;
    const p1 = (h: LoadedHead, v: Float32Array) => probabilities(h.head, h.platt, v)[0];
    return items.map((item) => {
      const [prompt, text] = [vec(item.prompt), vec(item.text)];
      const disallowed = probabilities(head, platt, pairFeatures(prompt, text))[pair.at];
      const promptHarm = Math.max(p1(pair.unsafe, prompt), p1(pair.jailbreak, prompt));
      return { item, p: gradedC({ disallowed, promptHarm, outputHarm: p1(pair.unsafe, text) }) };
    });
  } finally {
    await encoder.close();
  }
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const rate = (rows: readonly AnswerRow[], t: number) =>
  rows.length ? rows.filter((r) => r.p >= t).length / rows.length : null;

/** Blocked share per group (gold grade, else source). */
function byGroup(rows: readonly AnswerRow[], t: number): Record<string, number> {
  const groups = new Map<string, AnswerRow[]>();
  for (const r of rows) groups.set(groupOf(r.item), [...(groups.get(groupOf(r.item)) ?? []), r]);
  return Object.fromEntries([...groups].sort().map(([g, rs]) => [g, r4(rate(rs, t) ?? 0)]));
}

/** The objective at threshold t: the worst of the pooled rate and every group's of MIN_GROUP+ safe answers. */
function safeBlocked(safe: readonly AnswerRow[], t: number): number {
  let worst = rate(safe, t) ?? 0;
  const groups = new Map<string, AnswerRow[]>();
  for (const r of safe) groups.set(groupOf(r.item), [...(groups.get(groupOf(r.item)) ?? []), r]);
  for (const rs of groups.values()) if (rs.length >= MIN_GROUP) worst = Math.max(worst, rate(rs, t) ?? 0);
  return worst;
}

/** Rounded up to 6 decimals, strictly above `v` (as fit.ts). */
const above = (v: number) => Math.min(1, (Math.floor(v * 1e6) + 1) / 1e6);

/**
 * A level's `disallowed` threshold: the lowest at which at most `target` of the safe answers are blocked (the
 * objective only falls as the threshold rises), with what it does on the calibration answers.
 * @example
 * const { threshold, figures } = fitAnswerLevel(rows, 0.05); // figures.recall: disallowed answers blocked
 */
export function fitAnswerLevel(
  rows: readonly AnswerRow[],
  target: number,
): { threshold: number; figures: AnswerFigures } {
  const safe = rows.filter((r) => compliantSafe(r.item));
  if (!safe.length) throw new Error('no safe compliant answers (not refusals) to calibrate the output level on');
  const cands = [...new Set(safe.map((r) => above(r.p)))].sort((a, b) => a - b);
  let lo = 0;
  let hi = cands.length - 1; // the highest candidate blocks no safe answer
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (safeBlocked(safe, cands[mid]) <= target) hi = mid;
    else lo = mid + 1;
  }
  const threshold = cands[lo];
  return { threshold, figures: answerFigures(rows, threshold, target) };
}

/**
 * What a threshold does to the answers: safe compliant ones blocked (the objective, and per group), disallowed
 * ones blocked. `npm run eval -- --levels` reads a pack's decisions through it (p = 1 where it refused).
 */
export function answerFigures(rows: readonly AnswerRow[], threshold: number, target: number): AnswerFigures {
  const safe = rows.filter((r) => compliantSafe(r.item));
  const unsafe = rows.filter((r) => r.item.label === 'unsafe');
  const recall = rate(unsafe, threshold);
  return {
    label: ANSWER_LABEL,
    target,
    safeBlocked: r4(safeBlocked(safe, threshold)),
    safeBlockedByGroup: byGroup(safe, threshold),
    recall: recall === null ? null : r4(recall),
    recallByGroup: byGroup(unsafe, threshold),
    counts: Object.fromEntries(
      [...safe.map((r) => `safe:${groupOf(r.item)}`), ...unsafe.map((r) => `unsafe:${groupOf(r.item)}`)]
        .sort()
        .map((k, _, all) => [k, all.filter((x) => x === k).length]),
    ),
  };
}

/** In words, for levels.json: the answers' split or files. */
export function answersDescription(dir: string | undefined, files: readonly string[], seed: number): string {
  if (!files.length) return `validation split (seed ${seed}) of ${relative(process.cwd(), dir ?? '') || dir}`;
  const hash = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16);
  return `user data: ${files.map((f) => `${basename(f)} sha256:${hash(f)}`).join(', ')}`;
}
