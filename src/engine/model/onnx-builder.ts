import onnxProto, { type onnx as P } from 'onnx-proto';
import { encodeFromF32 } from '../merge/half-float.ts';

// onnx-proto is CommonJS: Node's ESM loader exposes it only as a default export.
const { onnx } = onnxProto;
/**
 * A small, readable builder for ONNX graphs: named values in, `op(...)` calls, protobuf bytes
 * out (through onnx-proto, the ONNX schema compiled for protobufjs). Value names are generated
 * (`Reshape_12`) unless given; weights enter as graph inputs, never as initializers.
 */

export type Elem = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';
export type Dim = number | string;

const ELEM: Record<Elem, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** A float attribute (plain numbers are ints). */
export const float = (f: number) => ({ float: f });
export type AttrValue = number | number[] | string | { float: number } | P.ITensorProto;

function valueInfo(name: string, elem: Elem, dims: Dim[]): P.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.TENSOR, t: v };
}

export function tensorF32(values: ArrayLike<number>, dims: number[]): P.ITensorProto {
  return { dataType: ELEM.float32, dims, rawData: new Uint8Array(Float32Array.from(values).buffer) };
}

export function tensorI64(values: number[], dims: number[]): P.ITensorProto {
  return { dataType: ELEM.int64, dims, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) };
}

export class GraphBuilder {
  private readonly nodes: P.INodeProto[] = [];
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private readonly initializers: P.ITensorProto[] = [];
  private counter = 0;
  private readonly domains = new Map<string, number>([['', 17]]);

  input(name: string, elem: Elem, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Marks an existing value as a graph output (renamed through Identity when needed). */
  output(value: string, name: string, elem: Elem, dims: Dim[]): void {
    if (value !== name) this.op('Identity', [value], {}, { name });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A named initializer (the conventional export: weights stored inside the model file). */
  initializer(name: string, values: Float32Array, dims: number[], elem: 'float32' | 'float16' = 'float32'): string {
    const raw = elem === 'float16' ? encodeFromF32(values, 'F16') : new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.initializers.push({ name, dataType: ELEM[elem], dims, rawData: raw });
    return name;
  }

  /**
   * A named initializer whose bytes live in a separate file (ONNX external data: `location`
   * relative to the model file, `offset`/`length` in bytes), so the model file stays small and no
   * protobuf limit (2 GB) or in-memory copy applies to the weights.
   */
  externalInitializer(name: string, dims: number[], elem: 'float32' | 'float16' | 'uint8', at: { location: string; offset: number; length: number }): string {
    this.initializers.push({
      name,
      dataType: ELEM[elem],
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: at.location },
        { key: 'offset', value: String(at.offset) },
        { key: 'length', value: String(at.length) },
      ],
    });
    return name;
  }

  /** A small constant baked into the graph (shapes, RoPE frequencies, scalars). */
  constant(t: P.ITensorProto, hint = 'const'): string {
    const name = `${hint}_${this.counter++}`;
    this.initializers.push({ ...t, name });
    return name;
  }

  f32(values: number | ArrayLike<number>, dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.constant(tensorF32(arr, dims ?? (typeof values === 'number' ? [] : [arr.length])), 'f32');
  }

  i64(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.constant(tensorI64(arr, dims ?? (typeof values === 'number' ? [] : [arr.length])), 'i64');
  }

  /** Adds a node; returns its output value name(s). Empty-string inputs mean "omitted optional". */
  op(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, o: { name?: string; outputs?: number; domain?: string } = {}): string {
    return this.opN(type, inputs, attrs, { ...o, outputs: 1 })[0];
  }

  opN(type: string, inputs: string[], attrs: Record<string, AttrValue> = {}, o: { name?: string; outputs?: number; domain?: string } = {}): string[] {
    const id = this.counter++;
    const count = o.outputs ?? 1;
    const outs = count === 1 && o.name ? [o.name] : Array.from({ length: count }, (_, i) => `${type}_${id}${count > 1 ? `_${i}` : ''}`);
    if (o.domain && !this.domains.has(o.domain)) this.domains.set(o.domain, 1);
    this.nodes.push({
      name: `${type}_${id}`,
      opType: type,
      domain: o.domain ?? '',
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  toBytes(graphName: string): Uint8Array {
    const model: P.IModelProto = {
      irVersion: 8,
      producerName: 'reasoning-vector-studio',
      opsetImport: [...this.domains].map(([domain, version]) => ({ domain, version })),
      graph: { name: graphName, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  get nodeCount(): number {
    return this.nodes.length;
  }
}
