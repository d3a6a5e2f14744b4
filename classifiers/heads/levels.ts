/**
 * Operating levels of a model folder: `levels.json` beside `heads.json`, written by `npm run calibrate`. Each
 * level (strict, balanced, permissive) is one threshold per label, chosen on held-out validation data so that
 * the benign refusal rate meets the level's target. A policy names a level instead of a number
 * (`"threshold": "level"`), and the level is resolved to these numbers when the policy loads.
 *
 * `levels.json` records the SHA-256 of the `heads.json` it was calibrated against: thresholds only mean
 * something for the exact heads they were chosen for, so a retrained model with old levels fails at load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PRECISIONS, type Precision } from '../encoder/precision.js';

export const LEVEL_NAMES = ['strict', 'balanced', 'permissive'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];
export const LEVELS_FORMAT = 'rbrm-levels/1';
export const LEVELS_FILE = 'levels.json';

const Rate = z.number().min(0).max(1);

/** What a level was measured to do on the calibration data: the figures `npm run eval -- --levels` prints. */
export const LevelFiguresSchema = z.strictObject({
  /** The level's objective: max(everyday benign, look-alikes ÷ lookalikeFactor), each the worst of the pooled rate and every source of 100+ items. */
  benignRefusal: Rate,
  everydayRefusal: Rate.nullable(),
  lookalikeRefusal: Rate.nullable(),
  /** Refusal rate of each source's safe items, and recall on each source's unsafe items. */
  refusedSafeBySource: z.record(z.string(), Rate),
  recallBySource: z.record(z.string(), Rate),
  /** Recall on unsafe items of each hazard category (items whose category is known). */
  recallByCategory: z.record(z.string(), Rate),
  recall: Rate.nullable(),
});

/**
 * What a level's output threshold (the pair head's `disallowed` label: an answer judged with its prompt carries
 * disallowed content) was measured to do on the calibration answers; absent from files without output levels.
 */
export const AnswerFiguresSchema = z.strictObject({
  label: z.string(),
  /** The share of safe answers the level may block. */
  target: Rate,
  /**
   * Safe compliant answers (not refusals: blocking one swaps a refusal for a refusal) blocked: the worst of the
   * pooled rate and every group's of 30+ answers (the objective).
   */
  safeBlocked: Rate,
  /** Per group (gold rubric grade, else source): safe compliant answers blocked, and disallowed answers blocked. */
  safeBlockedByGroup: z.record(z.string(), Rate),
  recall: Rate.nullable(),
  recallByGroup: z.record(z.string(), Rate),
  /** How many answers each group holds: safe compliant ones (`safe:<group>`) and disallowed ones (`unsafe:<group>`). */
  counts: z.record(z.string(), z.number().int().nonnegative()).default({}),
});
export type AnswerFigures = z.infer<typeof AnswerFiguresSchema>;

const LevelEntrySchema = z.strictObject({
  /** The benign refusal rate the level aims at (its objective must not exceed it). */
  target: Rate,
  thresholds: z.record(z.string(), Rate),
  figures: LevelFiguresSchema,
  /** The output stage: what the level's `disallowed` threshold (in `thresholds`) does to answers. */
  answers: AnswerFiguresSchema.optional(),
});

export const LevelsFileSchema = z.strictObject({
  format: z.literal(LEVELS_FORMAT),
  /** SHA-256 of the heads.json these thresholds were chosen for. */
  heads: z.string().regex(/^[0-9a-f]{64}$/),
  /**
   * The encoder precision the scores were computed at (`npm run calibrate` uses the one the gateway serves at).
   * Absent in files written before precisions existed: those were calibrated at fp32.
   */
  precision: z.enum(PRECISIONS).optional(),
  /** Where the calibration data came from, in words (the split, or the user's files with their hashes). */
  data: z.string().min(1),
  /** Safe input sources counted as everyday benign traffic, and as look-alikes of harmful requests. */
  everyday: z.array(z.string()),
  lookalikes: z.array(z.string()),
  lookalikeFactor: z.number().positive(),
  /** Pooling the scores were computed with, per head (as served). */
  pooling: z.record(z.string(), z.enum(['first', 'max'])),
  /**
   * Heads whose labels were calibrated only where another label reaches a threshold: a rule using their levels
   * reads `all: [{label ≥ level}, {gate label ≥ threshold}]` (the default pack's category rules do).
   */
  gates: z.array(z.strictObject({ head: z.string(), label: z.string(), threshold: Rate })).default([]),
  /** Where the output levels' answers came from, in words (absent when the model has no `disallowed` label). */
  answersData: z.string().min(1).optional(),
  levels: z.strictObject({ strict: LevelEntrySchema, balanced: LevelEntrySchema, permissive: LevelEntrySchema }),
});
export type LevelFigures = z.infer<typeof LevelFiguresSchema>;
export type LevelEntry = z.infer<typeof LevelEntrySchema>;
export type LevelsFile = z.infer<typeof LevelsFileSchema>;

/** Per level, per label: the threshold a policy's level resolves to. */
export type LevelThresholds = Readonly<Record<LevelName, Readonly<Record<string, number>>>>;

/**
 * Reads and checks a model folder's `levels.json`; undefined when the folder has none (levels then cannot be
 * named by a policy, and the loader says how to make them). Throws when the file is malformed or was calibrated
 * for other heads.
 * @example
 * const levels = loadLevels(modelDir('default'), model.hash); // levels?.balanced.thresholds.unsafe
 */
export function loadLevels(dir: string, headsSha256: string): LevelsFile | undefined {
  const file = join(dir, LEVELS_FILE);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const parsed = LevelsFileSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  const levels = parsed.data;
  if (levels.heads !== headsSha256)
    throw new Error(
      `${file} was calibrated for other heads (heads.json changed); rerun npm run calibrate -- --model ${dir}`,
    );
  return levels;
}

/** The precision a levels file was calibrated at (fp32 for files older than the field). */
export const levelsPrecision = (levels: LevelsFile): Precision => levels.precision ?? 'fp32';

/**
 * The warning for levels calibrated at another precision than the encoder serves, or undefined when they match.
 * A warning, not a load error: the thresholds still apply (and the policy's own test cases catch a decision that
 * moved), while refusing to start would turn a debugging switch (`GATEWAY_ENCODER_PRECISION=fp32`) into an outage.
 */
export function precisionMismatch(file: string, calibrated: Precision, served: Precision): string | undefined {
  if (calibrated === served) return undefined;
  return (
    `${file} was calibrated at encoder precision ${calibrated} but the encoder serves ${served}: scores near a ` +
    `level's thresholds may land on the other side; rerun npm run calibrate (it scores at the served precision, ` +
    `GATEWAY_ENCODER_PRECISION) or serve ${calibrated}`
  );
}

/** The thresholds alone, as a classifier exposes them. */
export const thresholdsOf = (levels: LevelsFile): LevelThresholds => ({
  strict: levels.levels.strict.thresholds,
  balanced: levels.levels.balanced.thresholds,
  permissive: levels.levels.permissive.thresholds,
});
