/**
 * int8 dynamic quantization of an ONNX model's constant-weight MatMuls, the rewrite onnxruntime's
 * `quantize_dynamic` does, in TypeScript over onnx-proto: every `MatMul(A, W)` whose `W` is a 2-D float
 * initializer becomes
 *
 *   DynamicQuantizeLinear(A) → (A_q uint8, A_scale, A_zero)
 *   MatMulInteger(A_q, W_q int8, A_zero) → int32
 *   Cast(float) · (A_scale · W_scale[n]) → the MatMul's original output
 *
 * with `W` quantized symmetrically per output column (zero point 0, scale max|w|/127), so a column of small
 * weights keeps its precision. onnxruntime's CPU graph optimiser fuses the chain into one
 * `DynamicQuantizeMatMul`. Everything else (embeddings, layer norms, activation × activation MatMuls) stays
 * float. It knows nothing about any particular network, so any encoder ONNX can go through it.
 *
 * Caveat (onnxruntime's docs): on x86 CPUs without VNNI the u8×s8 kernel can saturate; see README.md.
 */
import onnxProto from 'onnx-proto';
import { QUANTIZER_VERSION } from './precision.js';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;
const { DataType } = onnx.TensorProto;

export interface QuantizeOptions {
  /** MatMuls whose weight has fewer elements than this stay float (not worth a quantize step). Default 1024. */
  minElements?: number;
}

export interface QuantizeResult {
  bytes: Uint8Array;
  /** Names of the MatMul nodes rewritten. */
  quantized: string[];
}

/** The float values of a float32 initializer, from `rawData` or `floatData`. */
function floatsOf(t: ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // rawData may be unaligned inside the decoded buffer
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** Symmetric per-column int8 quantization of a row-major [rows, cols] matrix. */
export function quantizeColumns(w: Float32Array, rows: number, cols: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * cols + c]));
  for (let c = 0; c < cols; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(w[r * cols + c] / scale[c])));
  return { q, scale };
}

/**
 * Rewrites the model's constant-weight MatMuls to int8; throws when there is none (a model this cannot speed up
 * should not silently pass as quantized).
 * @example
 * const { bytes, quantized } = quantizeMatMulWeights(await readFile('encoder.onnx'));
 */
export function quantizeMatMulWeights(bytes: Uint8Array, { minElements = 1024 }: QuantizeOptions = {}): QuantizeResult {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('the model has no graph');
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const uses = new Map<string, number>();
  for (const node of graph.node ?? []) for (const name of node.input ?? []) uses.set(name, (uses.get(name) ?? 0) + 1);

  const taken = new Set<string>([...initializers.keys(), ...(graph.node ?? []).flatMap((n) => n.output ?? [])]);
  const fresh = (hint: string) => {
    let name = hint;
    for (let i = 1; taken.has(name); i++) name = `${hint}_${i}`;
    taken.add(name);
    return name;
  };
  const newInitializers: ITensorProto[] = [];
  const dropped = new Set<string>();
  const nodes: INodeProto[] = [];
  const quantized: string[] = [];
  for (const node of graph.node ?? []) {
    const [a, wName] = node.input ?? [];
    const w = wName === undefined ? undefined : initializers.get(wName);
    const dims = (w?.dims ?? []).map(Number);
    const eligible =
      node.opType === 'MatMul' &&
      (node.domain ?? '') === '' &&
      a !== undefined &&
      wName !== undefined &&
      w !== undefined &&
      !graphInputs.has(wName) &&
      w.dataType === DataType.FLOAT &&
      dims.length === 2 &&
      dims[0] * dims[1] >= minElements;
    const out = node.output?.[0];
    if (!eligible || out === undefined || a === undefined || wName === undefined || w === undefined) {
      nodes.push(node);
      continue;
    }
    const [rows, cols] = dims as [number, number];
    const { q, scale } = quantizeColumns(floatsOf(w), rows, cols);
    const base = node.name || out;
    const wq = fresh(`${wName}_quantized`);
    const ws = fresh(`${wName}_scale`);
    newInitializers.push(
      { name: wq, dims: [rows, cols], dataType: DataType.INT8, rawData: new Uint8Array(q.buffer) },
      { name: ws, dims: [cols], dataType: DataType.FLOAT, rawData: new Uint8Array(scale.buffer) },
    );
    // The float weight goes when nothing else reads it.
    if ((uses.get(wName) ?? 0) <= 1) dropped.add(wName);
    const [aq, aScale, aZero, product, asFloat, scaleProduct] = [
      'a_quantized',
      'a_scale',
      'a_zero_point',
      'int32',
      'float',
      'scale',
    ].map((s) => fresh(`${base}/${s}`)) as [string, string, string, string, string, string];
    nodes.push(
      {
        name: fresh(`${base}/DynamicQuantizeLinear`),
        opType: 'DynamicQuantizeLinear',
        input: [a],
        output: [aq, aScale, aZero],
      },
      { name: fresh(`${base}/MatMulInteger`), opType: 'MatMulInteger', input: [aq, wq, aZero], output: [product] },
      {
        name: fresh(`${base}/Cast`),
        opType: 'Cast',
        input: [product],
        output: [asFloat],
        attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }],
      },
      { name: fresh(`${base}/ScaleProduct`), opType: 'Mul', input: [aScale, ws], output: [scaleProduct] },
      { name: fresh(`${base}/Rescale`), opType: 'Mul', input: [asFloat, scaleProduct], output: [out] },
    );
    quantized.push(base);
  }
  if (quantized.length === 0) throw new Error('the model has no MatMul with a constant 2-D float weight to quantize');
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !dropped.has(t.name ?? '')), ...newInitializers];
  // DynamicQuantizeLinear and MatMulInteger need opset 11 or later.
  const defaultOpset = model.opsetImport?.find((o) => (o.domain ?? '') === '');
  if (!defaultOpset || Number(defaultOpset.version) < 11)
    throw new Error(
      `int8 quantization needs ONNX opset 11 or later, the model imports ${String(defaultOpset?.version)}`,
    );
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => p.key !== 'quantization'),
    { key: 'quantization', value: `int8 dynamic, per-column symmetric weights, rbrm quantizer ${QUANTIZER_VERSION}` },
  ];
  return { bytes: onnx.ModelProto.encode(model).finish(), quantized };
}
