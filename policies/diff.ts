import { canonicalJson } from './canonical.js';
import { evaluateStage } from './engine.js';
import type { LoadedPolicy } from './load.js';
import type { Action } from './schema.js';
import { asRequest, asResponse, runCase } from './testing.js';

/**
 * What changes between two policies: the rules (and classifiers, taxonomy, rubrics, envelope) added, removed
 * or changed field by field, and, over a corpus, the decisions that would change.
 */

export interface FieldChange {
  /** Dotted path inside the item, e.g. `action`, `when`, `params.patterns`, `defaults.onError`. */
  field: string;
  from: unknown;
  to: unknown;
}

export interface ItemDiff<T> {
  added: T[];
  removed: T[];
  changed: { id: string; fields: FieldChange[] }[];
}

export interface PolicyDiff {
  from: { id: string; revision: string; source: string };
  to: { id: string; revision: string; source: string };
  /** Top-level fields: id, mode, description, defaults, tools (the allow-lists). */
  envelope: FieldChange[];
  rules: ItemDiff<{ id: string; stage: string; action: Action; mode: string }> & { reordered: boolean };
  classifiers: ItemDiff<{ id: string; type: string }>;
  taxonomy: ItemDiff<{ id: string }>;
  rubrics: ItemDiff<{ id: string }>;
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** Field-level differences between two values; plain objects are walked up to `depth` levels deep. */
export function fieldChanges(a: unknown, b: unknown, prefix = '', depth = 2): FieldChange[] {
  if (same(a, b)) return [];
  if (!isPlain(a) || !isPlain(b) || depth === 0) return [{ field: prefix || '(value)', from: a, to: b }];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => fieldChanges(a[k], b[k], prefix ? `${prefix}.${k}` : k, k === 'when' ? 0 : depth - 1));
}

function diffItems<T extends { id: string }, S>(a: T[], b: T[], summary: (x: T) => S): ItemDiff<S> {
  const before = new Map(a.map((x) => [x.id, x]));
  const after = new Map(b.map((x) => [x.id, x]));
  return {
    added: b.filter((x) => !before.has(x.id)).map(summary),
    removed: a.filter((x) => !after.has(x.id)).map(summary),
    changed: b
      .filter((x) => before.has(x.id))
      .map((x) => ({ id: x.id, fields: fieldChanges(before.get(x.id), x) }))
      .filter((c) => c.fields.length > 0),
  };
}

/**
 * Compares two loaded policies (their effective documents, defaults filled in, `extends` resolved).
 *
 * @example
 * const d = diffPolicies(loadPolicy('old/policy.json'), loadPolicy('new/policy.json'));
 * d.rules.changed; // [{ id: 'weapons', fields: [{ field: 'action', from: 'refuse', to: 'flag' }] }]
 */
export function diffPolicies(a: LoadedPolicy, b: LoadedPolicy): PolicyDiff {
  const pa = a.policy;
  const pb = b.policy;
  const envelope = (['id', 'mode', 'description', 'defaults', 'tools'] as const).flatMap((k) =>
    fieldChanges(pa[k], pb[k], k),
  );
  const common = (xs: { id: string }[], other: { id: string }[]) =>
    xs.map((x) => x.id).filter((id) => other.some((o) => o.id === id));
  return {
    from: { id: pa.id, revision: a.revision, source: a.source },
    to: { id: pb.id, revision: b.revision, source: b.source },
    envelope,
    rules: {
      ...diffItems(pa.rules, pb.rules, (r) => ({ id: r.id, stage: r.stage, action: r.action, mode: r.mode })),
      reordered: common(pa.rules, pb.rules).join('\0') !== common(pb.rules, pa.rules).join('\0'),
    },
    classifiers: diffItems(pa.classifiers, pb.classifiers, (c) => ({ id: c.id, type: c.type })),
    taxonomy: diffItems(pa.taxonomy, pb.taxonomy, (c) => ({ id: c.id })),
    rubrics: diffItems(pa.rubrics, pb.rubrics, (c) => ({ id: c.id })),
  };
}

/** One corpus item: a line of the shared data format, or a full chat request. */
export type CorpusItem = {
  id: string;
  label?: string;
  /** Input items: the chat request. Output items: the request the answer was given to (if known). */
  request: Record<string, unknown>;
  /** A short text to show in examples. */
  text: string;
} & (
  | { stage: 'input' }
  | {
      stage: 'output';
      /** The answer. */
      output: string;
    }
);

