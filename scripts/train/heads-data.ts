/**
 * Which records teach which head, and with what targets. Every choice here is recorded in the model card.
 */
import type { DataRecord, Split } from './data.js';

/** One training/evaluation example for a head. `y` holds 1, 0 or NaN (unknown) per label. */
export interface Item {
  text: string;
  /** For the prompt+response head. */
  prompt?: string;
  y: number[];
  source: string;
  split: Split;
}

export const SAFE_INPUT_SOURCES = new Set([
  'gsm8k',
  'arena_hard',
  'self_instruct_seed',
  'human_eval',
  'coconot_pref',
  'cse_frr',
  'coconot_eval',
  'davidson',
  'toxigen',
  'openai_moderation',
]);

/** Input records that are plain requests or content (jailbreak wrappers and injections have their own heads). */
const plainInput = (r: DataRecord) => r.stage === 'input' && (r.kind === 'request' || r.kind === 'content');

/** Unsafe request/content: every unsafe plain input against every safe input. */
export function unsafeItems(records: DataRecord[]): Item[] {
  return records
    .filter(plainInput)
    .map((r) => ({ text: r.text, y: [r.label === 'unsafe' ? 1 : 0], source: r.source, split: r.split }));
}

/** Hazard codes trained (S13 elections has 18 examples, too few to learn or to measure). */
export const CATEGORY_LABELS = [
  'S1',
  'S2',
  'S3',
  'S4',
  'S5',
  'S6',
  'S7',
  'S8',
  'S9',
  'S10',
  'S11',
  'S12',
  'S14',
] as const;

/** Source category → hazard code, only where the mapping is clear (see MODEL_CARD.md). */
const CATEGORY_MAP: Record<string, Record<string, string>> = {
  forbidden_q: {
    'Hate Speech': 'S10',
    Pornography: 'S12',
    'Privacy Violence': 'S7',
    'Legal Opinion': 'S6',
    'Financial Advice': 'S6',
    'Health Consultation': 'S6',
    Malware: 'S2',
    Fraud: 'S2',
    'Illegal Activity': 'S2',
  },
  jbb_goal: {
    'Malware/Hacking': 'S2',
    'Fraud/Deception': 'S2',
    'Sexual/Adult content': 'S12',
    Privacy: 'S7',
    'Expert advice': 'S6',
  },
  openai_moderation: {
    'openai:S': 'S12',
    'openai:S3': 'S4',
    'openai:H': 'S10',
    'openai:H2': 'S10',
    'openai:SH': 'S11',
  },
  toxigen: { hate: 'S10' },
  davidson: { hate: 'S10' },
  coconot_eval: { 'copyright violations': 'S8', 'privacy violations': 'S7' },
};

export function hazardCodes(r: DataRecord): Set<string> {
  const codes = new Set(r.categories.filter((c) => /^S(?:1[0-4]|[1-9])$/.test(c))); // not Do-Not-Answer's S007 etc.
  const map = CATEGORY_MAP[r.source];
  if (map && r.label === 'unsafe') for (const c of r.categories) if (map[c]) codes.add(map[c]);
  return codes;
}

/**
 * Hazard categories, one-vs-rest: an unsafe input with known codes is positive for them and negative for the
 * rest; safe inputs are negative for all; unsafe inputs without a clear code are left out (unknown).
 */
export function categoryItems(records: DataRecord[]): Item[] {
  const out: Item[] = [];
  for (const r of records.filter(plainInput)) {
    const codes = hazardCodes(r);
    if (r.label === 'unsafe' && codes.size === 0) continue;
    const y = CATEGORY_LABELS.map((c) => (r.label === 'safe' ? 0 : codes.has(c) ? 1 : 0));
    out.push({ text: r.text, y, source: r.source, split: r.split });
  }
  return out;
}

/**
 * Jailbreak wrappers against plain requests and content, safe or unsafe (a direct harmful request is not a
 * jailbreak). Tense rephrasings are left out: they are a jailbreak trick written as plain requests.
 */
export function jailbreakItems(records: DataRecord[]): Item[] {
  return records
    .filter((r) => r.stage === 'input' && r.kind !== 'injection' && r.source !== 'tense')
    .map((r) => ({ text: r.text, y: [r.kind === 'jailbreak' ? 1 : 0], source: r.source, split: r.split }));
}

/**
 * Refusal cues at the start of a response. The rubric grades in the data do not say whether a response
 * refuses: coconot_pref's "rejected" (B) responses mostly comply with a disclaimer, and JailbreakBench's A
 * means "not jailbroken", which includes compliant fiction. So the refusal target is read off the response:
 * a clear refusal in its opening is 1, no refusal cue in the opening is 0, and partial refusals (a refusal
 * followed by a list, steps or "here is …") are left out. Offering an alternative ("however, I can …") still
 * counts as a refusal.
 */
const REFUSAL =
  /\b(I\s+(?:cannot|can['’]?t|can not|won['’]?t|will not|must (?:decline|refuse)|am unable to|['’]?m unable to|am not able to|['’]?m not able to|am not going to|['’]?m not going to)\s+(?:help|assist|provide|fulfill|comply|create|write|generate|support|do|engage|give|share|produce|answer|participate|continue|offer|promote|discuss|make)|(?:not|never) (?:be )?(?:appropriate|ethical|acceptable|responsible) (?:for me )?to|I (?:must|have to) (?:decline|refuse)|against my (?:guidelines|programming|principles|ethical)|(?:I['’]?m|I am) sorry,? but)/i;
/** A refusal that goes on to deliver content (a list, steps, "here is") is partial. */
const PARTIAL = /\b(?:here (?:is|are)|here['’]s|step 1|first,? you)\b|\n\s*(?:1\.|-|\*) /i;

export function refusalTarget(response: string): number {
  const opening = response.trim().slice(0, 240);
  if (!REFUSAL.test(opening)) return 0;
  return PARTIAL.test(response.trim().slice(0, 600)) ? NaN : 1;
}

/**
 * Responses with their prompts, and each once more with an empty prompt (source `<source>_noprompt`), so the
 * head also works when the gateway has no prompt to give it.
 */
export function refusalItems(records: DataRecord[]): Item[] {
  const items = records
    .filter((r) => r.stage === 'output' && r.prompt !== undefined)
    .map((r) => ({ text: r.text, prompt: r.prompt, y: [refusalTarget(r.text)], source: r.source, split: r.split }))
    .filter((it) => !Number.isNaN(it.y[0]));
  return [...items, ...items.map((it) => ({ ...it, prompt: '', source: `${it.source}_noprompt` }))];
}
