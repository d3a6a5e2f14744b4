/**
 * `npm run eval -- --levels`: what each operating level of a pack means, measured through the policy engine on the
 * validation split of the shared data (the split the levels were calibrated on), or with `split: 'test'` on the test
 * split (for figures after anything was chosen by looking at validation, such as a pattern). One column
 * for the rules-only pack and one per level of the model pack: the benign refusal rates (everyday traffic and
 * look-alikes), recall per hazard category and per source, and the refusal rate of every safe source; and for the
 * output stage, the split's graded answers through each column's output stage: safe compliant answers and
 * disallowed answers refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LEVEL_NAMES, type AnswerFigures, type LevelFigures } from '../../classifiers/heads/levels.js';
import { loadModel, modelDir } from '../../classifiers/heads/model.js';
import { loadPolicy, policyFile, type LoadedPolicy } from '../../policies/load.js';
import { DEFAULT_LOOKALIKE_FACTOR, figuresOf } from '../calibrate/fit.js';
import { ANSWER_TARGETS, answerFigures, splitAnswers, type AnswerItem } from '../calibrate/answers.js';
import { EVERYDAY_SOURCES, LOOKALIKE_SOURCES, splitItems, type CalItem } from '../calibrate/items.js';
import { countsOf } from '../calibrate/table.js';
import type { EvalItem } from './data.js';
import { runItems } from './run.js';

export interface LevelsOptions {
  dataDir: string;
  /** The model pack (default policies/default) and the rules-only pack to compare it with. */
  policy: string;
  rulesOnly?: string;
  /** The held-out split to read: `val` (default, the split the levels were calibrated on) or `test`. */
  split?: 'val' | 'test';
  concurrency?: number;
  limit?: number;
  progress?: (line: string) => void;
}

export interface LevelsReport {
  data: string;
  policy: string;
  columns: Record<string, LevelFigures>;
  counts: Record<string, string>;
  /**
   * The output stage: per column, the split's graded answers (with their prompts) through the pack's
   * output stage alone: safe compliant answers and disallowed answers refused.
   */
  answers: Record<string, AnswerFigures>;
}

/** The split seed of the pack's model (the heads' training seed), 7 when the pack runs no `onnx` model. */
function seedOf(path: string): number {
  const file = policyFile(path);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    classifiers?: { type: string; params?: { model?: string } }[];
  };
  const onnx = doc.classifiers?.find((c) => c.type === 'onnx');
  if (!onnx) return 7;
  return loadModel(modelDir(onnx.params?.model ?? 'default', dirname(file)), []).manifest.seed;
}

/** The pack at one level: a policy that extends it and sets the level (category overrides still apply). */
function atLevel(path: string, level: string): LoadedPolicy {
  const dir = mkdtempSync(join(tmpdir(), 'eval-level-'));
  try {
    const file = join(dir, 'policy.json');
    const doc = { apiVersion: 'gateway/v1', id: `at-${level}`, extends: policyFile(path), level };
    writeFileSync(file, JSON.stringify(doc));
    return loadPolicy(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function figuresFor(
  loaded: LoadedPolicy,
  items: readonly CalItem[],
  answers: readonly AnswerItem[],
  opts: LevelsOptions,
  name: string,
): Promise<{ input: LevelFigures; answers: AnswerFigures }> {
  const evalItems: EvalItem[] = items.map((it, i) => ({
    record: { id: String(i), text: it.text, label: it.label, stage: 'input', source: it.source },
    file: opts.split ?? 'val',
    line: i + 1,
  }));
  try {
    await Promise.all([...loaded.classifiers.values()].map((c) => c.ready?.()));
    let done = 0;
    const started = performance.now();
    const results = await runItems(loaded, evalItems, {
      refs: { input: [], output: [] },
      concurrency: opts.concurrency,
      onItem: () => {
        if (++done % 500 === 0) opts.progress?.(`eval --levels: ${name}: ${done}/${items.length}`);
      },
    });
    opts.progress?.(
      `eval --levels: ${name}: ${items.length} records in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    const rows = results.map((r, i) => ({ item: items[i], scores: { refused: r.action === 'refuse' ? 1 : 0 } }));
    const input = figuresOf(
      rows,
      { refused: 0.5 },
      {
        everyday: new Set(EVERYDAY_SOURCES),
        lookalikes: new Set(LOOKALIKE_SOURCES),
        lookalikeFactor: DEFAULT_LOOKALIKE_FACTOR,
      },
    );
    const outputs = await runItems(
      loaded,
      answers.map((a, i) => ({
        record: { id: `a${i}`, text: a.text, prompt: a.prompt, label: a.label, stage: 'output', source: a.source },
        file: 'validation answers',
        line: i + 1,
      })),
      { refs: { input: [], output: [] }, concurrency: opts.concurrency },
    );
    const level = name in ANSWER_TARGETS ? ANSWER_TARGETS[name as keyof typeof ANSWER_TARGETS] : 0;
    const blocked = outputs.map((r, i) => ({ item: answers[i], p: r.action === 'refuse' ? 1 : 0 }));
    return { input, answers: answerFigures(blocked, 0.5, level) };
  } finally {
    await Promise.allSettled([...loaded.classifiers.values()].map((c) => c.close?.()));
  }
}

/**
 * @example
 * const report = await levelsReport({ dataDir: '../shared/data', policy: 'policies/default', rulesOnly: 'policies/rules-only' });
 */
export async function levelsReport(opts: LevelsOptions): Promise<LevelsReport> {
  const data = splitItems(opts.dataDir, seedOf(opts.policy), opts.split ?? 'val');
  const items = opts.limit ? data.items.slice(0, opts.limit) : data.items;
  const all = splitAnswers(opts.dataDir, seedOf(opts.policy), opts.split ?? 'val');
  // With a limit, an even spread over the answers (they come grouped by source).
  const step = opts.limit ? Math.max(1, Math.ceil(all.length / opts.limit)) : 1;
  const answers = all.filter((_, i) => i % step === 0);
  const columns: Record<string, LevelFigures> = {};
  const answerColumns: Record<string, AnswerFigures> = {};
  const add = async (name: string, loaded: LoadedPolicy) => {
    const f = await figuresFor(loaded, items, answers, opts, name);
    columns[name] = f.input;
    answerColumns[name] = f.answers;
  };
  if (opts.rulesOnly) await add('rules-only', loadPolicy(opts.rulesOnly));
  for (const level of LEVEL_NAMES) await add(level, atLevel(opts.policy, level));
  return { data: data.description, policy: opts.policy, columns, counts: countsOf(items), answers: answerColumns };
}
