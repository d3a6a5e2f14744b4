/**
 * Graded traffic as training data, one JSON object per line:
 * - `rbrm`: one reward-labelled line per graded answer (an over-refusal's retry gives two: the original and the
 *   retry, each with its own grade and reward);
 * - `dpo`: TRL's preference format `{prompt, chosen, rejected}`: each answer with a negative reward, paired with
 *   the desired answer: the desired-style refusal for an unsafe prompt, a positively rewarded answer (the winning
 *   retry) for a safe one;
 * - `kto`: TRL's unpaired format `{prompt, completion, label}`: every graded answer, labelled by its reward's sign,
 *   and the desired-style refusal of each unsafe prompt that got a rejected answer.
 * Texts follow the log's content mode: `full` and `redacted` keep text; `hash` and `none` keep none, so their
 * records cannot become pairs, and are counted in the manifest's `preference.skipped.no_content`.
 */
import type { GradeRecord, StoredDecision } from './types.js';

export const REWARD_FORMATS = ['rbrm', 'dpo', 'kto'] as const;
export type RewardFormat = (typeof REWARD_FORMATS)[number];
export const isRewardFormat = (f: string): f is RewardFormat => (REWARD_FORMATS as readonly string[]).includes(f);

export interface RewardExportOptions {
  /**
   * The desired-style refusal to pair with a rejected answer to an unsafe prompt when the record holds none of its
   * own (the gateway did not refuse that answer itself): typically the policy's `defaults.refusal`.
   */
  refusal?: string;
}

/** What a preference export wrote and what it could not, for the manifest. */
export interface PreferenceStats {
  lines: number;
  /** Lines flagged `review: true`: over-refusals (a refusal of a prompt judged safe) a person should confirm. */
  review: number;
  skipped: {
    /** Answers whose record keeps no text (content mode `hash` or `none`). */
    no_content: number;
    /** Answers the record does not hold: withheld as disallowed, or logged before graded answers were kept. */
    not_retained: number;
    /** DPO: rejected answers with nothing to pair them with (a safe prompt with no better answer, or an unsafe
     * one with no refusal in the record and no `--refusal`). They are in the `kto` and `rbrm` exports. */
    no_chosen: number;
  };
}

export const emptyStats = (): PreferenceStats => ({
  lines: 0,
  review: 0,
  skipped: { no_content: 0, not_retained: 0, no_chosen: 0 },
});

type Graded = StoredDecision & { rbrm: GradeRecord };

/** One graded answer of a record: which it was, whether the client got it, its kept text, grade and reward. */
export interface GradedAnswer {
  answer: 'original' | 'retry';
  sent: boolean;
  /** A string (full or redacted), `{sha256}` (hash), or null (mode none, or not retained). */
  text: unknown;
  grade: string;
  probabilities: Record<string, number>;
  reward: number | null;
  over_refusal: boolean;
}

/**
 * The answers a record graded, each with its own grade. The answer the client got is `content.output` unless
 * the output stage refused it (then only `content.answers` can hold it); the other answer of a retry is in
 * `content.answers`.
 */
export function gradedAnswers(r: Graded): GradedAnswer[] {
  const g = r.rbrm;
  const c = r.content;
  const sent = g.retry?.chosen ?? 'original';
  const refused = r.stages?.output?.action === 'refuse';
  const textOf = (which: 'original' | 'retry') =>
    c?.answers?.[which] ?? (which === sent && !refused ? (c?.output ?? null) : null);
  const original: GradedAnswer = {
    answer: 'original',
    sent: sent === 'original' && !refused,
    text: textOf('original'),
    grade: g.grade,
    probabilities: g.probabilities,
    reward: g.reward,
    over_refusal: g.over_refusal,
  };
  if (!g.retry) return [original];
  const { retry } = g;
  return [
    original,
    {
      answer: 'retry',
      sent: sent === 'retry' && !refused,
      text: textOf('retry'),
      grade: retry.grade,
      probabilities: retry.probabilities,
      reward: retry.reward,
      over_refusal: retry.over_refusal ?? false,
    },
  ];
}

/** One `rbrm` line per graded answer. `prompt` and `output` are kept as the content mode kept them. */
export function rbrmLines(r: Graded) {
  return gradedAnswers(r).map((a) => ({
    prompt: r.content?.prompt ?? null,
    output: a.text,
    answer: a.answer,
    sent: a.sent,
    rubric: { id: r.rbrm.rubric, revision: r.rbrm.revision },
    grade: a.grade,
    probabilities: a.probabilities,
    prompt_safety: r.rbrm.prompt,
    reward: a.reward,
    over_refusal: a.over_refusal,
    decision_id: r.decision_id,
    time: r.time,
    policy: r.policy,
  }));
}

