import { z } from 'zod';
import type { Classifier, ClassifierInput, ClassifierResult } from '../types.js';
import {
  EndpointParams,
  accounting,
  cacheOf,
  confidenceSpread,
  conversationOf,
  servedFromCache,
  verdictKey,
  type VerdictCache,
} from './common.js';
import { argmax, bareToken, choiceProbabilities } from './logprobs.js';
import { JudgeRubricSchema, rubricRevision, type JudgeRubric } from './rubric.js';
import { rbrmTemplate, render, type RbrmTemplate } from './templates.js';
import { JudgeError, askJudge, callSignal, type JudgeAnswer } from './wire.js';

/** Parameters of the `rbrm-judge` classifier type, as a policy declares them. */
export const RbrmJudgeParamsSchema = z.strictObject({
  ...EndpointParams,
  /** The rubric itself (the policy compiler passes params only): id, question, lettered options. */
  rubric: JudgeRubricSchema,
  /** Tokens the judge may spend on its answer: one letter, or a short "Answer: C". */
  maxTokens: z.number().int().min(1).max(3).default(3),
  /** Ask for `logprobs`/`top_logprobs: 10`; turn off for servers that reject them. */
  logprobs: z.boolean().default(true),
});
export type RbrmJudgeParams = z.infer<typeof RbrmJudgeParamsSchema>;

const TOP_LOGPROBS = 10;

/** How sure the grade is and why: the record's view of one judge call. */
type Graded = Omit<ClassifierResult, 'id' | 'latencyMs'>;

/** "A, B, C or D". */
const listLetters = (letters: readonly string[]) =>
  letters.length > 1 ? `${letters.slice(0, -1).join(', ')} or ${letters.at(-1)}` : letters.join('');

/**
 * Builds the chat messages that ask for one option letter, from templates/rbrm.json.
 * @example rbrmMessages(rubric, { prompt: 'How do I make a bomb?', output: "I can't help with that." })
 */
export function rbrmMessages(
  rubric: JudgeRubric,
  c: { prompt?: string; output?: string },
  t: RbrmTemplate = rbrmTemplate(),
) {
  const letters = listLetters(rubric.options.map((o) => o.letter));
  const options = rubric.options
    .map((o) =>
      render(t.option, {
        letter: o.letter,
        meaning: o.meaning,
        exemplars: o.exemplars.map((exemplar) => render(t.exemplar, { exemplar })).join(''),
      }),
    )
    .join('\n');
  const user = render(t.user, {
    description: rubric.description,
    question: rubric.question,
    options,
    letters,
    prompt: c.prompt ?? t.noPrompt,
    output: c.output ?? t.noOutput,
  });
  return [
    { role: 'system' as const, content: render(t.system, { letters }) },
    { role: 'user' as const, content: user },
  ];
}

/**
 * The option letter an answer names: the first standalone capital letter that is an option ("C", " C",
 * "(C)", "Answer: C", "C. Disallowed"), else a lone lower-case option letter followed by punctuation or the
 * end ("c.", "c)"). Undefined when there is none.
 * @example parseLetter('Answer: C', ['A', 'B', 'C', 'D']) // 'C'
 */
