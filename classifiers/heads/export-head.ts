/**
 * Training side: writes a head as an ONNX model with the encoder's small graph builder:
 *
 *   features [batch, dim] → MatMul(Wᵀ) → Add(b) → `logits` [batch, k]
 *                                         → Mul(a) → Add(c) → Sigmoid → `probabilities` [batch, k]
 *
 * The Platt parameters are part of the graph, so any ONNX runtime reproduces the calibrated scores. The
 * reader (read-head.ts) takes the numbers back out of the file, so the TypeScript runtime and onnxruntime read
 * one artifact. The server never imports this file: it pulls in the graph builder.
 */
import { GraphBuilder } from '../encoder/onnx-graph.js';
import type { LinearHead, Platt } from './linear.js';
import { HEAD_FORMAT, HEAD_OPSET } from './read-head.js';

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
