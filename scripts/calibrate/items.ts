/**
 * The records a calibration reads: the validation split of `../shared/data` (the same seeded hash split the heads
 * were trained with, so no training or test record is used), or a user's own labelled traffic in the eval format.
 * Input-stage records only: the levels are thresholds for judging requests.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { InputError } from '../../cli/args.js';
import { readRecords } from '../eval/data.js';
import { loadRecords, type DataRecord } from '../train/data.js';
import { hazardCodes } from '../train/heads-data.js';
import { injectionItems } from '../train/injection.js';

export interface CalItem {
  text: string;
  label: 'safe' | 'unsafe';
  source: string;
  /** MLCommons hazard codes of an unsafe item, where known. */
  categories: string[];
}

/** Safe request sources that stand for everyday traffic, and safe requests that look like harmful ones. */
export const EVERYDAY_SOURCES = ['gsm8k', 'arena_hard', 'self_instruct_seed', 'human_eval'];
export const LOOKALIKE_SOURCES = ['coconot_pref', 'cse_frr', 'coconot_eval', 'lookalike_handwritten'];

export interface CalData {
  items: CalItem[];
  /** In words, for levels.json: which split or files, with their hashes. */
  description: string;
}

/**
 * The validation split of the shared data: input records plus the built injection set's validation items
 * (BIPIA carriers with and without inserted instructions), as the injection head was validated.
 * @example
 * const { items } = validationItems('../shared/data', 7);
 */
export function validationItems(dir: string, seed: number): CalData {
  return splitItems(dir, seed, 'val');
}

/**
 * One held-out split of the shared data, built as {@link validationItems} builds the validation split: `val`, or
 * `test` (the records and BIPIA test material that neither training nor calibration reads, for reporting figures
 * after choosing anything by looking at validation).
 * @example
 * const { items } = splitItems('../shared/data', 7, 'test');
 */
export function splitItems(dir: string, seed: number, split: 'val' | 'test'): CalData {
  if (!existsSync(dir))
    throw new InputError(`${dir} does not exist: the shared data sets live in ../shared/data; pass --data-dir DIR`);
  const records = loadRecords(dir, seed).filter((r) => r.split === split && r.stage === 'input');
  const items: CalItem[] = records.map((r: DataRecord) => ({
    text: r.text,
    label: r.label,
    source: r.source,
    categories: r.label === 'unsafe' ? [...hazardCodes(r)] : [],
  }));
  const bipia = join(dir, 'raw', 'bipia');
  if (existsSync(bipia))
    for (const it of injectionItems(bipia, seed).filter((i) => i.split === split))
      items.push({ text: it.text, label: it.y[0] === 1 ? 'unsafe' : 'safe', source: it.source, categories: [] });
  const name = split === 'val' ? 'validation' : 'test';
  return {
    items,
    description: `${name} split (seed ${seed}, 70/15/15 hash split) of ${relative(process.cwd(), dir) || dir}`,
  };
}

const HAZARD = /^S(?:1[0-4]|[1-9])$/;

/**
 * A user's labelled traffic: JSON Lines in the eval format (`{"id","text","label":"safe"|"unsafe","source"?,
 * "categories"?}`); output-stage records are skipped. A bad line stops with `file:line: reason`.
 */
export function fileItems(files: readonly string[]): CalData {
  const items: CalItem[] = [];
  const hashes: string[] = [];
  for (const file of files) {
    const { items: read } = readRecords(file);
    hashes.push(
      `${basename(file)} sha256:${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)}`,
    );
    for (const { record: r } of read) {
      if (r.stage !== 'input') continue;
      items.push({
        text: r.text,
        label: r.label,
        source: r.source ?? basename(file, '.jsonl'),
        categories: r.label === 'unsafe' ? (r.categories ?? []).filter((c) => HAZARD.test(c)) : [],
      });
    }
  }
  if (!items.some((i) => i.label === 'safe'))
    throw new InputError(
      `${files.join(', ')}: no safe input records; levels are set by how much benign traffic they refuse, so the data needs safe records`,
    );
  return { items, description: `user data: ${hashes.join(', ')}` };
}
