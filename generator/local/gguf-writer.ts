/**
 * A minimal GGUF (version 3) writer: metadata key/values, then tensor infos, then the tensors' data, each aligned
 * to `general.alignment` (32). Enough to write a model llama.cpp loads; the layout follows ggml's docs/gguf.md.
 */
import { writeFileSync } from 'node:fs';

/** GGUF metadata value types (gguf.md, `gguf_metadata_value_type`). */
const T = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9 } as const;

/** ggml tensor types this writer can encode. */
export const GGML = { F32: 0, F16: 1, Q8_0: 8 } as const;
export type GgmlType = (typeof GGML)[keyof typeof GGML];

export type MetaValue =
  | { u32: number }
  | { i32: number }
  | { f32: number }
  | { bool: boolean }
  | { string: string }
  | { strings: string[] }
  | { f32s: Float32Array }
  | { i32s: Int32Array };

export interface TensorSpec {
  name: string;
  /** ggml order: dims[0] is the fastest-varying (for a weight matrix, its input size). */
  dims: number[];
  type: GgmlType;
  data: Float32Array;
}

const ALIGN = 32;

/** Grows a byte buffer as values are appended, little-endian as GGUF is. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private room(n: number) {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number) {
    this.room(4);
    this.length = this.buf.writeUInt32LE(v, this.length);
  }
  i32(v: number) {
    this.room(4);
    this.length = this.buf.writeInt32LE(v, this.length);
  }
  u64(v: number) {
    this.room(8);
    this.length = this.buf.writeBigUInt64LE(BigInt(v), this.length);
  }
  f32(v: number) {
    this.room(4);
    this.length = this.buf.writeFloatLE(v, this.length);
  }
  u8(v: number) {
    this.room(1);
    this.length = this.buf.writeUInt8(v, this.length);
  }
  raw(b: Uint8Array) {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.raw(b);
  }
  pad() {
    while (this.length % ALIGN !== 0) this.u8(0);
  }
  done(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** IEEE 754 half precision, round to nearest (enough for random weights and scales). */
export function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // too small for a normal half: zero (subnormals are not needed here)
  if (exp >= 31) return sign | 0x7c00;
  return sign | ((exp << 10) + Math.round(mant / 8192)); // a carry from rounding moves into the exponent
}

/** A tensor's bytes in its ggml type. Q8_0: blocks of 32 values as one f16 scale and 32 int8 values. */
function encode({ type, data, name }: TensorSpec): Uint8Array {
  const out = new Bytes();
  if (type === GGML.F32) for (const v of data) out.f32(v);
  else if (type === GGML.F16) for (const v of data) out.raw(u16(toHalf(v)));
  else {
    if (data.length % 32 !== 0) throw new Error(`${name}: Q8_0 needs a multiple of 32 values`);
    for (let b = 0; b < data.length; b += 32) {
      const block = data.subarray(b, b + 32);
      const d = Math.max(...Array.from(block, Math.abs)) / 127;
      out.raw(u16(toHalf(d)));
      for (const v of block) out.raw(new Uint8Array(new Int8Array([d === 0 ? 0 : Math.round(v / d)]).buffer));
    }
  }
  return out.done();
}

const u16 = (v: number) => new Uint8Array(new Uint16Array([v]).buffer);

function writeValue(out: Bytes, value: MetaValue) {
  if ('u32' in value) {
    out.u32(T.u32);
    out.u32(value.u32);
  } else if ('i32' in value) {
    out.u32(T.i32);
    out.i32(value.i32);
  } else if ('f32' in value) {
    out.u32(T.f32);
    out.f32(value.f32);
  } else if ('bool' in value) {
    out.u32(T.bool);
    out.u8(value.bool ? 1 : 0);
  } else if ('string' in value) {
    out.u32(T.string);
    out.str(value.string);
  } else if ('strings' in value) {
    out.u32(T.array);
    out.u32(T.string);
    out.u64(value.strings.length);
    for (const s of value.strings) out.str(s);
  } else if ('f32s' in value) {
    out.u32(T.array);
    out.u32(T.f32);
    out.u64(value.f32s.length);
    for (const v of value.f32s) out.f32(v);
  } else {
    out.u32(T.array);
    out.u32(T.i32);
    out.u64(value.i32s.length);
    for (const v of value.i32s) out.i32(v);
  }
}

/** The GGUF file's bytes for these metadata entries and tensors. */
export function ggufBytes(meta: Record<string, MetaValue>, tensors: TensorSpec[]): Buffer {
  const out = new Bytes();
  out.raw(Buffer.from('GGUF', 'ascii'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(Object.keys(meta).length);
  for (const [key, value] of Object.entries(meta)) {
    out.str(key);
    writeValue(out, value);
  }
  const encoded = tensors.map(encode);
  let offset = 0;
  tensors.forEach((t, i) => {
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(offset);
    offset += Math.ceil((encoded[i] as Uint8Array).length / ALIGN) * ALIGN;
  });
  out.pad();
  for (const bytes of encoded) {
    out.raw(bytes);
    out.pad();
  }
  return out.done();
}

export function writeGguf(path: string, meta: Record<string, MetaValue>, tensors: TensorSpec[]): number {
  const bytes = ggufBytes(meta, tensors);
  writeFileSync(path, bytes);
  return bytes.length;
}
