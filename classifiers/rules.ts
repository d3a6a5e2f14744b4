import { z } from 'zod';
import { DETECTORS, DETECTOR_NAMES, type Detector } from './detectors.js';
import { normalize } from './normalize.js';
import { authorRegex } from './regex.js';
import type { Classifier, ClassifierInput, Span } from './types.js';

/** Parameters of the rules classifier, as a policy declares them. */
export const RulesParamsSchema = z.strictObject({
  patterns: z
    .array(
      z.strictObject({
        label: z.string().min(1),
        regex: z.string().min(1),
        flags: z
          .string()
          .regex(/^[imsu]*$/, 'allowed regex flags are i, m, s and u')
          .default('i'),
        /** The score a match gives its label. */
        score: z.number().min(0).max(1).default(1),
      }),
    )
    .default([]),
  keywords: z
    .array(
      z.strictObject({
        label: z.string().min(1),
        words: z.array(z.string().min(1)).min(1),
        score: z.number().min(0).max(1).default(1),
      }),
    )
    .default([]),
  detectors: z.array(z.strictObject({ detector: z.enum(DETECTOR_NAMES), label: z.string().min(1) })).default([]),
  /**
   * Also match the normalised text (look-alikes, invisibles, spelled-out letters, leetspeak) and the decoded
   * base64, hex and rot13 spans in it. Spans always point into the original text: a match in the folded text
   * is mapped back character by character, a match in a decoded span covers the whole encoded run.
   */
  normalize: z.boolean().default(true),
});
export type RulesParams = z.infer<typeof RulesParamsSchema>;