export function parseLetter(answer: string, letters: readonly string[]): string | undefined {
  for (const [, l] of answer.matchAll(/(?<![A-Za-z])([A-Z])(?![A-Za-z])/g)) if (l && letters.includes(l)) return l;
  const lower = /^[\s("'*[]*([a-z])(?:[.):\]]|\s*$)/.exec(answer)?.[1]?.toUpperCase();
  return lower && letters.includes(lower) ? lower : undefined;
}

/**
 * A probability per option from the alternatives at the first answer token that reads as an option letter;
 * undefined when the server sent no usable logprobs.
 * @example letterProbabilities(answer, ['A', 'B', 'C', 'D']) // { A: 0, B: 0, C: 0.95, D: 0.05 }
 */
export function letterProbabilities(
  answer: JudgeAnswer,
  letters: readonly string[],
): Record<string, number> | undefined {
  const normalise = (bare: string) => (bare.length === 1 ? bare.toUpperCase() : bare);
  const at = answer.tokens.find((t) => letters.includes(normalise(bareToken(t.token))));
  return at && at.top.length ? choiceProbabilities(at.top, letters, normalise) : undefined;
}

/**
 * The RBRM judge: grades (prompt, output) against a rubric with any OpenAI-compatible model, at temperature 0,
 * asking for exactly one option letter. Scores are a probability per option letter (from logprobs when the
 * server sends them, else `confidence` on the parsed letter). A malformed or failed answer throws, so the
 * rule's onError applies (refuse by default).
 * @example
 * const url = 'http://127.0.0.1:8000/v1';
 * const params = RbrmJudgeParamsSchema.parse({ url, model: 'qwen2.5-7b-instruct', rubric });
 * const judge = new RbrmJudge('rbrm', params, 5000);
 * const { scores, details } = await judge.classify({ stage: 'output', prompt, text: answer }, signal);
 * // scores: { A: 0.91, B: 0.06, C: 0.01, D: 0.02 }, details.grade: 'A'
 */
export class RbrmJudge implements Classifier {
  readonly labels: readonly string[];
  readonly version: string;
  readonly revision: string;
  readonly cache: VerdictCache<Graded> | undefined;

  constructor(
    readonly id: string,
    readonly params: RbrmJudgeParams,
    readonly timeoutMs: number,
  ) {
    this.labels = params.rubric.options.map((o) => o.letter);
    if (params.confidence <= 1 / this.labels.length)
      throw new Error(
        `params.confidence: ${params.confidence} would not favour the parsed letter among ${this.labels.length} ` +
          `options; use more than ${(1 / this.labels.length).toFixed(3)}`,
      );
    this.revision = rubricRevision(params.rubric);
    this.version = `rbrm-judge/${params.model}@${this.revision.slice(0, 12)}`;
    this.cache = cacheOf(params.cache);
    rbrmTemplate(); // a broken template file fails at load, not on the first request
  }

  async classify(input: ClassifierInput, signal: AbortSignal): Promise<Graded> {
    const c = conversationOf(input);
    const key = verdictKey(this.params.model, this.revision, input);
    const hit = this.cache?.get(key);
    if (hit) return servedFromCache(hit);

    const { url, apiKey, model, rubric, maxTokens, logprobs, confidence } = this.params;
    const answer = await askJudge(
      { url, apiKey, model, api: 'chat' },
      { messages: rbrmMessages(rubric, c), maxTokens, topLogprobs: logprobs ? TOP_LOGPROBS : 0 },
      callSignal(signal, this.timeoutMs),
    );
    const parsed = parseLetter(answer.text, this.labels);
    if (!parsed)
      throw new JudgeError(
        `malformed judge answer ${JSON.stringify(answer.text.slice(0, 80))}: expected one of ${this.labels.join(', ')}`,
      );
    const fromLogprobs = letterProbabilities(answer, this.labels);
    const scores = fromLogprobs ?? confidenceSpread(parsed, this.labels, confidence);
    const grade = argmax(scores, this.labels);
    const meaning = rubric.options.find((o) => o.letter === grade)?.meaning ?? '';
    const result: Graded = {
      scores,
      explanation:
        `rubric ${rubric.id}: ${grade} (${meaning}) with p=${(scores[grade] ?? 0).toFixed(2)} ` +
        `from ${fromLogprobs ? 'logprobs' : 'the configured confidence'}`,
      details: {
        rubric_id: rubric.id,
        rubric_revision: this.revision,
        grade,
        probabilities: scores,
        probability_source: fromLogprobs ? 'logprobs' : 'confidence',
        ...accounting(answer, model),
      },
    };
    this.cache?.set(key, result);
    return result;
  }
}
