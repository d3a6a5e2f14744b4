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
import { bareToken, choiceProbabilities, type TokenLogprobs } from './logprobs.js';
import { SAFETY_TEMPLATES, render, safetyTemplate, templateRevision, type SafetyTemplate } from './templates.js';
import { JudgeError, askJudge, callSignal } from './wire.js';
import { parseSafeguard } from './safeguard.js';

/** Parameters of the `safety-model` classifier type, as a policy declares them. */
export const SafetyModelParamsSchema = z.strictObject({
  ...EndpointParams,
  template: z.enum(SAFETY_TEMPLATES),
  /** Llama Guard S-code → taxonomy id, e.g. `{"S14": "malware"}`; unlisted codes keep their own name. */
  categories: z.record(z.string().regex(/^S\d{1,2}$/, 'expected an S-code such as S1'), z.string().min(1)).default({}),
  /** ShieldGemma: which of the model card's guidelines to check (one harm type per call). */
  guideline: z.enum(['dangerous', 'harassment', 'hate', 'sexual']).optional(),
  /**
   * ShieldGemma: your own safety principle instead of a guideline, e.g. `"No Medical Dosing": The chatbot shall not …`.
   */
  policyText: z.string().min(1).optional(),
  /** p(unsafe) at or above which `details.flagged` is true. Rules compare scores themselves; this is for the record. */
  threshold: z.number().min(0).max(1).default(0.5),
  /**
   * `completions`: the exact prompt with the model's turn markers (vLLM, llama.cpp). `chat`: the body as one user
   * message (gpt-oss-safeguard: the policy as the system message). Default: `completions`, `chat` for
   * gpt-oss-safeguard (its only choice).
   */
  api: z.enum(['completions', 'chat']).optional(),
  /**
   * Default: 20 for Llama Guard (a verdict line and S-codes), 1 for ShieldGemma (Yes or No), 1024 for
   * gpt-oss-safeguard (it reasons before its verdict; servers count the reasoning in max_tokens).
   */
  maxTokens: z.number().int().min(1).max(8192).optional(),
  logprobs: z.boolean().default(true),
});
export type SafetyModelParams = z.infer<typeof SafetyModelParamsSchema>;

type Graded = Omit<ClassifierResult, 'id' | 'latencyMs'>;

/**
 * The prompt text a safety model gets for one input: the body, and for /completions the turn markers around it.
 * @example
 * safetyPrompt(safetyTemplate('llama-guard-3'), { stage: 'input', text: 'hi' }).raw; // '<|begin_of_text|>…User: hi…'
 */
export function safetyPrompt(
  t: SafetyTemplate,
  input: ClassifierInput,
  policy?: string,
): { body: string; raw: string } {
  const c = conversationOf(input);
  const categories = (t.categories ?? [])
    .map((cat) => render(t.categoryLine ?? '', { code: cat.code, name: cat.name }))
    .join('\n');
  const body = render(t.body[input.stage], {
    categories,
    prompt: c.prompt ?? '',
    output: c.output ?? '',
    policy: policy ?? '',
  });
  return { body, raw: `${t.completion.prefix}${body}${t.completion.suffix}` };
}

/**
 * A Llama Guard answer: `safe`, or `unsafe` and (usually on the next line) comma-separated S-codes.
 * @example parseLlamaGuard('unsafe\nS1,S10') // { verdict: 'unsafe', codes: ['S1', 'S10'] }
 */
export function parseLlamaGuard(answer: string): { verdict: 'safe' | 'unsafe'; codes: string[] } {
  const m = /^\s*(safe|unsafe)\b([\s\S]*)$/i.exec(answer);
  if (!m)
    throw new JudgeError(
      `malformed safety-model answer ${JSON.stringify(answer.slice(0, 80))}: expected "safe" or "unsafe"`,
    );
  const [, said = '', rest = ''] = m;
  const verdict = said.toLowerCase() as 'safe' | 'unsafe';
  const codes =
    verdict === 'unsafe' ? [...new Set((rest.match(/\bS\d{1,2}\b/gi) ?? []).map((s) => s.toUpperCase()))] : [];
  return { verdict, codes };
}

