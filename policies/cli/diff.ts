import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  diffDecisions,
  diffPolicies,
  parseCorpusLine,
  type CorpusItem,
  type FieldChange,
  type ItemDiff,
  type PolicyDiff,
} from '../diff.js';
import type { Condition } from '../schema.js';
import { EXIT, positional, reportInvalid, say, sayJson, tryLoad, UsageError, type ExitCode, type Io } from './io.js';
import { conditionText } from './trace.js';

export const DIFF_USAGE = `diff <old> <new> [--corpus FILE.jsonl] [--limit N] [--examples N] [--json]
          Rules (and classifiers, taxonomy, rubrics, defaults) added, removed or changed, field by field. With
          a corpus (lines of {"id","text","label","stage"?,"prompt"?} or chat requests), the decisions that
          would change: counts per old→new action, with examples.`;

/** Reads a JSONL corpus; bad lines are collected, not fatal. */
export function readCorpus(
  file: string,
  limit = Infinity,
): { items: CorpusItem[]; errors: { line: number; message: string }[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read corpus ${file}: ${(e as Error).message}`);
  }
  const items: CorpusItem[] = [];
  const errors: { line: number; message: string }[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (items.length >= limit) break;
    if (!line.trim()) continue;
    try {
      items.push(parseCorpusLine(line, i + 1));
    } catch (e) {
      errors.push({ line: i + 1, message: (e as Error).message });
    }
  }
  return { items, errors };
}

const MAX = 100;
const show = (field: string, v: unknown) => {
  const s =
    field === 'when' && v && typeof v === 'object' ? conditionText(v as Condition) : (JSON.stringify(v) ?? '(none)');
  return s.length > MAX ? `${s.slice(0, MAX - 1)}…` : s;
};
const changeLine = (c: FieldChange) => `${c.field}: ${show(c.field, c.from)} → ${show(c.field, c.to)}`;

function printItems<T extends { id: string }>(
  io: Io,
  title: string,
  d: ItemDiff<T>,
  describe: (x: T) => string = () => '',
): void {
  if (!d.added.length && !d.removed.length && !d.changed.length) return;
  say(io.stdout, `${title}:`);
  for (const x of d.added) say(io.stdout, `  + ${x.id}${describe(x)}`);
  for (const x of d.removed) say(io.stdout, `  - ${x.id}${describe(x)}`);
  for (const c of d.changed) {
    say(io.stdout, `  ~ ${c.id}`);
    for (const f of c.fields) say(io.stdout, `      ${changeLine(f)}`);
  }
}

function printDiff(io: Io, d: PolicyDiff): void {
  say(io.stdout, `${d.from.id} ${d.from.revision.slice(0, 12)} → ${d.to.id} ${d.to.revision.slice(0, 12)}`);
  if (d.from.revision === d.to.revision) say(io.stdout, 'same revision: no changes');
  for (const f of d.envelope) say(io.stdout, `  ${changeLine(f)}`);
  printItems(io, 'rules', d.rules, (r) => ` (${r.stage}, ${r.action}${r.mode !== 'enforce' ? `, ${r.mode}` : ''})`);
  if (d.rules.reordered)
    say(io.stdout, '  rules reordered (order breaks ties between rules of the same action and priority)');
  printItems(io, 'classifiers', d.classifiers, (c) => ` (${c.type})`);
  printItems(io, 'taxonomy', d.taxonomy);
  printItems(io, 'rubrics', d.rubrics);
}

/** `diff <old> <new>`: exit 0 when both policies load (whatever changed), 1 when either is invalid. */
export async function diffCommand(args: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      corpus: { type: 'string' },
      limit: { type: 'string' },
      examples: { type: 'string' },
    },
  });
  const num = (v: string | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v)) throw new UsageError(`--${name} expects a whole number`);
    return Number(v);
  };
  const limit = num(values.limit, 'limit', Infinity);
  const examples = num(values.examples, 'examples', 3);
  const [oldPath, newPath] = [positional(positionals, 0, '<old>'), positional(positionals, 1, '<new>')];
  const corpus = values.corpus === undefined ? undefined : readCorpus(resolve(io.cwd, values.corpus), limit);
  const a = tryLoad(oldPath);
  if (!a.ok) return reportInvalid(io, a.error, values.json, { which: 'old' });
  const b = tryLoad(newPath);
  if (!b.ok) return reportInvalid(io, b.error, values.json, { which: 'new' });
  const diff = diffPolicies(a.policy, b.policy);
  const decisions = corpus && (await diffDecisions(a.policy, b.policy, corpus.items, { examples }));
  if (values.json) {
    sayJson(io, {
      ok: true,
      ...diff,
      ...(decisions && { corpus: { file: values.corpus, ...decisions, lineErrors: corpus.errors } }),
    });
    return EXIT.ok;
  }
  printDiff(io, diff);
  if (!decisions) return EXIT.ok;
  say(
    io.stdout,
    `\ncorpus ${values.corpus}: ${decisions.total} items, ${decisions.changed} decisions change, ` +
      `${decisions.rulesChanged} keep their action with different rules`,
  );
  for (const e of corpus.errors.slice(0, 5)) say(io.stdout, `  skipped line ${e.line}: ${e.message}`);
  if (corpus.errors.length > 5) say(io.stdout, `  … ${corpus.errors.length - 5} more bad lines`);
  for (const t of decisions.transitions) {
    const labels = Object.entries(t.labels)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    say(io.stdout, `  ${t.from} → ${t.to}: ${t.count} (${labels})`);
    for (const x of t.examples) {
      const shown = x.text.length > 80 ? `${x.text.slice(0, 79)}…` : x.text;
      say(io.stdout, `      ${x.id}${x.label ? ` [${x.label}]` : ''}: ${JSON.stringify(shown)}`);
      say(io.stdout, `        rules: ${x.from.rules.join(', ') || '(none)'} → ${x.to.rules.join(', ') || '(none)'}`);
    }
  }
  if (decisions.rules.length)
    say(io.stdout, `  per rule: ${decisions.rules.map((r) => `${r.id} +${r.gained}/-${r.lost}`).join(', ')}`);
  return EXIT.ok;
}
