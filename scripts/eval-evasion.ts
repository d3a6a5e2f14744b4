/**
 * `npm run eval:evasion`: how much recall each obfuscation costs the default policy's input stage, with the
 * normalisation pass on and off, and the false-positive rate on benign sets with and without it.
 *
 *   npm run eval:evasion -- [--seed 1] [--limit N] [--sets advbench,forbidden_questions,jailbreak_llms]
 *     [--data DIR] [--json out.json]
 *
 * Data is read in place from ../shared/data (relative to the repository root) unless --data says otherwise.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existingPath, intOption, parseCli, runCli } from '../cli/args.js';
import { normalize } from '../classifiers/normalize.js';
import { evaluateStage } from '../policies/engine.js';
import { compilePolicy, DEFAULT_POLICY_PATH, loadPolicy, policyFile, type LoadedPolicy } from '../policies/load.js';
import { conversationReport } from './evasion/conversation-report.js';
import { GAPS, prng, TRANSFORMS } from './evasion/transforms.js';

const ROOT = join(DEFAULT_POLICY_PATH, '..', '..');
const SHARED_DATA = join(ROOT, '..', 'shared', 'data');
/** Harmful requests (few caught by the rules-only pack), and in-the-wild jailbreaks (a quarter caught). */
const DEFAULT_UNSAFE = 'advbench,forbidden_questions,jailbreak_llms';
/** The packs the conversation part measures (the obfuscation part measures the default pack). */
const DEFAULT_PACKS = [join(DEFAULT_POLICY_PATH, '..', 'rules-only'), DEFAULT_POLICY_PATH].join(',');
const BENIGN_SETS = ['gsm8k', 'arena_hard', 'benign_instructions', 'cyberseceval_frr', 'coconot_pref'];

interface Item {
  text: string;
  label: string;
  stage: string;
}

