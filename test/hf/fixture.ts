/**
 * Builds a tiny Hugging Face-style sequence-classification export for the tests: an ONNX graph written
 * here (embedding lookup + segment embedding → masked mean pool → linear → logits), a config.json, and
 * a symlink to the all-MiniLM-L6-v2 tokenizer. By default that is the cut copy committed in
 * test/hf/fixtures/ (the tokens the tests use, ids unchanged; see its NOTICE); HF_TOKENIZER_DIR points the
 * same suites at another copy, as `npm run test:shared` does with the full file in ../shared/data.
 * The same arithmetic is done in plain JS (`referenceLogits`) so the tests can check the runtime end to end.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { rng } from '../../classifiers/heads/train.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder, int } from '../../classifiers/encoder/onnx-graph.js';

/** The committed tokenizer (this file runs from dist/test/hf/; the fixture stays in the source tree). */
export const FIXTURE_DIR = fileURLToPath(
  new URL('../../../test/hf/fixtures/all-MiniLM-L6-v2-subset/', import.meta.url),
);

/** The tokenizer the suites run on; a named folder that is missing fails loudly rather than skip. */
export const TOKENIZER_DIR = resolve(process.env.HF_TOKENIZER_DIR ?? FIXTURE_DIR);
if (!existsSync(join(TOKENIZER_DIR, 'tokenizer.json')))
  throw new Error(`no tokenizer.json in ${TOKENIZER_DIR} (HF_TOKENIZER_DIR=${process.env.HF_TOKENIZER_DIR ?? ''})`);

/** The WordPiece vocabulary of the real tokenizer.json: token → id. */
export function vocabulary(): Record<string, number> {
  const json = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')) as {
    model: { vocab: Record<string, number> };
  };
  return json.model.vocab;
}

const DIM = 4;

export interface TinyModel {
  embeddings: Float32Array; // [vocab, DIM]
  segments: Float32Array; // [2, DIM]
  weights: Float32Array; // [DIM, labels]
  bias: Float32Array; // [labels]
  labels: number;
}

/**
 * Weights: small random values, except that "hello" pushes label 1 and "kill" pushes label 2 (when there is one),
 * so the tests can tell the labels apart by meaning, not only by index.
 */
export function tinyModel(labels: number, seed = 7): TinyModel {
  const vocab = vocabulary();
  const size = Math.max(...Object.values(vocab)) + 1;
  const random = rng(seed);
  const small = (n: number) => Float32Array.from({ length: n }, () => (random() - 0.5) * 0.2);
  const embeddings = small(size * DIM);
  embeddings.set([0, 4, 0, 0], vocab.hello * DIM);
  embeddings.set([0, 0, 4, 0], vocab.kill * DIM);
  const weights = small(DIM * labels);
  if (labels > 1) weights[1 * labels + 1] = 3;
  if (labels > 2) weights[2 * labels + 2] = 3;
  return { embeddings, segments: small(2 * DIM), weights, bias: small(labels), labels };
}

/** The graph, as ONNX bytes; `withTypeIds` adds a `token_type_ids` input like a BERT export. */
export function buildModel(m: TinyModel, { withTypeIds = true, output = 'logits' } = {}): Uint8Array {
  const g = new GraphBuilder();
  const vocabSize = m.embeddings.length / DIM;
  let x = g.op('Gather', [g.float('embeddings', m.embeddings, [vocabSize, DIM]), 'input_ids'], { axis: int(0) });
  if (withTypeIds)
    x = g.op('Add', [
      x,
      g.op('Gather', [g.float('segments', m.segments, [2, DIM]), 'token_type_ids'], { axis: int(0) }),
    ]);
  // [b, s, 1]
  const mask = g.op('Unsqueeze', [g.op('Cast', ['attention_mask'], { to: int(1) }), g.int64('axis2', [2])]);
  const axis1 = g.int64('axis1', [1]);
  const summed = g.op('ReduceSum', [g.op('Mul', [x, mask]), axis1], { keepdims: int(0) });
  const count = g.op('Max', [g.op('ReduceSum', [mask, axis1], { keepdims: int(0) }), g.scalar('one', 1)]);
  const pooled = g.op('Div', [summed, count]);
  const logits = g.op('Add', [
    g.op('MatMul', [pooled, g.float('weights', m.weights, [DIM, m.labels])]),
    g.float('bias', m.bias, [m.labels]),
  ]);
  g.output(logits, output);
  const tokens = (name: string) => ({ name, type: 'int64' as const, dims: ['batch', 'sequence'] });
  return g.build({
    inputs: [tokens('input_ids'), tokens('attention_mask'), ...(withTypeIds ? [tokens('token_type_ids')] : [])],
    outputs: [{ name: output, type: 'float32', dims: ['batch', m.labels] }],
    graphName: 'tiny-sequence-classifier',
    producer: { name: 'rbrm-gateway-tests', version: '1' },
    opset: 17,
  });
}

/** The same arithmetic in JS, for one unpadded text; pass `typeIds` for a model built with them. */
export function referenceLogits(m: TinyModel, ids: readonly number[], typeIds?: readonly number[]): number[] {
  const pooled = new Array<number>(DIM).fill(0);
  ids.forEach((id, t) => {
    for (let d = 0; d < DIM; d++)
      pooled[d] += m.embeddings[id * DIM + d] + (typeIds ? m.segments[typeIds[t] * DIM + d] : 0);
  });
  const n = Math.max(1, ids.length);
  return Array.from(
    { length: m.labels },
    (_, l) => m.bias[l] + pooled.reduce((acc, v, d) => acc + (v / n) * m.weights[d * m.labels + l], 0),
  );
}

export interface FolderSpec {
  id2label?: Record<string, string>;
  problemType?: string;
  withTypeIds?: boolean;
  /** Replaces config.json's text as written. */
  configText?: string;
  /** Replaces model.onnx's bytes as written. */
  modelBytes?: Uint8Array;
  omit?: Array<'model.onnx' | 'tokenizer.json' | 'config.json'>;
  /** Labels the model's output has; default: as many as id2label. */
  outputs?: number;
}

/** A temporary model folder; `dispose()` removes it. */
export function modelFolder(spec: FolderSpec = {}): { dir: string; model: TinyModel; dispose(): void } {
  const id2label = spec.id2label ?? { 0: 'neutral', 1: 'greeting', 2: 'threat' };
  const model = tinyModel(spec.outputs ?? Object.keys(id2label).length);
  const dir = mkdtempSync(join(tmpdir(), 'hf-sequence-'));
  const omit = new Set(spec.omit ?? []);
  if (!omit.has('model.onnx'))
    writeFileSync(join(dir, 'model.onnx'), spec.modelBytes ?? buildModel(model, { withTypeIds: spec.withTypeIds }));
  if (!omit.has('tokenizer.json')) symlinkSync(join(TOKENIZER_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  symlinkSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  const config = {
    _name_or_path: 'tiny-test-classifier',
    architectures: ['BertForSequenceClassification'],
    id2label,
    max_position_embeddings: 512,
    problem_type: spec.problemType,
  };
  if (!omit.has('config.json')) writeFileSync(join(dir, 'config.json'), spec.configText ?? JSON.stringify(config));
  return { dir, model, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
