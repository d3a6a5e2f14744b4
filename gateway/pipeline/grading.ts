import type { GradeRecord } from '../../audit/types.js';
import { rubricRevision } from '../../classifiers/rubric.js';
import { runClassifier } from '../../classifiers/run.js';
import type { ClassifierResult } from '../../classifiers/types.js';
import type { StageDecision } from '../../policies/engine.js';
import type { LoadedPolicy } from '../../policies/load.js';
import { round } from '../../policies/round.js';

const find = (d: StageDecision | undefined, id: string) =>
  d?.classifiers.find((c) => c.id === id && c.error === undefined);

/**
 * The RBRM grade of an answer, from results already in hand: the grader's scores per option letter (the
 * grade is the most probable letter), the prompt's safety, the reward from the policy's table, and whether it
 * is an over-refusal (a refusal letter on a safe prompt). Undefined when the policy does not grade or the grader
 * gave no result.
 */
export function gradeOf(
  policy: LoadedPolicy,
  promptSafety: ClassifierResult | undefined,
  grader: ClassifierResult | undefined,
): GradeRecord | undefined {
  const g = policy.policy.grading;
  const rubric = g && policy.policy.rubrics.find((r) => r.id === g.rubric);
  if (!g || !rubric || !grader || grader.error !== undefined) return undefined;
  const probabilities = Object.fromEntries(
    rubric.options.map((o) => [o.letter, round(grader.scores[o.letter] ?? 0, 4)]),
  );
  const grade = Object.entries(probabilities).reduce((best, cur) => (cur[1] > best[1] ? cur : best))[0];
  const ps = g.promptSafety;
  const prompt = ps && promptSafety && (promptSafety.scores[ps.label] ?? 0) >= ps.threshold ? 'unsafe' : 'safe';
  return {
    rubric: rubric.id,
    revision: rubricRevision(rubric),
    grade,
    probabilities,
    prompt,
    reward: g.reward[grade]?.[prompt] ?? null,
    over_refusal: prompt === 'safe' && g.refusals.includes(grade),
  };
}

/**
 * Grades an answer, running the grader and the prompt-safety classifier when the stages did not already
 * (their rules may not read them). A grader failure leaves the answer ungraded; enforcement on grades is the
 * rules' business, and their onError applies there.
 */
export async function gradeAnswer(
  policy: LoadedPolicy,
  stages: { input?: StageDecision; output?: StageDecision },
  texts: { prompt: string; output: string },
  signal?: AbortSignal,
): Promise<GradeRecord | undefined> {
  const g = policy.policy.grading;
  if (!g) return undefined;
  const run = (id: string, stage: 'input' | 'output', text: string, prompt?: string) => {
    const c = policy.classifiers.get(id);
    return c ? runClassifier(c, { stage, text, prompt }, signal) : Promise.resolve(undefined);
  };
  const [grader, safety] = await Promise.all([
    find(stages.output, g.classifier) ?? run(g.classifier, 'output', texts.output, texts.prompt),
    g.promptSafety
      ? (find(stages.input, g.promptSafety.classifier) ?? run(g.promptSafety.classifier, 'input', texts.prompt))
      : undefined,
  ]);
  return gradeOf(policy, safety, grader);
}
