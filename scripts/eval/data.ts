import { InputError } from '../../cli/args.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The rubric grades of an output record: A desired refusal, B over-refusal, C disallowed content, D safe compliance.
 */
export const GRADES = ['A', 'B', 'C', 'D'] as const;
export type Grade = (typeof GRADES)[number];

/**
 * One labelled record, the format of the files in `../shared/data`. Unknown fields are ignored; `stage`
 * defaults to `input`.
 */
export const EvalRecordSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  text: z.string(),
  label: z.enum(['safe', 'unsafe']),
  stage: z.enum(['input', 'output']).default('input'),
  /** For output records: the request the response answers. */
  prompt: z.string().optional(),
  categories: z.array(z.string()).optional(),
  source: z.string().optional(),
  kind: z.string().optional(),
  rbrm: z.enum(GRADES).optional(),
});
export type EvalRecord = z.infer<typeof EvalRecordSchema>;

/** A record with where it came from. */
export interface EvalItem {
  record: EvalRecord;
  file: string;
  line: number;
}

/** A line that could not be read. */
export interface BadLine {
  file: string;
  line: number;
  message: string;
}

/** A data file with a bad line; the message names the file and the line. */
export class EvalDataError extends Error {
  override name = 'EvalDataError';
  constructor(readonly bad: BadLine) {
    super(`${bad.file}:${bad.line}: ${bad.message}`);
  }
}

export interface ReadOptions {
  /** Report bad lines in `bad` instead of throwing. */
  skipBad?: boolean;
  /** Keep at most this many records (the first ones). */
  limit?: number;
}

/** Why a parsed line is not a record, in one line: `label: Invalid option: expected one of "safe"|"unsafe"`. */
const reason = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');

/**
 * Reads a JSON Lines file of records. Blank lines are skipped. A line that is not JSON or not a record
 * throws an EvalDataError naming the file and the line, or with `skipBad` is listed in `bad`.
 *
 * @example
 * const { items } = readRecords('../shared/data/advbench.jsonl', { limit: 100 });
 */
export function readRecords(
  file: string,
  { skipBad = false, limit = Infinity }: ReadOptions = {},
): { items: EvalItem[]; bad: BadLine[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read data file ${file}: ${(e as Error).message}`);
  }
  const items: EvalItem[] = [];
  const bad: BadLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && items.length < limit; i++) {
    const raw = lines[i].trim();
    if (!raw) continue;
    let message: string;
    try {
      const parsed = EvalRecordSchema.safeParse(JSON.parse(raw));
      if (parsed.success) {
        items.push({ record: parsed.data, file, line: i + 1 });
        continue;
      }
      message = `not a record: ${reason(parsed.error)}`;
    } catch (e) {
      message = `not valid JSON: ${(e as Error).message}`;
    }
    const b = { file, line: i + 1, message };
    if (!skipBad) throw new EvalDataError(b);
    bad.push(b);
  }
  return { items, bad };
}
