/**
 * The conversation part of `npm run eval:evasion`: for each policy pack, the share of harmful requests refused
 * when the request is placed outside the last user message or split (PLACEMENTS), reworded (WORDINGS), or
 * written in another language (TRANSLATED: refused, and not allowed, since a flag records what was not read).
 */
import { evaluateStage } from '../../policies/engine.js';
import { loadPolicy, type LoadedPolicy } from '../../policies/load.js';
import { PLACEMENTS, WORDINGS, type Message } from './conversation.js';
import { TRANSLATED } from './translations.js';
import { prng } from './transforms.js';

type Row = Record<string, Record<string, number>>;

const action = async (policy: LoadedPolicy, messages: Message[]) =>
  (await evaluateStage(policy, { stage: 'input', doc: { model: 'm', messages } })).action;

async function share(policy: LoadedPolicy, requests: Message[][], counts: (a: string) => boolean): Promise<number> {
  let n = 0;
  for (const messages of requests) if (counts(await action(policy, messages))) n++;
  return requests.length ? n / requests.length : 0;
}

const pct = (x: number | undefined) => (x === undefined ? '—' : (100 * x).toFixed(1)).padStart(7);

/** Prints the tables and returns the figures: pack → row → column → share. */
export async function conversationReport(
  packs: string[],
  unsafe: Record<string, string[]>,
  seed: number,
): Promise<Record<string, Row>> {
  const sets = Object.keys(unsafe);
  const out: Record<string, Row> = {};
  for (const pack of packs) {
    const policy = loadPolicy(pack);
    await Promise.allSettled([...policy.classifiers.values()].map((c) => c.ready?.()));
    const rows: Row = {};
    console.log(`\n${pack}: refused (%) of harmful requests moved, split or reworded; seed ${seed}\n`);
    console.log(['request'.padEnd(28), ...sets.map((s) => s.padStart(Math.max(7, s.length)))].join(' '));
    const print = (name: string, row: Record<string, number>) =>
      console.log([name.padEnd(28), ...sets.map((s) => pct(row[s]).padStart(Math.max(7, s.length)))].join(' '));
    const cases: [string, (t: string, r: () => number) => Message[]][] = [
      ...Object.entries(PLACEMENTS),
      ...Object.entries(WORDINGS).map(([name, f]): [string, (t: string, r: () => number) => Message[]] => [
        name,
        (t, r) => [{ role: 'user', content: f(t, r) }],
      ]),
    ];
    for (const [name, place] of cases) {
      const row: Record<string, number> = {};
      for (const set of sets) {
        const rand = prng(seed);
        row[set] = await share(
          policy,
          (unsafe[set] ?? []).map((t) => place(t, rand)),
          (a) => a === 'refuse',
        );
      }
      rows[name] = row;
      print(name, row);
    }
    console.log(`\n${pack}: the same eight requests by language, refused / not allowed (%)\n`);
    for (const [language, texts] of Object.entries(TRANSLATED)) {
      const requests = texts.map((t) => [{ role: 'user', content: t }]);
      const row = {
        refused: await share(policy, requests, (a) => a === 'refuse'),
        notAllowed: await share(policy, requests, (a) => a !== 'allow'),
      };
      rows[`language ${language}`] = row;
      console.log(`${language.padEnd(6)} ${pct(row.refused)} ${pct(row.notAllowed)}`);
    }
    await Promise.allSettled([...policy.classifiers.values()].map((c) => c.close?.()));
    out[pack] = rows;
  }
  return out;
}
