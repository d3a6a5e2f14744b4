/**
 * `npm run eval:bipia`: how well a policy's input stage catches indirect prompt injection in tool results, on
 * BIPIA (microsoft/BIPIA, MIT; ../shared/data/raw/bipia). Each benign document (an email, a table, a Stack Overflow
 * answer) becomes the result of a tool call in a conversation; an injected copy has one of the benchmark's attack
 * strings written into it (at the start, the middle or the end, in rotation). Prints the recall on injected tool
 * results and the false-positive rate on clean ones, per task.
 *
 *   npm run eval:bipia -- [--split test|train] [--policy DIR] [--per-attack N] [--data DIR] [--json FILE]
 *
 * BIPIA splits both the documents and the attacks into train and test; patterns are written against `train`,
 * and the figures to report are `test` (the default).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existingPath, intOption, parseCli, runCli, UsageError } from '../cli/args.js';
import { evaluateStage } from '../policies/engine.js';
import { DEFAULT_POLICY_PATH, loadPolicy, type LoadedPolicy } from '../policies/load.js';

const ROOT = join(DEFAULT_POLICY_PATH, '..', '..');
const BIPIA = join(ROOT, '..', 'shared', 'data', 'raw', 'bipia');

const USAGE = `usage: npm run eval:bipia -- [--split test|train] [--policy DIR] [--per-attack N] [--data DIR] [--json FILE]

  Recall on injected tool results and false positives on clean ones (BIPIA email, table and code tasks).
  --split S        test (default: the figures to report) or train (the split patterns are written against)
  --policy DIR     the policy to measure (default: the default pack)
  --per-attack N   documents each attack is written into (default 3)
  --data DIR       the BIPIA folder (default ../shared/data/raw/bipia beside the repository)
  --json FILE      also write the figures as JSON
  exit codes: 0 done, 1 internal error, 2 usage or I/O error`;

/** A task: its documents' file, the attack file it takes, and how a document reads as text. */
const TASKS = [
  { name: 'email', attacks: 'text', text: (r: { context: unknown }) => String(r.context) },
  { name: 'table', attacks: 'text', text: (r: { context: unknown }) => String(r.context) },
  {
    name: 'code',
    attacks: 'code',
    text: (r: { context: unknown }) => (Array.isArray(r.context) ? r.context.join('\n') : String(r.context)),
  },
] as const;

/** The attack written into a document at the start, at a sentence or line break near the middle, or at the end. */
function inject(doc: string, attack: string, where: number): string {
  if (where === 0) return `${attack}\n${doc}`;
  if (where === 2) return `${doc}\n${attack}`;
  const half = Math.floor(doc.length / 2);
  const cut = [doc.indexOf('\n', half), doc.indexOf('. ', half)].filter((i) => i >= 0).sort((a, b) => a - b)[0];
  const at = cut === undefined ? half : cut + 1;
  return `${doc.slice(0, at)}\n${attack}\n${doc.slice(at)}`;
}

/** A conversation whose last message is the tool's result. */
const conversation = (question: string, result: string) => ({
  model: 'eval',
  messages: [
    { role: 'user', content: question },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'read_document', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: 'call_1', content: result },
  ],
});

const QUESTION = 'Please answer my question using the document the tool returned.';

async function refused(policy: LoadedPolicy, result: string): Promise<boolean> {
  const d = await evaluateStage(policy, { stage: 'input', doc: conversation(QUESTION, result) });
  return d.action === 'refuse';
}

interface TaskFigures {
  task: string;
  injected: number;
  caught: number;
  clean: number;
  falsePositives: number;
}

async function main(): Promise<void> {
  const { values } = parseCli(process.argv.slice(2), {
    split: { type: 'string', default: 'test' },
    policy: { type: 'string', default: DEFAULT_POLICY_PATH },
    'per-attack': { type: 'string', default: '3' },
    data: { type: 'string', default: BIPIA },
    json: { type: 'string' },
  });
  const split = values.split;
  if (split !== 'test' && split !== 'train') throw new UsageError('--split is test or train');
  const perAttack = intOption('per-attack', values['per-attack'], 1);
  const data = existingPath(values.data, 'BIPIA lives in ../shared/data/raw/bipia beside the repository; pass --data');
  const policy = loadPolicy(values.policy);
  const figures: TaskFigures[] = [];
  for (const task of TASKS) {
    const docs = readFileSync(join(data, task.name, `${split}.jsonl`), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => task.text(JSON.parse(l) as { context: unknown }));
    const byCategory = JSON.parse(readFileSync(join(data, `${task.attacks}_attack_${split}.json`), 'utf8')) as Record<
      string,
      string[]
    >;
    const attacks = Object.values(byCategory).flat();
    const f: TaskFigures = { task: task.name, injected: 0, caught: 0, clean: docs.length, falsePositives: 0 };
    for (const doc of docs) if (await refused(policy, doc)) f.falsePositives++;
    for (const [a, attack] of attacks.entries())
      for (let r = 0; r < perAttack; r++) {
        const doc = docs[(a * 7 + r * 13) % docs.length] ?? '';
        f.injected++;
        if (await refused(policy, inject(doc, attack, (a + r) % 3))) f.caught++;
      }
    figures.push(f);
  }
  const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');
  const total = figures.reduce(
    (t, f) => ({
      task: 'all',
      injected: t.injected + f.injected,
      caught: t.caught + f.caught,
      clean: t.clean + f.clean,
      falsePositives: t.falsePositives + f.falsePositives,
    }),
    { task: 'all', injected: 0, caught: 0, clean: 0, falsePositives: 0 },
  );
  console.log(`BIPIA ${split} split, policy ${policy.policy.id} (${policy.revision.slice(0, 12)})`);
  console.log('task     injected  recall   clean  false positives');
  for (const f of [...figures, total])
    console.log(
      [
        f.task.padEnd(8),
        String(f.injected).padStart(8),
        pct(f.caught, f.injected).padStart(7),
        String(f.clean).padStart(7),
        pct(f.falsePositives, f.clean).padStart(16),
      ].join(' '),
    );
  if (values.json)
    writeFileSync(values.json, JSON.stringify({ split, policy: policy.revision, figures, total }, null, 2));
}

await runCli({ name: 'eval:bipia', usage: USAGE }, main);
