/**
 * A small typed builder over `onnx-proto` for writing ONNX graphs by hand: initializers, nodes with typed
 * attributes, graph inputs/outputs and model metadata. It knows nothing about any particular network.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** An attribute value with its ONNX type made explicit, so `1` (int) and `1.0` (float) cannot be confused. */
export type Attr = { int: number } | { float: number } | { ints: readonly number[] };
export const int = (value: number): Attr => ({ int: value });
export const float = (value: number): Attr => ({ float: value });
export const ints = (value: readonly number[]): Attr => ({ ints: value });

export type ElemType = 'float32' | 'int64';
const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A graph input or output: a name, an element type and dims that are fixed sizes or symbolic names. */
export interface ValueSpec {
  name: string;
  type: ElemType;
  dims: ReadonlyArray<number | string>;
}

export interface ModelSpec {
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  graphName: string;
  producer: { name: string; version: string };
  opset: number;
  /** Free-form key/value pairs stored in the model (source package, builder version, …). */
  metadata?: Record<string, string>;
}

function toAttribute(name: string, value: Attr): IAttributeProto {
  const { AttributeType } = onnx.AttributeProto;
  if ('int' in value) return { name, type: AttributeType.INT, i: value.int };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value.ints] };
}

function valueInfo({ name, type, dims }: ValueSpec): IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[type],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/**
 * Accumulates nodes and initializers, then serialises them into an ONNX `ModelProto`.
 * @example
 * const g = new GraphBuilder();
 * const w = g.float('w', new Float32Array([1, 2]), [2, 1]);
 * const y = g.op('MatMul', ['x', w]);
 * const bytes = g.build({ inputs: [{ name: 'x', type: 'float32', dims: ['n', 2] }], outputs: [{ name: y, … }], … });
 */
export class GraphBuilder {
  private readonly nodes: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** A unique value name derived from `hint`. */
  fresh(hint: string): string {
    let name = hint;
    while (this.names.has(name)) name = `${hint}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /** Adds a float32 initializer; returns its value name. */
  float(name: string, data: Float32Array, dims: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    const id = this.fresh(name);
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name: id, dims: [...dims], dataType: ELEM.float32, rawData });
    return id;
  }

  /** Adds a float32 scalar (dims `[]`) or vector initializer. */
  scalar(name: string, value: number): string {
    return this.float(name, new Float32Array([value]), []);
  }

  /** Adds an int64 initializer (shapes, axes, split sizes); returns its value name. */
  int64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const id = this.fresh(name);
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name: id, dims: [...dims], dataType: ELEM.int64, rawData: new Uint8Array(data.buffer) });
    return id;
  }

  /** Adds one node with a single output; returns the output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, hint = opType): string {
    return this.opN(opType, inputs, 1, attrs, hint)[0];
  }

  /** Adds one node with `outputs` outputs; returns their names. */
  opN(
    opType: string,
    inputs: readonly string[],
    outputs: number,
    attrs: Record<string, Attr> = {},
    hint = opType,
  ): string[] {
    const name = this.fresh(`${hint}/node`);
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? hint : `${hint}:${i}`));
    const attribute = Object.entries(attrs).map(([k, v]) => toAttribute(k, v));
    this.nodes.push({ name, opType, input: [...inputs], output: outs, attribute });
    return outs;
  }

  /** Renames a value to a graph output name by appending an `Identity` node. */
  output(value: string, name: string): string {
    this.names.add(name);
    this.nodes.push({ name: `${name}/identity`, opType: 'Identity', input: [value], output: [name] });
    return name;
  }

  /** Serialises the graph as an ONNX model (IR version 8). */
  build(spec: ModelSpec): Uint8Array {
    for (const input of spec.inputs) this.names.add(input.name);
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: spec.opset }],
      producerName: spec.producer.name,
      producerVersion: spec.producer.version,
      graph: {
        name: spec.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: spec.inputs.map(valueInfo),
        output: spec.outputs.map(valueInfo),
      },
      metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
