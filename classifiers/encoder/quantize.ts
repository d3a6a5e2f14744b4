/**
 * int8 quantization of an ONNX model's constant-weight MatMuls, in TypeScript over onnx-proto. Every
 * `MatMul(A, W)` whose `W` is a 2-D float initializer gets `W` quantized symmetrically per output column (int8, zero
 * point 0, scale max|w|/127), so a column of small weights keeps its precision, and `A` quantized at run time in one
 * of two schemes:
 *
 * - `per-row` (the default): each row of `A` (one token of one text) on its own scale, symmetric:
 *
 *     m = max(ReduceMax(|A|, last axis), tiny)                            [.., 1]
 *     A_q = QuantizeLinear(A / m, 1/127, 128) → uint8 (round half to even of 127·A/m ∈ [-127, 127], plus 128)
 *     MatMulIntegerToFloat(A_q, W_q, m, W_scale / 127, 128) → float      (com.microsoft, onnxruntime's CPU kernel)
 *
 *   (the row scale is m/127; the 1/127 rides on the constant weight scale, one op fewer per MatMul).
 *
 *   A row's result depends only on that row, and the integer product is exact, so a text's embedding does not move
 *   with the texts batched beside it (test/encoder/batch-independence.test.ts).
 * - `per-tensor`: what onnxruntime's `quantize_dynamic` emits: `DynamicQuantizeLinear(A)` (one uint8 scale and zero
 *   point over the whole tensor, i.e. the whole batch), `MatMulInteger`, `Cast`, rescale. Kept for comparison: a
 *   batched text's vector moves with its batch mates.
 *
 * Everything else (embeddings, layer norms, activation × activation MatMuls) stays float. It knows nothing about any
 * particular network, so any encoder ONNX can go through it. Caveat (onnxruntime's docs): on x86 CPUs without VNNI the
 * u8×s8 kernel can saturate; see README.md.
 */
import onnxProto from 'onnx-proto';
import { QUANTIZER_VERSION } from './precision.js';

const { onnx } = onnxProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type INodeProto = onnxProto.onnx.INodeProto;
type IModelProto = onnxProto.onnx.IModelProto;
const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

export const ACTIVATION_SCHEMES = ['per-row', 'per-tensor'] as const;
export type ActivationScheme = (typeof ACTIVATION_SCHEMES)[number];

export interface QuantizeOptions {
  /** MatMuls whose weight has fewer elements than this stay float (not worth a quantize step). Default 1024. */
  minElements?: number;
  /** How activations are quantized at run time (see the file comment). Default `per-row`. */
  activations?: ActivationScheme;
}

export interface QuantizeResult {
  bytes: Uint8Array;
  /** Names of the MatMul nodes rewritten. */
  quantized: string[];
}

/** The smallest row maximum: an all-zero row (padding) quantizes to zeros instead of 0/0. */
const TINY_MAX = 1e-30;

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

/** Node and initializer emission with names that collide with nothing in the graph. */
class Emitter {
  readonly nodes: INodeProto[] = [];
  readonly initializers: ITensorProto[] = [];
  constructor(private readonly taken: Set<string>) {}

  fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.taken.has(name); i++) name = `${hint}_${i}`;
    this.taken.add(name);
    return name;
  }

  tensor(hint: string, dataType: number, dims: number[], bytes: Uint8Array): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, dataType, rawData: bytes });
    return name;
  }

  node(opType: string, inputs: string[], outputs: number, hint: string, extra: Partial<INodeProto> = {}): string[] {
    const output = Array.from({ length: outputs }, (_, i) => this.fresh(`${hint}/${opType}${outputs > 1 ? i : ''}`));
    this.nodes.push({ name: this.fresh(`${hint}/${opType}_node`), opType, input: inputs, output, ...extra });
    return output;
  }
}

const intAttr = (name: string, i: number) => ({ name, type: AttributeType.INT, i });

/** Constants shared by every per-row quantization: 1/127, the tiny row maximum and the uint8 zero point 128. */
function perRowConstants(e: Emitter) {
  const f32 = (hint: string, v: number) =>
    e.tensor(hint, DataType.FLOAT, [], new Uint8Array(new Float32Array([v]).buffer));
  return {
    inv127: f32('quant/inv127', 1 / 127),
    tiny: f32('quant/tiny_max', TINY_MAX),
    zero128: e.tensor('quant/zero_point_128', DataType.UINT8, [], new Uint8Array([128])),
  };
}

/**
 * Rewrites the model's constant-weight MatMuls to int8; throws when there is none (a model this cannot speed up
 * should not silently pass as quantized).
 * @example
 * const { bytes, quantized } = quantizeMatMulWeights(await readFile('encoder.onnx'));
 */
