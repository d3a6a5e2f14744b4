/**
 * Calibrates a model folder's operating levels (strict, balanced, permissive) and writes them to
 * `levels.json` beside its `heads.json` (see classifiers/heads/README.md, "Levels").
 *
 *   npm run calibrate -- --model <name|folder> [--data own.jsonl …] [--data-dir ../shared/data] [--out DIR]
 *
 * Without --data it reads the validation split of the shared data (never the test split); with --data, the
 * user's own labelled traffic in the eval format. Exit codes: 0 done, 1 internal error, 2 usage or I/O error.
 */
import { writeFileSync, mkdirSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, intOption, numberOption, parseCli, runCli, UsageError } from '../cli/args.js';
import {
  LEVEL_NAMES,
  LEVELS_FILE,
  LEVELS_FORMAT,
  LevelsFileSchema,
  type LevelName,
  type LevelsFile,
} from '../classifiers/heads/levels.js';
import { loadModel, modelDir } from '../classifiers/heads/model.js';
import { servedPrecision } from '../classifiers/heads/shared-encoder.js';
import { PRECISIONS, type Precision } from '../classifiers/encoder/precision.js';
import { DEFAULT_LOOKALIKE_FACTOR, DEFAULT_TARGETS, figuresOf, fitLevel, type FitOptions } from './calibrate/fit.js';
import { EVERYDAY_SOURCES, fileItems, LOOKALIKE_SOURCES, validationItems } from './calibrate/items.js';
import { defaultGates, poolingOf, scoreItems, scoreUnder, textHeadsOf, type Pooling } from './calibrate/score.js';
import { longProbe } from './calibrate/long-probe.js';
import { answersTable, countsOf, levelsTable } from './calibrate/table.js';
import {
  ANSWER_LABEL,
  ANSWER_TARGETS,
  answerHeadOf,
  answersDescription,
  compliantSafe,
  fileAnswers,
  fitAnswerLevel,
  scoreAnswers,
  validationAnswers,
} from './calibrate/answers.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `usage: npm run calibrate -- --model <name|folder> [--data own.jsonl …] [--data-dir DIR] [--out DIR]
                           [--strict 0.05] [--balanced 0.02] [--permissive 0.005] [--lookalike-factor 2]
                           [--everyday a,b] [--lookalikes a,b] [--labels a,b] [--max-chunks 4] [--dry-run]
                           [--pooling head=max,…] [--no-gate | --gate P] [--long-probe] [--precision int8|fp32]
                           [--answer-targets 0.1,0.05,0.02] [--no-answers]

  Chooses each level's per-label thresholds so that its benign refusal rate, max(everyday benign, look-alikes ÷
  factor), meets its target, and writes levels.json to the model folder (or --out DIR).
  --model           a folder under classifiers/models (default) or a path to a model folder
  --data FILE       your own labelled traffic, JSON Lines in the eval format (repeatable); default: the
                    validation split of --data-dir (default ../shared/data)
  --strict/--balanced/--permissive RATE   target benign refusal rate of each level
  --lookalike-factor N  how many times the everyday rate look-alikes may be refused (default 2)
  --everyday/--lookalikes LIST  which safe sources count as everyday traffic and as look-alikes
  --labels LIST     labels the levels set (default: every label of the model's text heads)
  --precision P     encoder precision to score at (default: the one the gateway serves, GATEWAY_ENCODER_PRECISION,
                    else int8); levels.json records it and the classifier warns when it serves another
  --answer-targets S,B,P  output stage: the rbrm-local grader's C (disallowed × harm) for a model whose pair head
                    has a "disallowed" label: the share of safe compliant answers (validation output records that do
                    not open with a refusal, or those of --data) each level may block (default 0.1,0.05,0.02:
                    balanced passes 95%); the levels then hold a "C" threshold
  --no-answers      skip the output levels
  --dry-run         print the figures, write nothing; --pooling (measurement only) needs it
  --long-probe      also measure harmful requests buried in long benign texts, first-window vs max pooling
  --no-gate         calibrate the hazard categories alone (by default they count only where the unsafe head
                    reaches its validation threshold, as the default pack's category rules read them)
  --gate P          the unsafe score the hazard categories count behind (default: the gate of the folder's
                    current levels.json, else the unsafe head's threshold); the policy's category rules must read it
  exit codes: 0 done, 1 internal error, 2 usage or I/O error`;

/**
 * The gate the folder's current levels were calibrated behind, which the policy's category rules read: a
 * recalibration (after a retrain, too) keeps it unless `--gate` says otherwise.
 */
function previousGate(dir: string): number | undefined {
  try {
    const gate = (
      JSON.parse(readFileSync(join(dir, 'levels.json'), 'utf8')) as { gates?: Array<{ threshold?: unknown }> }
    ).gates?.[0]?.threshold;
    return typeof gate === 'number' ? gate : undefined;
  } catch {
    return undefined;
  }
}

const list = (s: string | undefined) =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);

function parsePooling(s: string | undefined): Pooling {
  const out: Pooling = {};
  for (const part of list(s) ?? []) {
    const [head, how] = part.split('=');
    if (how !== 'first' && how !== 'max') throw new UsageError(`--pooling ${part}: expected head=first or head=max`);
    out[head] = how;
  }
  return out;
}

async function main(): Promise<number> {
  const { values } = parseCli(process.argv.slice(2), {
    model: { type: 'string' },
    data: { type: 'string', multiple: true, default: [] },
    'data-dir': { type: 'string', default: join(root, '..', 'shared', 'data') },
    out: { type: 'string' },
    strict: { type: 'string' },
    balanced: { type: 'string' },
    permissive: { type: 'string' },
    'lookalike-factor': { type: 'string', default: `${DEFAULT_LOOKALIKE_FACTOR}` },
    everyday: { type: 'string' },
    lookalikes: { type: 'string' },
    labels: { type: 'string' },
    'max-chunks': { type: 'string', default: '4' },
    'cache-dir': { type: 'string', default: join(root, '.cache', 'train') },
    pooling: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    'no-gate': { type: 'boolean', default: false },
    gate: { type: 'string' },
    'long-probe': { type: 'boolean', default: false },
    precision: { type: 'string' },
    'answer-targets': { type: 'string' },
    'no-answers': { type: 'boolean', default: false },
  });
  if (!values.model) throw new UsageError('give --model <name|folder> (the folder holding heads.json)');
  const dir = modelDir(values.model, process.cwd());
  if (!existsSync(join(dir, 'heads.json'))) throw new InputError(`${dir} holds no heads.json: not a model folder`);
  const targets = { ...DEFAULT_TARGETS };
  for (const level of LEVEL_NAMES) {
    const v = values[level];
    if (v !== undefined) targets[level] = numberOption(level, v, 0);
    if (targets[level] > 1) throw new UsageError(`--${level} is a rate between 0 and 1, got ${targets[level]}`);
  }
  if (!(targets.strict >= targets.balanced && targets.balanced >= targets.permissive))
    throw new UsageError('targets must satisfy strict ≥ balanced ≥ permissive');
  const factor = numberOption('lookalike-factor', values['lookalike-factor'], 1);
  const maxChunks = intOption('max-chunks', values['max-chunks'], 1);
  const precision = (values.precision ?? servedPrecision()) as Precision;
  if (!PRECISIONS.includes(precision))
    throw new UsageError(`--precision (or GATEWAY_ENCODER_PRECISION) must be one of ${PRECISIONS.join(', ')}`);
  const answerTargets = { ...ANSWER_TARGETS };
  const at = list(values['answer-targets']);
  if (at) {
    if (at.length !== 3) throw new UsageError('--answer-targets takes three rates: strict,balanced,permissive');
    LEVEL_NAMES.forEach((l, i) => (answerTargets[l] = numberOption('answer-targets', at[i], 0)));
    if (!(answerTargets.strict >= answerTargets.balanced && answerTargets.balanced >= answerTargets.permissive))
      throw new UsageError('--answer-targets must satisfy strict ≥ balanced ≥ permissive');
    if (answerTargets.strict > 1) throw new UsageError('--answer-targets are rates between 0 and 1');
  }
  const override = parsePooling(values.pooling);
  if (Object.keys(override).length && !values['dry-run'])
    throw new UsageError('--pooling measures another pooling than the heads serve; use it with --dry-run');

  const model = textHeadsOf(dir);
  for (const head of Object.keys(override))
    if (!model.heads.has(head as never)) throw new UsageError(`--pooling: the model has no text head "${head}"`);
  const allLabels = [...model.heads.values()].flatMap((h) => [...h.head.labels]);
  const labels = list(values.labels) ?? allLabels;
  for (const l of labels)
    if (!allLabels.includes(l))
      throw new UsageError(`--labels: no label "${l}"; the model has ${allLabels.join(', ')}`);

  // Usage errors before the data is read, so they need no data.
  const gate = values.gate === undefined ? undefined : numberOption('gate', values.gate, 0);
  if (gate !== undefined && (values['no-gate'] || gate > 1))
    throw new UsageError('--gate P: a probability, without --no-gate');
  const data = values.data.length ? fileItems(values.data) : validationItems(values['data-dir'], model.manifest.seed);
  const log = (s: string) => console.error(s);
  log(`calibrate: ${data.items.length} input records (${data.description}); encoder precision ${precision}`);
  const scoring = { maxChunks, cacheDir: values['cache-dir'], precision };
  const scored = await scoreItems(model, data.items, { ...scoring, progress: log });
  const pooling = poolingOf(model, override);
  const gates = values['no-gate'] ? [] : defaultGates(model, gate ?? previousGate(dir));
  const rows = scored.map((s) => ({ item: s.item, scores: scoreUnder(s, model, pooling, gates) }));
  const opts: FitOptions = {
    everyday: new Set(list(values.everyday) ?? EVERYDAY_SOURCES),
    lookalikes: new Set(list(values.lookalikes) ?? LOOKALIKE_SOURCES),
    lookalikeFactor: factor,
  };
  const levels = Object.fromEntries(
    LEVEL_NAMES.map((level: LevelName) => {
      const thresholds = fitLevel(rows, labels, targets[level], opts);
      return [level, { target: targets[level], thresholds, figures: figuresOf(rows, thresholds, opts) }];
    }),
  ) as LevelsFile['levels'];
  // The output stage: the pair head's `disallowed` label, on answers judged with their prompts.
  const full = loadModel(dir);
  let answersData: string | undefined;
  if (answerHeadOf(full) && !values['no-answers']) {
    const answers = values.data.length
      ? fileAnswers(values.data)
      : validationAnswers(values['data-dir'], model.manifest.seed);
    if (!answers.some(compliantSafe))
      log(
        `calibrate: no safe compliant answers with prompts in the data: the levels get no grader "${ANSWER_LABEL}" threshold`,
      );
    else {
      log(`calibrate: ${answers.length} answers with their prompts for the output levels`);
      const rows = await scoreAnswers(full, answers, { ...scoring, progress: log });
      for (const level of LEVEL_NAMES) {
        const { threshold, figures } = fitAnswerLevel(rows, answerTargets[level]);
        levels[level].thresholds[ANSWER_LABEL] = threshold;
        levels[level].answers = figures;
      }
      answersData = answersDescription(values['data-dir'], values.data, model.manifest.seed);
    }
  }
  const long = scored.filter((s) => s.windows > 1).length;
  const table = levelsTable(
    `Levels of ${relative(root, dir) || dir} on the ${data.description}; encoder ${precision}; pooling ${JSON.stringify(pooling)}; ` +
      `${long} of ${scored.length} texts are longer than one window`,
    Object.fromEntries(LEVEL_NAMES.map((l) => [l, levels[l].figures])),
    countsOf(data.items),
  );
  const answersCard = answersData
    ? '\n' +
      answersTable(
        `Output stage (rbrm-local grade ${ANSWER_LABEL} = disallowed × harm, answers judged with their prompts) on the ${answersData}`,
        Object.fromEntries(LEVEL_NAMES.flatMap((l) => (levels[l].answers ? [[l, levels[l].answers]] : []))),
      )
    : '';
  process.stdout.write(table + answersCard);
  for (const l of LEVEL_NAMES) log(`${l}: ${JSON.stringify(levels[l].thresholds)}`);
  if (values['long-probe']) {
    const served = poolingOf(model);
    const allMax = Object.fromEntries(Object.keys(served).map((h) => [h, 'max' as const]));
    const probe = await longProbe(
      model,
      data.items,
      levels.balanced.thresholds,
      { served, 'max (every head)': allMax },
      gates,
      scoring,
    );
    process.stdout.write('\n' + probe);
  }
  if (values['dry-run']) return 0;
  const file: LevelsFile = LevelsFileSchema.parse({
    format: LEVELS_FORMAT,
    heads: model.hash,
    precision,
    data: data.description,
    everyday: [...opts.everyday],
    lookalikes: [...opts.lookalikes],
    lookalikeFactor: factor,
    pooling,
    gates,
    ...(answersData && { answersData }),
    levels,
  });
  const out = values.out ? resolve(values.out) : dir;
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, LEVELS_FILE), JSON.stringify(file, null, 2) + '\n');
  // The same table as a page beside it, so what each level means is readable where the model lives.
  const card = [
    '# Operating levels',
    '',
    `Written by \`npm run calibrate -- --model ${values.model}\`; what the levels are: classifiers/heads/README.md ("Levels").`,
    `Targets (benign refusal): ${LEVEL_NAMES.map((l) => `${l} ${targets[l]}`).join(', ')}; look-alike factor ${factor};`,
    `everyday sources: ${[...opts.everyday].join(', ')}; look-alikes: ${[...opts.lookalikes].join(', ')}.`,
    gates.length
      ? `Hazard categories count behind ${gates.map((g) => `${g.label} ≥ ${g.threshold}`).join(', ')} (the policy's category rules must read the same gate).`
      : 'Hazard categories calibrated alone (no gate).',
    '',
    table + answersCard,
  ];
  writeFileSync(join(out, 'LEVELS.md'), card.join('\n'));
  log(`calibrate: wrote ${relative(process.cwd(), join(out, LEVELS_FILE))}`);
  return 0;
}

await runCli({ name: 'calibrate', usage: USAGE }, main);
