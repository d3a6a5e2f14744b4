/**
 * A head as an ONNX model, written with the encoder's small graph builder:
 *
 *   features [batch, dim] → MatMul(Wᵀ) → Add(b) → `logits` [batch, k]
 *                                         → Mul(a) → Add(c) → Sigmoid → `probabilities` [batch, k]
 *
 * The Platt parameters are part of the graph, so any ONNX runtime reproduces the calibrated scores. The
 * reader takes the numbers back out of the file, so the TypeScript runtime and onnxruntime read one artifact.
 */
import onnxProto from 'onnx-proto';
import { GraphBuilder } from '../encoder/onnx-graph.js';
import type { LinearHead, Platt } from './linear.js';

const { onnx } = onnxProto;
export const HEAD_OPSET = 17;
export const HEAD_FORMAT = 'rbrm-linear-head/1';

/**
 * Serialises a head and its calibration as an ONNX model.
 * @example
 * await writeFile('unsafe.onnx', exportHead('unsafe', head, platt));
 */
export function exportHead(name: string, head: LinearHead, platt: readonly Platt[]): Uint8Array {
  const { dim, labels } = head;
  const k = labels.length;
  if (platt.length !== k) throw new Error(`head ${name}: ${platt.length} Platt pairs for ${k} labels`);
  const transposed = new Float32Array(dim * k);
  for (let j = 0; j < k; j++) for (let i = 0; i < dim; i++) transposed[i * k + j] = head.weights[j * dim + i];
  const g = new GraphBuilder();
  const w = g.float('weight', transposed, [dim, k]);
  const b = g.float('bias', Float32Array.from(head.bias), [k]);
  const a = g.float(
    'platt_a',
    Float32Array.from(platt, (p) => p.a),
    [k],
  );
  const c = g.float(
    'platt_c',
    Float32Array.from(platt, (p) => p.c),
    [k],
  );
  const z = g.op('Add', [g.op('MatMul', ['features', w]), b], {}, 'raw_logits');
  g.output(z, 'logits');
  g.output(g.op('Sigmoid', [g.op('Add', [g.op('Mul', [z, a]), c])]), 'probabilities');
  return g.build({
    inputs: [{ name: 'features', type: 'float32', dims: ['batch', dim] }],
    outputs: [
      { name: 'logits', type: 'float32', dims: ['batch', k] },
      { name: 'probabilities', type: 'float32', dims: ['batch', k] },
    ],
    graphName: `head_${name}`,
    producer: { name: 'rbrm-gateway-heads', version: '1' },
    opset: HEAD_OPSET,
    metadata: { format: HEAD_FORMAT, head: name, labels: JSON.stringify(labels) },
  });
}

function floats(t: onnxProto.onnx.ITensorProto | undefined, name: string, count: number): Float32Array {
  if (!t?.rawData) throw new Error(`head model: initializer ${name} is missing`);
  const raw = t.rawData;
  const copy = new Uint8Array(raw.byteLength);
  copy.set(raw);
  const out = new Float32Array(copy.buffer);
  if (out.length !== count) throw new Error(`head model: ${name} has ${out.length} values, expected ${count}`);
  return out;
}

/** Reads a head written by `exportHead`; throws on anything else. */
export function readHead(bytes: Uint8Array): { name: string; head: LinearHead; platt: Platt[] } {
  const model = onnx.ModelProto.decode(bytes);
  const meta = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key, p.value]));
  if (meta.format !== HEAD_FORMAT) throw new Error(`not a head model (format ${String(meta.format)})`);
  const labels = JSON.parse(String(meta.labels)) as string[];
  const init = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
  const dims = (init.get('weight')?.dims ?? []).map(Number);
  const [dim, k] = dims;
  if (dims.length !== 2 || k !== labels.length)
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