export function quantizeMatMulWeights(
  bytes: Uint8Array,
  { minElements = 1024, activations = 'per-row' }: QuantizeOptions = {},
): QuantizeResult {
  if (!ACTIVATION_SCHEMES.includes(activations))
    throw new Error(`activations must be one of ${ACTIVATION_SCHEMES.join(', ')}, got ${String(activations)}`);
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('the model has no graph');
  const opset = Number(model.opsetImport?.find((o) => (o.domain ?? '') === '')?.version ?? 0);
  // DynamicQuantizeLinear and MatMulInteger need opset 11 or later; QuantizeLinear with a uint8 scalar, 10.
  if (opset < 11)
    throw new Error(`int8 quantization needs ONNX opset 11 or later, the model imports ${opset || 'none'}`);
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const graphInputs = new Set((graph.input ?? []).map((v) => v.name));
  const uses = new Map<string, number>();
  for (const node of graph.node ?? []) for (const name of node.input ?? []) uses.set(name, (uses.get(name) ?? 0) + 1);
  const e = new Emitter(new Set([...initializers.keys(), ...(graph.node ?? []).flatMap((n) => n.output ?? [])]));
  const constants = activations === 'per-row' ? perRowConstants(e) : undefined;
  /** Per-row quantized activations by source name, so MatMuls reading one activation quantize it once. */
  const rows = new Map<string, { q: string; scale: string }>();
  const quantizeRows = (a: string, base: string) => {
    const known = rows.get(a);
    if (known || !constants) return known;
    const [abs] = e.node('Abs', [a], 1, base);
    // ReduceMax takes its axes as an attribute up to opset 17, as an input from 18.
    const [max] =
      opset >= 18
        ? e.node(
            'ReduceMax',
            [abs, e.tensor(`${base}/axes`, DataType.INT64, [1], new Uint8Array(new BigInt64Array([-1n]).buffer))],
            1,
            base,
            { attribute: [intAttr('keepdims', 1)] },
          )
        : e.node('ReduceMax', [abs], 1, base, {
            attribute: [intAttr('keepdims', 1), { name: 'axes', type: AttributeType.INTS, ints: [-1] }],
          });
    const [rowMax] = e.node('Max', [max ?? '', constants.tiny], 1, base);
    const [scaled] = e.node('Div', [a, rowMax ?? ''], 1, base);
    const [q] = e.node('QuantizeLinear', [scaled ?? '', constants.inv127, constants.zero128], 1, base);
    const out = { q: q ?? '', scale: rowMax ?? '' };
    rows.set(a, out);
    return out;
  };
  const dropped = new Set<string>();
  const quantized: string[] = [];
  for (const node of graph.node ?? []) {
    const [a, wName] = node.input ?? [];
    const w = wName === undefined ? undefined : initializers.get(wName);
    const dims = (w?.dims ?? []).map(Number);
    const out = node.output?.[0];
    const eligible =
      node.opType === 'MatMul' &&
      (node.domain ?? '') === '' &&
      !graphInputs.has(wName) &&
      w?.dataType === DataType.FLOAT &&
      dims.length === 2 &&
      dims[0] * dims[1] >= minElements;
    if (!eligible || out === undefined || a === undefined || wName === undefined || w === undefined) {
      e.nodes.push(node);
      continue;
    }
    const [rowsN, cols] = dims as [number, number];
    const { q, scale } = quantizeColumns(floatsOf(w), rowsN, cols);
    const base = node.name || out;
    const wq = e.tensor(`${wName}_quantized`, DataType.INT8, [rowsN, cols], new Uint8Array(q.buffer));
    // Per row, the activation's 1/127 is folded into the weight scale (see the file comment).
    const wScale = activations === 'per-row' ? scale.map((v) => v / 127) : scale;
    const ws = e.tensor(`${wName}_scale`, DataType.FLOAT, [cols], new Uint8Array(wScale.buffer));
    // The float weight goes when nothing else reads it.
    if ((uses.get(wName) ?? 0) <= 1) dropped.add(wName);
    const row = quantizeRows(a, `${a}/quant`);
    if (row && constants) {
      e.nodes.push({
        name: e.fresh(`${base}/MatMulIntegerToFloat`),
        opType: 'MatMulIntegerToFloat',
        domain: 'com.microsoft',
        input: [row.q, wq, row.scale, ws, constants.zero128],
        output: [out],
      });
    } else {
      const [aq, aScale, aZero] = e.node('DynamicQuantizeLinear', [a], 3, base) as [string, string, string];
      const [product] = e.node('MatMulInteger', [aq, wq, aZero], 1, base);
      const [asFloat] = e.node('Cast', [product ?? ''], 1, base, { attribute: [intAttr('to', DataType.FLOAT)] });
      const [scaleProduct] = e.node('Mul', [aScale, ws], 1, base);
      e.nodes.push({
        name: e.fresh(`${base}/Rescale`),
        opType: 'Mul',
        input: [asFloat ?? '', scaleProduct ?? ''],
        output: [out],
      });
    }
    quantized.push(base);
  }
  if (quantized.length === 0) throw new Error('the model has no MatMul with a constant 2-D float weight to quantize');
  graph.node = e.nodes;
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !dropped.has(t.name ?? '')), ...e.initializers];
  if (activations === 'per-row') importContribDomain(model);
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => p.key !== 'quantization'),
    {
      key: 'quantization',
      value: `int8, per-column symmetric weights, ${activations} activations, rbrm quantizer ${QUANTIZER_VERSION}`,
    },
  ];
  return { bytes: onnx.ModelProto.encode(model).finish(), quantized };
}

/** MatMulIntegerToFloat lives in onnxruntime's `com.microsoft` domain, version 1. */
function importContribDomain(model: IModelProto): void {
  if (!(model.opsetImport ?? []).some((o) => o.domain === 'com.microsoft'))
    model.opsetImport = [...(model.opsetImport ?? []), { domain: 'com.microsoft', version: 1 }];
}
