/**
 * Reading a Hugging Face sequence-classification export from a folder: `model.onnx`, `tokenizer.json`,
 * `config.json` (with `id2label`) and, when present, `tokenizer_config.json`. Everything that can be
 * checked without loading the graph is checked here, synchronously, so that a policy naming a bad
 * folder fails to load with the file and the reason.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { HfModelError, messageOf } from './errors.js';
import { SequenceTokenizer } from './tokenize.js';

export type Activation = 'softmax' | 'sigmoid';

/** What the policy says about the model; see `HfSequenceParamsSchema`. */
export interface FolderOptions {
  dir: string;
  maxLength?: number;
  maxChars?: number;
  labels?: Record<string, string>;
  activation?: Activation;
}

/** A checked model folder. */
export interface ModelFolder {
  dir: string;
  modelPath: string;
  tokenizerPath: string;
  tokenizerConfigPath?: string;
  /** Output labels in the model's order (index i is logit i), after the policy's renaming. */
  labels: string[];
  /** The names in config.json's id2label, in the same order. */
  modelLabels: string[];
  activation: Activation;
  maxLength: number;
  maxChars: number;
  /** Token id used for padding. */
  padId: number;
  /** `_name_or_path` from config.json, else the folder's name. */
  name: string;
  /** A tokenizer built from the folder, already probed (for callers that tokenize on this thread). */
  tokenizer: SequenceTokenizer;
}

const ConfigSchema = z.looseObject({
  id2label: z.record(z.string().regex(/^\d+$/, 'keys of id2label are label indices'), z.string().min(1)),
  problem_type: z.enum(['single_label_classification', 'multi_label_classification', 'regression']).nullish(),
  max_position_embeddings: z.number().int().positive().nullish(),
  pad_token_id: z.number().int().nonnegative().nullish(),
  _name_or_path: z.string().nullish(),
});

const TokenizerMetaSchema = z.looseObject({
  truncation: z.looseObject({ max_length: z.number().int().positive() }).nullish(),
  padding: z.looseObject({ pad_id: z.number().int().nonnegative() }).nullish(),
});

function readJson(file: string, required: true): unknown;
function readJson(file: string, required: false): unknown | undefined;
function readJson(file: string, required: boolean): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const code = (error as NodeJS.ErrnoException).code;
    throw new HfModelError(file, code === 'ENOENT' ? 'is missing' : `cannot be read: ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HfModelError(file, `is not valid JSON: ${messageOf(error)}`, { cause: error });
  }
}

const issues = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');

/** The labels in index order, renamed by `remap` (keys: a model label or its index). */
function labelsOf(
  file: string,
  id2label: Record<string, string>,
  remap: Record<string, string> = {},
): { modelLabels: string[]; labels: string[] } {
  const count = Object.keys(id2label).length;
  if (count === 0) throw new HfModelError(file, 'id2label is empty');
  const modelLabels = Array.from({ length: count }, (_, i) => {
    const label = id2label[String(i)];
    if (label === undefined)
      throw new HfModelError(file, `id2label must number its labels 0..${count - 1}; index ${i} is missing`);
    return label;
  });
  for (const key of Object.keys(remap)) {
    if (!modelLabels.includes(key) && !(key in id2label))
      throw new HfModelError(
        file,
        `params.labels renames "${key}", which id2label does not have; it has: ${modelLabels.join(', ')}`,
      );
  }
  const labels = modelLabels.map((label, i) => remap[label] ?? remap[String(i)] ?? label);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined)
    throw new HfModelError(
      file,
      `two outputs would share the label "${dup}"; give each a distinct name in params.labels`,
    );
  return { modelLabels, labels };
}

/**
 * Checks a model folder and reads what the classifier needs from it. Relative `dir`s resolve against
 * `baseDir` (the policy file's folder when the loader passes it), else the working directory.
 * Throws `HfModelError` naming the file and the problem.
 * @example
 * const folder = readModelFolder({ dir: 'models/prompt-guard' }, dirname(policyFile));
 * folder.labels; // ['BENIGN', 'INJECTION', 'JAILBREAK']
 */
export function readModelFolder(options: FolderOptions, baseDir = process.cwd()): ModelFolder {
  const dir = resolve(baseDir, options.dir);
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new HfModelError(dir, 'the model folder does not exist');
  if (!stat.isDirectory())
    throw new HfModelError(
      dir,
      'is not a folder (name the folder that holds model.onnx, tokenizer.json and config.json)',
    );

  const modelPath = join(dir, 'model.onnx');
  const model = statSync(modelPath, { throwIfNoEntry: false });
  if (!model)
    throw new HfModelError(
      modelPath,
      'is missing (export the model to ONNX, e.g. with optimum-cli export onnx --task text-classification)',
    );
  if (!model.isFile() || model.size === 0) throw new HfModelError(modelPath, 'is not a non-empty file');

  const configPath = join(dir, 'config.json');
  const parsed = ConfigSchema.safeParse(readJson(configPath, true));
  if (!parsed.success)
    throw new HfModelError(configPath, `is not a sequence-classification config: ${issues(parsed.error)}`);
  const config = parsed.data;
  const { modelLabels, labels } = labelsOf(configPath, config.id2label, options.labels);

  let activation = options.activation;
  if (!activation) {
    if (config.problem_type === 'regression')
      throw new HfModelError(
        configPath,
        'problem_type is regression, not classification; ' +
          'set params.activation to read its output as a probability anyway',
      );
    activation = config.problem_type === 'multi_label_classification' || labels.length === 1 ? 'sigmoid' : 'softmax';
  }

  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizerJson = readJson(tokenizerPath, true);
  const meta = TokenizerMetaSchema.safeParse(tokenizerJson);
  if (!meta.success) throw new HfModelError(tokenizerPath, issues(meta.error));
  const tokenizerConfigPath = join(dir, 'tokenizer_config.json');
  const tokenizerConfig = readJson(tokenizerConfigPath, false);
  const modelMax = (tokenizerConfig as { model_max_length?: unknown } | undefined)?.model_max_length;

  const positions = config.max_position_embeddings ?? undefined;
  const fallback = Math.min(512, positions ?? 512);
  const maxLength =
    options.maxLength ??
    meta.data.truncation?.max_length ??
    (typeof modelMax === 'number' && modelMax <= 100_000 ? modelMax : fallback);
  if (positions !== undefined && maxLength > positions) {
    throw new HfModelError(
      configPath,
      `max_position_embeddings is ${positions}, so maxLength ${maxLength} is too long for this model`,
    );
  }
  const tokenizer = new SequenceTokenizer(
    tokenizerJson,
    tokenizerConfig,
    { maxLength, maxChars: options.maxChars },
    tokenizerPath,
  );

  return {
    dir,
    modelPath,
    tokenizerPath,
    tokenizerConfigPath: tokenizerConfig === undefined ? undefined : tokenizerConfigPath,
    labels,
    modelLabels,
    activation,
    maxLength,
    maxChars: tokenizer.maxChars,
    padId: meta.data.padding?.pad_id ?? config.pad_token_id ?? 0,
    name: config._name_or_path || basename(dir),
    tokenizer,
  };
}