interface Matcher extends Detector {
  label: string;
  score: number;
  source: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles the declared patterns; throws with the index of a regex that does not compile. */
function compile(params: RulesParams): Matcher[] {
  const out: Matcher[] = [];
  params.patterns.forEach((p, i) => {
    let pattern: RegExp;
    try {
      pattern = authorRegex(p.regex, `${p.flags.replace('g', '')}g`);
    } catch (e) {
      throw new Error(`params.patterns[${i}].regex: ${(e as Error).message}`);
    }
    out.push({ label: p.label, score: p.score, pattern, source: `pattern ${i}` });
  });
  params.keywords.forEach((k, i) => {
    const alt = k.words.map((w) => escape(w).replace(/\s+/g, '\\s+')).join('|');
    out.push({
      label: k.label,
      score: k.score,
      pattern: new RegExp(`(?<![\\p{L}\\p{N}])(?:${alt})(?![\\p{L}\\p{N}])`, 'giu'),
      source: `keywords ${i}`,
    });
  });
  for (const d of params.detectors) {
    const det: Detector = DETECTORS[d.detector];
    out.push({
      label: d.label,
      score: 1,
      pattern: new RegExp(det.pattern.source, det.pattern.flags),
      verify: det.verify,
      source: d.detector,
    });
  }
  return out;
}

/**
 * A quick test for "no pattern matches anywhere": the matchers' patterns joined into one alternation per flag
 * set. Only a filter — when it finds something, every matcher still scans on its own. A pattern that cannot be
 * joined (a backreference, or a named group, whose meaning depends on its own group numbering) gets a group of
 * its own.
 */
function prefilter(matchers: Matcher[]): RegExp[] {
  const groups = new Map<string, string[]>();
  const alone: RegExp[] = [];
  for (const m of matchers) {
    const source = m.pattern.source;
    if (/\\[1-9]|\\k<|\(\?</.test(source.replace(/\(\?<[=!]/g, ''))) {
      alone.push(new RegExp(source, m.pattern.flags.replace('g', '')));
      continue;
    }
    const flags = [...m.pattern.flags.replace('g', '')].sort().join('');
    groups.set(flags, [...(groups.get(flags) ?? []), `(?:${source})`]);
  }
  return [...[...groups].map(([flags, sources]) => new RegExp(sources.join('|'), flags)), ...alone];
}

/**
 * The stage's classifiers read the same few texts (a conversation, and the same conversation without some roles
 * for a rule that reads it so): the normalisations of the last four texts are kept, so each is computed once per
 * text rather than once per rules classifier.
 */
const recent: { text: string; result: ReturnType<typeof normalize> }[] = [];
function normalizeOnce(text: string): ReturnType<typeof normalize> {
  const hit = recent.find((r) => r.text === text);
  if (hit) return hit.result;
  const result = normalize(text);
  recent.unshift({ text, result });
  if (recent.length > 4) recent.pop();
  return result;
}

/**
 * The rules classifier: regexes, keyword lists and built-in PII/secret detectors declared in the policy.
 * A label's score is the highest score of its matching patterns (0 when none match); every match is a span,
 * so `redact` rules can replace it.
 *
 * @example
 * const c = new RulesClassifier('rules', { patterns: [{ label: 'S9', regex: 'pipe\\s*bomb' }] }, 100);
 * await c.classify({ stage: 'input', text: 'how to build a pipe bomb' }, signal); // scores.S9 === 1
 */
export class RulesClassifier implements Classifier {
  readonly labels: readonly string[];
  readonly version: string;
  readonly local = true;
  private readonly matchers: Matcher[];
  private readonly anyMatch: RegExp[];
  private readonly normalize: boolean;
  /** Labels in sorted order: scores are built in the canonical order the audit log stores. */
  private readonly scoreOrder: readonly string[];

  constructor(
    readonly id: string,
    params: RulesParams,
    readonly timeoutMs: number,
  ) {
    const parsed = RulesParamsSchema.parse(params);
    this.matchers = compile(parsed);
    this.anyMatch = prefilter(this.matchers);
    this.normalize = parsed.normalize;
    this.labels = [...new Set(this.matchers.map((m) => m.label))];
    this.scoreOrder = [...this.labels].sort();
    this.version = `rules/${this.matchers.length}${this.normalize ? '+normalize' : ''}`;
  }

  async classify(input: ClassifierInput) {
    return this.classifySync(input);
  }

  classifySync({ text }: ClassifierInput) {
    const scores: Record<string, number> = {};
    for (const label of this.scoreOrder) scores[label] = 0;
    const spans: Span[] = [];
    const seen = new Set<string>();
    const hits: string[] = [];
    const normalized = this.normalize ? normalizeOnce(text) : undefined;
    const readings = [
      text,
      ...(normalized?.changed ? [normalized.text] : []),
      ...(normalized?.variants ?? []).map((v) => v.text),
    ];
    if (!this.anyMatch.some((re) => readings.some((t) => re.test(t))))
      return { scores, spans, explanation: 'no pattern matched' };
    for (const matcher of this.matchers) {
      const where: string[] = [];
      const scan = (
        reading: string,
        toOriginal: (s: number, e: number) => { start: number; end: number },
        via: string,
      ) => {
        matcher.pattern.lastIndex = 0;
        for (const match of reading.matchAll(matcher.pattern)) {
          if (match[0].length === 0 || (matcher.verify && !matcher.verify(match[0]))) continue;
          const at = toOriginal(match.index, match.index + match[0].length);
          const key = `${at.start}:${at.end}`;
          if (!seen.has(matcher.label + '\0' + key)) spans.push({ label: matcher.label, ...at });
          seen.add(matcher.label + '\0' + key);
          if (!where.includes(via)) where.push(via);
        }
      };
      scan(text, (start, end) => ({ start, end }), 'text');
      // Every reading is scanned, not only when the text missed: redaction needs every span.
      if (normalized?.changed) scan(normalized.text, normalized.toOriginal, 'normalised text');
      // A re-reading of the whole text maps its matches back; a decoded span is replaced whole.
      for (const variant of normalized?.variants ?? [])
        scan(
          variant.text,
          variant.toOriginal ?? (() => ({ start: variant.start, end: variant.end })),
          `${variant.kind} span`,
        );
      if (!where.length) continue;
      scores[matcher.label] = Math.max(scores[matcher.label] ?? 0, matcher.score);
      hits.push(`${matcher.label} (${matcher.source}${where[0] === 'text' ? '' : `, in ${where.join(', ')}`})`);
    }
    return {
      scores,
      spans,
      explanation: hits.length ? `matched ${hits.join(', ')}` : 'no pattern matched',
    };
  }
}