function read(data: string, set: string, label: 'safe' | 'unsafe', limit: number): string[] {
  const rows = readFileSync(join(data, `${set}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Item)
    .filter((r) => r.label === label && r.stage === 'input');
  return rows.slice(0, limit).map((r) => r.text);
}

/** The rules-only policy with every rules classifier's normalisation switched off. */
function withoutNormalisation(): LoadedPolicy {
  const doc = JSON.parse(readFileSync(policyFile(join(DEFAULT_POLICY_PATH, '..', 'rules-only')), 'utf8'));
  for (const c of doc.classifiers) if (c.type === 'rules') c.params = { ...c.params, normalize: false };
  return compilePolicy(doc, 'default (normalize: false)');
}

const refused = async (policy: LoadedPolicy, text: string) =>
  (await evaluateStage(policy, { stage: 'input', doc: { model: 'm', messages: [{ role: 'user', content: text }] } }))
    .action === 'refuse';

async function hits(policy: LoadedPolicy, texts: string[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const t of texts) out.push(await refused(policy, t));
  return out;
}
const share = (xs: boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : 0);
const rate = async (policy: LoadedPolicy, texts: string[]) => share(await hits(policy, texts));

const pct = (x: number) => (100 * x).toFixed(1).padStart(5);
const pts = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}`.padStart(6);

const USAGE = `usage: npm run eval:evasion -- [--seed N] [--limit N] [--sets a,b,c] [--data DIR] [--json FILE] [--packs a,b]

  How much recall each obfuscation costs the default policy's input stage, normalisation on and off.
  --seed N     seed of the obfuscations (default 1)
  --limit N    records per set (default: all)
  --sets LIST  unsafe sets, comma-separated (default ${DEFAULT_UNSAFE})
  --data DIR   the labelled JSONL sets (default ../shared/data beside the repository)
  --json FILE  also write the figures as JSON
  --packs LIST policy packs for the conversation part: requests moved, split, reworded or translated
               (default policies/rules-only,policies/default)
  exit codes: 0 done, 1 internal error, 2 usage or I/O error`;

async function main(): Promise<void> {
  const { values } = parseCli(process.argv.slice(2), {
    seed: { type: 'string', default: '1' },
    limit: { type: 'string', default: '100000' },
    sets: { type: 'string', default: DEFAULT_UNSAFE },
    data: { type: 'string', default: SHARED_DATA },
    json: { type: 'string' },
    packs: { type: 'string', default: DEFAULT_PACKS },
  });
  const UNSAFE_SETS = values.sets.split(',').filter(Boolean);
  const seed = intOption('seed', values.seed);
  const limit = intOption('limit', values.limit, 1);
  const data = existingPath(
    values.data,
    'the labelled sets live in ../shared/data beside the repository; pass --data DIR',
  );
  for (const set of [...UNSAFE_SETS, ...BENIGN_SETS])
    existingPath(join(data, `${set}.jsonl`), `no set named ${set} in ${data}`);
  const on = loadPolicy(join(DEFAULT_POLICY_PATH, '..', 'rules-only'));
  const off = withoutNormalisation();
  const out: Record<string, unknown> = { seed, policy: on.revision };

  const unsafe = Object.fromEntries(UNSAFE_SETS.map((s) => [s, read(data, s, 'unsafe', limit)]));
  console.log(
    `Recall (refused, %) of the default policy's input stage on unsafe items, normalisation on and off; Δ = points ` +
      `against the`,
  );
  console.log(
    `untransformed text (normalisation on); kept = share of the items caught untransformed that are still caught.`,
  );
  console.log(`seed ${seed}; sets: ${UNSAFE_SETS.map((s) => `${s} (${unsafe[s].length})`).join(', ')}\n`);
  const header = [
    'transformation'.padEnd(26),
    ...UNSAFE_SETS.flatMap((s) => [
      `${s} on`.padStart(Math.max(8, s.length + 3)),
      'off'.padStart(6),
      'Δ'.padStart(6),
      'kept'.padStart(6),
    ]),
  ].join(' ');
  console.log(header);
  const base: Record<string, boolean[]> = {};
  const rows: Record<string, Record<string, { on: number; off: number; delta: number; kept: number }>> = {};
  let worst = 0;
  for (const [name, f] of [...Object.entries(TRANSFORMS), ...Object.entries(GAPS)]) {
    const gap = name in GAPS;
    if (name === Object.keys(GAPS)[0]) console.log('known gaps (not undone by the pass; not counted):');
    const row: Record<string, { on: number; off: number; delta: number; kept: number }> = {};
    for (const set of UNSAFE_SETS) {
      const rand = prng(seed);
      const texts = unsafe[set].map((t) => f(t, rand));
      const caught = await hits(on, texts);
      base[set] ??= caught;
      const r = {
        on: share(caught),
        off: await rate(off, texts),
        delta: share(caught) - share(base[set]),
        kept: share(caught.filter((_, i) => base[set][i])),
      };
      if (!gap) worst = Math.min(worst, r.delta);
      row[set] = r;
    }
    rows[gap ? `${name} (gap)` : name] = row;
    console.log(
      [
        name.padEnd(26),
        ...UNSAFE_SETS.flatMap((s) => [
          pct(row[s].on).padStart(Math.max(8, s.length + 3)),
          pct(row[s].off),
          pts(row[s].delta),
          pct(row[s].kept),
        ]),
      ].join(' '),
    );
  }
  console.log(`\nWorst loss with normalisation: ${(100 * -worst).toFixed(1)} points (goal: at most 10).`);
  console.log(
    `Baseline caught: ` +
      `${UNSAFE_SETS.map((s) => `${s} ${base[s].filter(Boolean).length}/${base[s].length}`).join(', ')} (rules only: 'kept' is the telling column).`,
  );
  out.recall = rows;
  out.worstLossPoints = Math.round(-worst * 1000) / 10;

  console.log(`\nFalse positives (refused, %) on benign input items, untransformed:\n`);
  console.log(
    [
      'set'.padEnd(22),
      'items'.padStart(6),
      'with'.padStart(7),
      'without'.padStart(8),
      'changed by pass'.padStart(16),
      'µs/item'.padStart(8),
    ].join(' '),
  );
  const fp: Record<string, unknown> = {};
  for (const set of BENIGN_SETS) {
    const texts = read(data, set, 'safe', limit);
    const started = performance.now();
    let changed = 0;
    for (const t of texts) if (normalize(t).changed) changed++;
    const us = ((performance.now() - started) * 1000) / Math.max(1, texts.length);
    const r = {
      items: texts.length,
      with: await rate(on, texts),
      without: await rate(off, texts),
      changed: changed / Math.max(1, texts.length),
      usPerItem: Math.round(us * 10) / 10,
    };
    fp[set] = r;
    console.log(
      [
        set.padEnd(22),
        String(r.items).padStart(6),
        pct(r.with).padStart(7),
        pct(r.without).padStart(8),
        pct(r.changed).padStart(16),
        us.toFixed(1).padStart(8),
      ].join(' '),
    );
  }
  out.falsePositives = fp;
  out.conversation = await conversationReport(values.packs.split(',').filter(Boolean), unsafe, seed);
  if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 2));
}

await runCli({ name: 'eval:evasion', usage: USAGE }, main);