/** Parses one JSONL line of a corpus; throws with the reason when the line is neither format. */
export function parseCorpusLine(line: string, n: number): CorpusItem {
  const o: unknown = JSON.parse(line);
  if (!isPlain(o)) throw new Error('expected a JSON object');
  const id = typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : `line ${n}`;
  const label = typeof o.label === 'string' ? o.label : undefined;
  if (Array.isArray(o.messages)) {
    const text = o.messages
      .map((m) => (isPlain(m) && typeof m.content === 'string' ? m.content : ''))
      .filter(Boolean)
      .join(' / ');
    return { id, label, stage: 'input', request: o, text };
  }
  if (typeof o.text !== 'string') throw new Error('expected "text" (a data record) or "messages" (a chat request)');
  if (o.stage === 'output') {
    return {
      id,
      label,
      stage: 'output',
      request: typeof o.prompt === 'string' ? asRequest(o.prompt) : { messages: [] },
      output: o.text,
      text: o.text,
    };
  }
  return { id, label, stage: 'input', request: asRequest(o.text), text: o.text };
}

export interface ItemDecision {
  action: Action;
  rules: string[];
}

/** Decides one corpus item: the input stage for requests, the output stage (with its prompt) for answers. */
export async function decideItem(loaded: LoadedPolicy, item: CorpusItem): Promise<ItemDecision> {
  if (item.stage === 'input') {
    const { input } = await runCase(loaded, { request: item.request });
    return { action: input.action, rules: input.matches.map((m) => m.id) };
  }
  const prompt = (item.request.messages as { content?: unknown }[])
    .map((m) => (typeof m.content === 'string' ? m.content : ''))
    .join('\n\n');
  const d = await evaluateStage(loaded, { stage: 'output', doc: asResponse(item.output), prompt });
  return { action: d.action, rules: d.matches.map((m) => m.id) };
}

export interface DecisionChange {
  id: string;
  label?: string;
  stage: 'input' | 'output';
  text: string;
  from: ItemDecision;
  to: ItemDecision;
}

export interface CorpusDiff {
  total: number;
  /** Items whose action changed. */
  changed: number;
  /** Items with the same action but different matched rules. */
  rulesChanged: number;
  /** `old→new` → count, and the corpus labels of those items. */
  transitions: {
    from: Action;
    to: Action;
    count: number;
    labels: Record<string, number>;
    examples: DecisionChange[];
  }[];
  /** Per rule: how many items it newly matches, and how many it no longer matches. */
  rules: { id: string; gained: number; lost: number }[];
}

/**
 * Runs every corpus item through both policies and counts the decisions that change.
 *
 * @example
 * const d = await diffDecisions(oldPolicy, newPolicy, items);
 * d.transitions; // [{ from: 'allow', to: 'refuse', count: 3, labels: { safe: 1, unsafe: 2 }, examples: [...] }]
 */
export async function diffDecisions(
  a: LoadedPolicy,
  b: LoadedPolicy,
  items: Iterable<CorpusItem>,
  { examples = 3 } = {},
): Promise<CorpusDiff> {
  const out: CorpusDiff = { total: 0, changed: 0, rulesChanged: 0, transitions: [], rules: [] };
  const rules = new Map<string, { id: string; gained: number; lost: number }>();
  const rule = (id: string) => {
    const counts = rules.get(id) ?? { id, gained: 0, lost: 0 };
    rules.set(id, counts);
    return counts;
  };
  for (const item of items) {
    out.total++;
    const [from, to] = [await decideItem(a, item), await decideItem(b, item)];
    for (const id of to.rules) if (!from.rules.includes(id)) rule(id).gained++;
    for (const id of from.rules) if (!to.rules.includes(id)) rule(id).lost++;
    if (from.action === to.action) {
      if (!same([...from.rules].sort(), [...to.rules].sort())) out.rulesChanged++;
      continue;
    }
    out.changed++;
    let t = out.transitions.find((x) => x.from === from.action && x.to === to.action);
    if (!t) out.transitions.push((t = { from: from.action, to: to.action, count: 0, labels: {}, examples: [] }));
    t.count++;
    const label = item.label ?? '(unlabelled)';
    t.labels[label] = (t.labels[label] ?? 0) + 1;
    if (t.examples.length < examples)
      t.examples.push({ id: item.id, label: item.label, stage: item.stage, text: item.text.slice(0, 200), from, to });
  }
  out.transitions.sort((x, y) => y.count - x.count);
  out.rules = [...rules.values()].sort((x, y) => y.gained + y.lost - (x.gained + x.lost) || x.id.localeCompare(y.id));
  return out;
}