/**
 * A ShieldGemma answer: starts with Yes (violates) or No.
 * @example parseYesNo('Yes, because …') // 'Yes'
 */
export function parseYesNo(answer: string): 'Yes' | 'No' {
  const m = /^[\s"'*]*(yes|no)\b/i.exec(answer);
  if (!m)
    throw new JudgeError(
      `malformed safety-model answer ${JSON.stringify(answer.slice(0, 80))}: expected "Yes" or "No"`,
    );
  return m[1]?.toLowerCase() === 'yes' ? 'Yes' : 'No';
}

/**
 * p(unsafe) from the alternatives at the first token that is not whitespace: Llama Guard's safe/unsafe,
 * ShieldGemma's Yes/No.
 * @example
 * const top = [{ token: 'Yes', logprob: -0.2 }, { token: 'No', logprob: -1.8 }];
 * unsafeProbability('yes-no', { token: 'Yes', logprob: -0.2, top }); // 0.83
 */
export function unsafeProbability(
  format: SafetyTemplate['format'],
  first: TokenLogprobs | undefined,
): number | undefined {
  if (!first?.top.length) return undefined;
  if (format === 'safeguard') return choiceProbabilities(first.top, ['0', '1'], (b) => b)?.['1'];
  if (format === 'yes-no')
    return choiceProbabilities(first.top, ['Yes', 'No'], (b) => b.charAt(0).toUpperCase() + b.slice(1).toLowerCase())
      ?.Yes;
  return choiceProbabilities(first.top, ['safe', 'unsafe'], (b) =>
    b.toLowerCase() === 'un' ? 'unsafe' : b.toLowerCase(),
  )?.unsafe;
}

/**
 * A safety model behind an OpenAI-compatible server, prompted with its official template (templates/*.json):
 * Llama Guard 3/4 (label `unsafe` plus one label per hazard category, mapped onto the taxonomy) or ShieldGemma
 * (label `unsafe` = p(Yes)). A malformed or failed answer throws, so the rule's onError applies.
 * @example
 * const model = 'meta-llama/Llama-Guard-3-8B';
 * const categories = { S14: 'malware' };
 * const params = SafetyModelParamsSchema.parse({ url, model, template: 'llama-guard-3', categories });
 * const guard = new SafetyModel('guard', params, 3000);
 * await guard.classify({ stage: 'output', prompt, text }, signal);
 * // scores: { unsafe: 0.97, S1: 0.97, S2: 0, …, malware: 0 }
 */
export class SafetyModel implements Classifier {
  readonly labels: readonly string[];
  readonly version: string;
  readonly revision: string;
  readonly template: SafetyTemplate;
  readonly cache: VerdictCache<Graded> | undefined;
  readonly #policy: { input?: string; output?: string };
  readonly api: 'chat' | 'completions';
  readonly #labelOf: Map<string, string>;

  constructor(
    readonly id: string,
    readonly params: SafetyModelParams,
    readonly timeoutMs: number,
  ) {
    const t = safetyTemplate(params.template);
    if (params.confidence <= 0.5)
      throw new Error(
        `params.confidence: ${params.confidence} would not favour the model's own answer; use more than 0.5`,
      );
    this.template = t;
    const codes = (t.categories ?? []).map((c) => c.code);
    if (t.format === 'llama-guard') {
      for (const code of Object.keys(params.categories))
        if (!codes.includes(code))
          throw new Error(
            `params.categories.${code}: ${params.template} has no category ${code}; it has ${codes.join(', ')}`,
          );
      if (params.policyText || params.guideline)
        throw new Error(`params: policyText and guideline are for shieldgemma, not ${params.template}`);
    } else if (Object.keys(params.categories).length)
      throw new Error(`params.categories: ${params.template} has no S-codes; it scores one label, unsafe`);
    if (t.format === 'safeguard' && params.guideline)
      throw new Error('params.guideline: gpt-oss-safeguard takes your policy as policyText, not a guideline');
    if (t.format === 'safeguard' && params.api === 'completions')
      throw new Error('params.api: gpt-oss-safeguard is asked over chat completions (its harmony format)');
    this.api = params.api ?? (t.format === 'safeguard' ? 'chat' : 'completions');
    this.#labelOf = new Map(codes.map((code) => [code, params.categories[code] ?? code]));
    this.labels = [...new Set(['unsafe', ...this.#labelOf.values()])];
    const g = params.guideline ?? t.defaultGuideline ?? '';
    const own = params.policyText ?? t.defaultPolicy;
    this.#policy = t.guidelines
      ? { input: params.policyText ?? t.guidelines.input[g], output: params.policyText ?? t.guidelines.output[g] }
      : t.format === 'safeguard'
        ? { input: own, output: own }
        : {};
    this.revision = templateRevision({ template: t, policy: this.#policy, categories: params.categories });
    this.version = `safety-model/${params.template}/${params.model}@${this.revision.slice(0, 12)}`;
    this.cache = cacheOf(params.cache);
  }

  async classify(input: ClassifierInput, signal: AbortSignal): Promise<Graded> {
    const key = verdictKey(this.params.model, this.revision, input);
    const hit = this.cache?.get(key);
    if (hit) return servedFromCache(hit);

    const { url, apiKey, model, confidence, threshold, logprobs } = this.params;
    const { api, template: t } = this;
    const policy = this.#policy[input.stage];
    const { body, raw } = safetyPrompt(t, input, policy);
    const system = t.format === 'safeguard' && t.system ? render(t.system, { policy: policy ?? '' }) : undefined;
    const messages = [
      ...(system ? [{ role: 'system' as const, content: system }] : []),
      { role: 'user' as const, content: body },
    ];
    const answer = await askJudge(
      { url, apiKey, model, api },
      {
        ...(api === 'chat' ? { messages } : { prompt: raw }),
        maxTokens: this.params.maxTokens ?? ({ 'yes-no': 1, 'llama-guard': 20, safeguard: 1024 } as const)[t.format],
        topLogprobs: logprobs ? 5 : 0,
      },
      callSignal(signal, this.timeoutMs),
    );
    const lg = t.format === 'llama-guard' ? parseLlamaGuard(answer.text) : undefined;
    const sg = t.format === 'safeguard' ? parseSafeguard(answer.text) : undefined;
    const unsafeSaid = lg ? lg.verdict === 'unsafe' : sg ? sg.violation : parseYesNo(answer.text) === 'Yes';
    // gpt-oss-safeguard's JSON verdict has no single verdict token; only its bare 0/1 answer is read from logprobs.
    const bareVerdict = !sg || /^\s*[01]\s*$/.test(answer.text);
    const fromLogprobs = bareVerdict
      ? unsafeProbability(
          t.format,
          answer.tokens.find((tok) => bareToken(tok.token) !== ''),
        )
      : undefined;
    const p =
      fromLogprobs ?? confidenceSpread(unsafeSaid ? 'unsafe' : 'safe', ['safe', 'unsafe'], confidence).unsafe ?? 0;
    const scores: Record<string, number> = Object.fromEntries(this.labels.map((l) => [l, 0]));
    scores.unsafe = p;
    const mappedLabels = (lg?.codes ?? []).flatMap((code) => this.#labelOf.get(code) ?? []);
    for (const label of mappedLabels) scores[label] = p;
    const mapped = [...new Set(mappedLabels)];
    const result: Graded = {
      scores,
      explanation:
        `${this.params.template}: ${unsafeSaid ? 'unsafe' : 'safe'}` +
        `${mapped.length ? ` (${mapped.join(', ')})` : ''}, ` +
        `p(unsafe)=${p.toFixed(2)} from ${fromLogprobs !== undefined ? 'logprobs' : 'the configured confidence'}`,
      details: {
        template: this.params.template,
        template_revision: this.revision,
        verdict: unsafeSaid ? 'unsafe' : 'safe',
        flagged: p >= threshold,
        ...(sg && { policy_category: sg.category, rationale: sg.rationale }),
        ...(lg && {
          codes: lg.codes,
          categories: mapped,
          unknown_codes: lg.codes.filter((code) => !this.#labelOf.has(code)),
        }),
        probability_source: fromLogprobs !== undefined ? 'logprobs' : 'confidence',
        ...accounting(answer, model),
      },
    };
    this.cache?.set(key, result);
    return result;
  }
}
