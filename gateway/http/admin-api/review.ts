import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredDecision } from '../../../audit/types.js';
import type { Condition } from '../../../policies/schema.js';
import type { LoadedPolicy } from '../../../policies/load.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { AuditSource } from '../audit-export.js';
import { findDecision } from './decisions.js';
import { outputText, promptText, scanDecisions, summaryOf } from './records.js';

/** How close to a rule's threshold a classifier score counts as "near" (either side). */
export const NEAR_MARGIN = 0.1;

export const REVIEW_KINDS = ['grade_b', 'shadow', 'near_threshold'] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

/** Every score condition (classifier, label, threshold) anywhere in a rule's `when`. */
function scoreConditions(c: Condition, out: { classifier: string; label: string; threshold: number }[] = []) {
  if ('all' in c) for (const x of c.all) scoreConditions(x, out);
  else if ('any' in c) for (const x of c.any) scoreConditions(x, out);
  else if ('not' in c) scoreConditions(c.not, out);
  // Levels are resolved to numbers when the policy loads; a name left here belongs to a broken policy.
  else if ('classifier' in c && typeof c.threshold === 'number')
    out.push({ classifier: c.classifier, label: c.label, threshold: c.threshold });
  return out;
}

/** The enforced rules' score conditions that a record's classifier scores came within NEAR_MARGIN of. */
export function nearThresholds(r: StoredDecision, policy: LoadedPolicy) {
  const conds = policy.rules.flatMap((x) =>
    x.rule.when ? scoreConditions(x.rule.when).map((c) => ({ ...c, rule: x.rule.id })) : [],
  );
  const near: { rule: string; classifier: string; label: string; score: number; threshold: number }[] = [];
  for (const stage of [r.stages.input, r.stages.output])
    for (const cl of stage?.classifiers ?? [])
      for (const c of conds) {
        const score = cl.scores[c.label];
        if (c.classifier === cl.id && typeof score === 'number' && Math.abs(score - c.threshold) <= NEAR_MARGIN)
          near.push({ rule: c.rule, classifier: c.classifier, label: c.label, score, threshold: c.threshold });
      }
  return near;
}

/**
 * GET /console/api/review?kind=…: what a reviewer should look at — answers graded B (the rubric's second option,
 * the policies' "refused, though it should not have" or similar), decisions the shadow policy would have taken
 * differently, and requests whose scores fell within NEAR_MARGIN of an enforced rule's threshold. Newest first.
 */
export async function reviewQueue(source: AuditSource, policy: LoadedPolicy, kind: unknown, limit: number) {
  if (!REVIEW_KINDS.includes(kind as ReviewKind))
    throw new GatewayError('invalid_request', `kind: expected one of ${REVIEW_KINDS.join(', ')}`, 'kind');
  const rows: object[] = [];
  const row = (r: StoredDecision, extra: object) => ({
    ...summaryOf(r),
    prompt: promptText(r)?.slice(0, 600) ?? null,
    ...extra,
  });
  await scanDecisions(source, {}, (r) => {
    if (kind === 'grade_b' && r.rbrm?.grade === 'B') rows.push(row(r, { why: `graded B by ${r.rbrm.rubric}` }));
    else if (kind === 'shadow' && r.shadow && r.shadow.action !== r.action)
      rows.push(row(r, { why: `enforced ${r.action}, shadow ${r.shadow.policy.id} would ${r.shadow.action}` }));
    else if (kind === 'near_threshold') {
      const near = nearThresholds(r, policy);
      if (near.length)
        rows.push(
          row(r, { near, why: near.map((n) => `${n.rule}: ${n.label} ${n.score} vs ${n.threshold}`).join('; ') }),
        );
    }
  });
  return { kind, total: rows.length, data: rows.reverse().slice(0, limit) };
}

export interface ReviewLabel {
  decision_id: string;
  /** Whether the gateway's decision was right. */
  verdict: 'correct' | 'wrong';
  /** The right label for the prompt. */
  label: 'safe' | 'unsafe';
  note?: string;
  at: string;
}

/**
 * Reviewers' labels, one JSON line each, appended and fsynced before the answer (a later label of the same
 * decision replaces the earlier one when read).
 */
export class ReviewLabels {
  constructor(private readonly file: string) {}

  async add(source: AuditSource, body: Record<string, unknown>): Promise<ReviewLabel> {
    const { decision_id, verdict, label, note } = body;
    if (verdict !== 'correct' && verdict !== 'wrong')
      throw new GatewayError('invalid_request', 'verdict: expected "correct" or "wrong"', 'verdict');
    if (label !== 'safe' && label !== 'unsafe')
      throw new GatewayError('invalid_request', 'label: expected "safe" or "unsafe" (the right label)', 'label');
    if (note !== undefined && (typeof note !== 'string' || note.length > 2000))
      throw new GatewayError('invalid_request', 'note: expected a string of at most 2000 characters', 'note');
    const r = await findDecision(source, decision_id);
    const entry: ReviewLabel = {
      decision_id: r.decision_id,
      verdict,
      label,
      ...(note && { note }),
      at: new Date().toISOString(),
    };
    await mkdir(dirname(this.file), { recursive: true });
    const fh = await open(this.file, 'a', 0o600);
    try {
      await fh.write(`${JSON.stringify(entry)}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return entry;
  }

  /** The latest label of each decision. */
  async all(): Promise<Map<string, ReviewLabel>> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return new Map();
    }
    const out = new Map<string, ReviewLabel>();
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const l = JSON.parse(line) as ReviewLabel;
        out.set(l.decision_id, l);
      } catch {
        // a torn last line from a crash: the labels before it stand
      }
    }
    return out;
  }

  /**
   * The labels as training data in the shared data format `npm run train -- --data DIR` reads
   * ({id, text, label, stage, kind, source, categories, prompt?, rbrm?}): one line for the prompt, and one for the
   * answer when the log kept it (so the refusal head learns from graded answers). Records whose content was not
   * kept as text cannot be training data and are counted as skipped.
   */
  async trainingData(source: AuditSource): Promise<{ lines: string[]; skipped: number }> {
    const labels = await this.all();
    const lines: string[] = [];
    let skipped = 0;
    if (labels.size === 0) return { lines, skipped };
    await scanDecisions(source, {}, (r) => {
      const l = labels.get(r.decision_id);
      if (!l) return;
      const prompt = promptText(r);
      if (prompt === undefined) return void skipped++;
      const categories = summaryOf(r).categories;
      const base = { label: l.label, source: 'console-review', categories };
      lines.push(JSON.stringify({ id: r.decision_id, text: prompt, stage: 'input', kind: 'request', ...base }));
      const output = outputText(r);
      if (output !== undefined && r.rbrm)
        lines.push(
          JSON.stringify({
            id: `${r.decision_id}:output`,
            text: output,
            stage: 'output',
            kind: 'response',
            prompt,
            ...base,
            rbrm: r.rbrm.grade,
          }),
        );
    });
    return { lines, skipped };
  }
}