const isText = (v: unknown): v is string => typeof v === 'string';

/** Whether an answer has text to train on; counts why not. */
function usable(a: GradedAnswer, r: Graded, stats: PreferenceStats): a is GradedAnswer & { text: string } {
  if (isText(a.text)) return true;
  if (r.content?.mode === 'hash' || r.content?.mode === 'none' || !r.content) stats.skipped.no_content++;
  else stats.skipped.not_retained++;
  return false;
}

/**
 * The desired answer for a record's prompt, and where it came from: for an unsafe prompt, the gateway's own
 * refusal (a whole, unstreamed refusal by the output stage) or else `options.refusal`; for a safe one, an answer
 * with a positive reward.
 */
function desiredOf(r: Graded, answers: GradedAnswer[], o: RewardExportOptions) {
  if (r.rbrm.prompt === 'unsafe') {
    const own = r.stages?.output?.action === 'refuse' && !r.stream && isText(r.content?.output);
    if (own) return { text: r.content.output as string, source: 'gateway_refusal' as const };
    return o.refusal ? { text: o.refusal, source: 'refusal_option' as const } : undefined;
  }
  const good = answers.find((a) => (a.reward ?? 0) > 0 && isText(a.text));
  return good && { text: good.text as string, source: good.answer };
}

/** TRL DPO lines `{prompt, chosen, rejected}` (plus provenance) for one graded record. */
export function dpoLines(r: Graded, o: RewardExportOptions, stats: PreferenceStats) {
  const prompt = r.content?.prompt;
  const answers = gradedAnswers(r);
  const rejected = answers.filter((a) => (a.reward ?? 0) < 0);
  if (!rejected.length) return [];
  if (!isText(prompt)) {
    stats.skipped.no_content += rejected.length;
    return [];
  }
  const chosen = desiredOf(r, answers, o);
  const lines = [];
  for (const a of rejected) {
    if (!usable(a, r, stats)) continue;
    if (!chosen) {
      stats.skipped.no_chosen++;
      continue;
    }
    lines.push({
      prompt,
      chosen: chosen.text,
      rejected: a.text,
      decision_id: r.decision_id,
      prompt_safety: r.rbrm.prompt,
      chosen_source: chosen.source,
      rejected_grade: a.grade,
      rejected_reward: a.reward,
      review: a.over_refusal,
    });
  }
  return count(lines, stats);
}

/** TRL KTO lines `{prompt, completion, label}` (plus provenance) for one graded record. */
export function ktoLines(r: Graded, o: RewardExportOptions, stats: PreferenceStats) {
  const prompt = r.content?.prompt;
  const answers = gradedAnswers(r).filter((a) => a.reward !== null && a.reward !== 0);
  if (!isText(prompt)) {
    stats.skipped.no_content += answers.length;
    return [];
  }
  const base = { prompt, decision_id: r.decision_id, prompt_safety: r.rbrm.prompt };
  const lines = answers
    .filter((a) => usable(a, r, stats))
    .map((a) => ({
      ...base,
      completion: a.text as string,
      label: (a.reward ?? 0) > 0,
      source: a.answer as string,
      grade: a.grade as string | null,
      reward: a.reward,
      review: a.over_refusal,
    }));
  // The refusal an unsafe prompt should have had, as a desirable example beside the rejected answer.
  const refusal = answers.some((a) => (a.reward ?? 0) < 0) ? desiredOf(r, answers, o) : undefined;
  if (refusal && r.rbrm.prompt === 'unsafe')
    lines.push({
      ...base,
      completion: refusal.text,
      label: true,
      source: refusal.source,
      grade: null,
      reward: null,
      review: false,
    });
  return count(lines, stats);
}

function count<T extends { review: boolean }>(lines: T[], stats: PreferenceStats): T[] {
  stats.lines += lines.length;
  stats.review += lines.filter((l) => l.review).length;
  return lines;
}

/** The lines of a reward format for one graded record. */
export function rewardLines(format: RewardFormat, r: Graded, o: RewardExportOptions, stats: PreferenceStats): object[] {
  if (format === 'dpo') return dpoLines(r, o, stats);
  if (format === 'kto') return ktoLines(r, o, stats);
  const lines = rbrmLines(r);
  stats.lines += lines.length;
  return lines;
}
