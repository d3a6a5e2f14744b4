/**
 * Reads a head that `exportHead` (export-head.ts) wrote: the weights, bias and Platt constants come back out of
 * the ONNX initializers, so the TypeScript runtime and onnxruntime read one artifact. This is the serving half;
 * writing heads (and the graph builder it needs) stays with training.
 */
import { createRequire } from 'node:module';
import type onnxProto from 'onnx-proto';
import type { LinearHead, Platt } from './linear.js';

export const HEAD_OPSET = 17;
export const HEAD_FORMAT = 'rbrm-linear-head/1';

type TensorProto = onnxProto.onnx.ITensorProto;

// onnx-proto is a 330 KB generated module; it is required on the first head read, not when the classifier
// registry is imported, so a server whose policy declares no heads never loads it.
let decoder: typeof onnxProto.onnx.ModelProto | undefined;
function modelDecoder(): typeof onnxProto.onnx.ModelProto {
  decoder ??= (createRequire(import.meta.url)('onnx-proto') as typeof onnxProto).onnx.ModelProto;
  return decoder;
}

function floats(tensor: TensorProto | undefined, name: string, count: number): Float32Array {
  if (!tensor?.rawData) throw new Error(`head model: initializer ${name} is missing`);
  const raw = tensor.rawData;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  const out = new Float32Array(copy.buffer);
  if (out.length !== count) throw new Error(`head model: ${name} has ${out.length} values, expected ${count}`);
  return out;
}

/**
 * Reads a head written by `exportHead`; throws on anything else.
 * @example
 * const { head, platt } = readHead(readFileSync('classifiers/models/default/unsafe.onnx'));
 */
export function readHead(bytes: Uint8Array): { name: string; head: LinearHead; platt: Platt[] } {
  const model = modelDecoder().decode(bytes);
  const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  if (meta.format !== HEAD_FORMAT) throw new Error(`not a head model (format ${String(meta.format)})`);
  const labels = JSON.parse(String(meta.labels)) as string[];
  const init = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
  const dims = (init.get('weight')?.dims ?? []).map(Number);
  const [dim, k] = dims;
  if (dims.length !== 2 || dim === undefined || k !== labels.length)
    throw new Error(`head model: weight dims [${dims.join(', ')}] do not fit ${labels.length} labels`);
  const transposed = floats(init.get('weight'), 'weight', dim * k);
  const weights = new Float32Array(dim * k);
  for (let j = 0; j < k; j++) for (let i = 0; i < dim; i++) weights[j * dim + i] = transposed[i * k + j];
  const a = floats(init.get('platt_a'), 'platt_a', k);
  const c = floats(init.get('platt_c'), 'platt_c', k);
  return {
    name: String(meta.head),
    head: { dim, labels, weights, bias: floats(init.get('bias'), 'bias', k) },
    platt: labels.map((_, j) => ({ a: a[j], c: c[j] })),
  };
}
