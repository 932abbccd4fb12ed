/**
 * TensorProto decoding: element types, lazy typed-array views, and conversion to numbers.
 *
 * Spec source: `onnx/onnx.proto` (TensorProto): values live in exactly one of `raw_data` (little-endian bytes),
 * a typed field (`float_data` for FLOAT/COMPLEX64; `int32_data` for INT32, INT16, INT8, UINT16, UINT8, BOOL,
 * FLOAT16/BFLOAT16/FLOAT8 bit patterns and packed 4-bit types; `int64_data` for INT64; `double_data` for
 * DOUBLE/COMPLEX128; `uint64_data` for UINT32/UINT64; `string_data` for STRING), or an external file.
 */
import { endianness } from 'node:os';
import type { onnx } from 'onnx-proto';
import { DataType, type OnnxTensor, type TensorArray } from './types';
import { bfloat16ToNumber, halfToNumber, numberToHalf } from '../../util/float16';

type Int64Like = number | { toString(): string; toNumber?: () => number; low?: number; high?: number };

/** An int64 protobuf field (number or Long) as a JS number (lossy beyond 2^53). */
export function toNum(x: Int64Like | null | undefined): number {
  if (x === null || x === undefined) return 0;
  if (typeof x === 'number') return x;
  if (typeof x.toNumber === 'function') return x.toNumber();
  return Number(x.toString());
}

/** An int64 protobuf field (number or Long) as a bigint (exact). */
export function toBig(x: Int64Like | null | undefined): bigint {
  if (x === null || x === undefined) return 0n;
  if (typeof x === 'number') return BigInt(Math.trunc(x));
  return BigInt(x.toString());
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(DataType).map(([k, v]) => [v, k]));

/** Name of a `DataType` code (`TYPE<n>` for codes this project does not know). */
export function dataTypeName(code: number): string {
  return NAMES[code] ?? `TYPE${code}`;
}

type ArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

/** The TensorProto field a type's values live in when they are not raw_data (onnx.proto, TensorProto). */
export type TypedField = 'floatData' | 'doubleData' | 'int64Data' | 'uint64Data' | 'stringData' | 'int32Data';

/** ONNX Runtime's JS name of an element type it can feed and fetch. */
export type OrtElementType = 'float32' | 'float64' | 'float16' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'bool';

/** What this project knows about one element type. */
interface ElementType {
  /** Bytes per element, or a fraction for sub-byte types (4-bit: 0.5, 2-bit: 0.25); 0 for STRING. */
  bytes: number;
  /** The typed array holding the elements, and how many array elements one tensor element takes (complex: 2). */
  array?: { ctor: ArrayCtor; per: number };
  /** The typed field of the TensorProto (int32_data when not named). */
  field?: TypedField;
  /** ONNX Runtime's name, for types that can be fed from (and written as) numbers. */
  ort?: OrtElementType;
}

const F32 = { ctor: Float32Array, per: 1 };
const F64 = { ctor: Float64Array, per: 1 };
const U8 = { ctor: Uint8Array, per: 1 };
const U16 = { ctor: Uint16Array, per: 1 };

/** The one element-type table: every `DataType` this project reads, writes or feeds. */
const ELEMENT_TYPES: Record<number, ElementType> = {
  [DataType.FLOAT]: { bytes: 4, array: F32, field: 'floatData', ort: 'float32' },
  [DataType.UINT8]: { bytes: 1, array: U8, ort: 'uint8' },
  [DataType.INT8]: { bytes: 1, array: { ctor: Int8Array, per: 1 }, ort: 'int8' },
  [DataType.UINT16]: { bytes: 2, array: U16, ort: 'uint16' },
  [DataType.INT16]: { bytes: 2, array: { ctor: Int16Array, per: 1 }, ort: 'int16' },
  [DataType.INT32]: { bytes: 4, array: { ctor: Int32Array, per: 1 }, ort: 'int32' },
  [DataType.INT64]: { bytes: 8, array: { ctor: BigInt64Array, per: 1 }, field: 'int64Data', ort: 'int64' },
  [DataType.STRING]: { bytes: 0, field: 'stringData' },
  [DataType.BOOL]: { bytes: 1, array: U8, ort: 'bool' },
  [DataType.FLOAT16]: { bytes: 2, array: U16, ort: 'float16' },
  [DataType.DOUBLE]: { bytes: 8, array: F64, field: 'doubleData', ort: 'float64' },
  [DataType.UINT32]: { bytes: 4, array: { ctor: Uint32Array, per: 1 }, field: 'uint64Data', ort: 'uint32' },
  [DataType.UINT64]: { bytes: 8, array: { ctor: BigUint64Array, per: 1 }, field: 'uint64Data', ort: 'uint64' },
  [DataType.COMPLEX64]: { bytes: 8, array: { ctor: Float32Array, per: 2 }, field: 'floatData' },
  [DataType.COMPLEX128]: { bytes: 16, array: { ctor: Float64Array, per: 2 }, field: 'doubleData' },
  [DataType.BFLOAT16]: { bytes: 2, array: U16 },
  [DataType.FLOAT8E4M3FN]: { bytes: 1, array: U8 },
  [DataType.FLOAT8E4M3FNUZ]: { bytes: 1, array: U8 },
  [DataType.FLOAT8E5M2]: { bytes: 1, array: U8 },
  [DataType.FLOAT8E5M2FNUZ]: { bytes: 1, array: U8 },
  [DataType.UINT4]: { bytes: 0.5, array: U8 },
  [DataType.INT4]: { bytes: 0.5, array: U8 },
  [DataType.FLOAT4E2M1]: { bytes: 0.5, array: U8 },
  [DataType.FLOAT8E8M0]: { bytes: 1, array: U8 },
  [DataType.UINT2]: { bytes: 0.25, array: U8 },
  [DataType.INT2]: { bytes: 0.25, array: U8 },
};

/** Bytes per element, or a fraction for sub-byte types (4-bit: 0.5, 2-bit: 0.25); 0 for STRING/unknown. */
export function elementBytes(code: number): number {
  return ELEMENT_TYPES[code]?.bytes ?? 0;
}

/** Byte size of `size` elements of `code` (sub-byte types round up to whole bytes); null for STRING/unknown. */
export function byteSize(code: number, size: number): number | null {
  const b = elementBytes(code);
  if (b === 0) return null;
  return Math.ceil(size * b);
}

/** The typed array used for a data type and how many array elements one tensor element takes. */
function arrayType(code: number): { ctor: ArrayCtor; per: number } | null {
  return ELEMENT_TYPES[code]?.array ?? null;
}

/** The typed field a type's values live in (onnx.proto, TensorProto): int32_data for every type without its own. */
export function typedField(code: number): TypedField {
  return ELEMENT_TYPES[code]?.field ?? 'int32Data';
}

/** ONNX Runtime's name of an element type that can be fed from numbers, or undefined. */
export function ortElementType(code: number): OrtElementType | undefined {
  return ELEMENT_TYPES[code]?.ort;
}

/** Typed arrays that hold tensor elements (no strings). */
export type NumericArray = Exclude<TensorArray, string[]>;

/**
 * Numbers as the elements of `dataType` (the types ONNX Runtime feeds: FLOAT, DOUBLE, FLOAT16, INT8…INT64,
 * UINT8…UINT64, BOOL), the one conversion of the tensor writer and the feeds: floats rounded to the type (float16 to
 * nearest even), BOOL as 0/1 (any non-zero is true), integer types only from integers.
 * @param what names the tensor or input in error messages, e.g. `input 'x'`.
 * @throws Error for other data types, or for an integer type when a value is not an integer.
 */
export function encodeNumbers(dataType: number, values: ArrayLike<number>, what: string): NumericArray {
  const type = ortElementType(dataType);
  if (!type) throw new Error(`${what}: element type ${dataTypeName(dataType)} cannot be written from numeric data`);
  if (type !== 'float32' && type !== 'float64' && type !== 'float16' && type !== 'bool') {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isInteger(values[i])) throw new Error(`${what} is ${dataTypeName(dataType)}, but value ${values[i]} at flat index ${i} is not an integer`);
    }
  }
  switch (type) {
    case 'float16':
      return Uint16Array.from(values, numberToHalf);
    case 'bool':
      return Uint8Array.from(values, (x) => (x !== 0 ? 1 : 0));
    case 'int64':
      return BigInt64Array.from(Array.from(values, (x) => BigInt(x)));
    case 'uint64':
      return BigUint64Array.from(Array.from(values, (x) => BigInt(x)));
    default: {
      const ctor = arrayType(dataType)!.ctor as Float32ArrayConstructor;
      return ctor.from(values);
    }
  }
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Views little-endian bytes as the typed array of `code` holding `count` array elements.
 * Zero-copy when the platform is little-endian and `bytes.byteOffset` is a multiple of the element size;
 * otherwise the bytes are copied once into a fresh, aligned buffer (big-endian hosts byte-swap through a DataView).
 * @throws Error when there are fewer bytes than needed.
 */
export function viewBytes(bytes: Uint8Array, code: number, count: number, what: string): TensorArray {
  const t = arrayType(code);
  if (!t) throw new Error(`${what}: data type ${dataTypeName(code)} has no numeric array form`);
  const el = t.ctor.BYTES_PER_ELEMENT;
  const need = count * el;
  if (bytes.byteLength < need) {
    throw new Error(`${what}: holds ${bytes.byteLength} bytes of data, but its shape and type need ${need}`);
  }
  if (LITTLE_ENDIAN && bytes.byteOffset % el === 0) {
    return new t.ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, count) as TensorArray;
  }
  const copy = new Uint8Array(need);
  copy.set(bytes.subarray(0, need));
  if (LITTLE_ENDIAN || el === 1) return new t.ctor(copy.buffer, 0, count) as TensorArray;
  // Big-endian host: ONNX raw data is little-endian, so swap each element.
  const out = new t.ctor(count);
  const dv = new DataView(copy.buffer);
  for (let i = 0; i < count; i++) {
    const o = i * el;
    let v: number | bigint;
    if (t.ctor === Float32Array) v = dv.getFloat32(o, true);
    else if (t.ctor === Float64Array) v = dv.getFloat64(o, true);
    else if (t.ctor === Int16Array) v = dv.getInt16(o, true);
    else if (t.ctor === Uint16Array) v = dv.getUint16(o, true);
    else if (t.ctor === Int32Array) v = dv.getInt32(o, true);
    else if (t.ctor === Uint32Array) v = dv.getUint32(o, true);
    else if (t.ctor === BigInt64Array) v = dv.getBigInt64(o, true);
    else v = dv.getBigUint64(o, true);
    (out as unknown as Array<number | bigint>)[i] = v;
  }
  return out as TensorArray;
}

/** Number of typed-array elements a tensor of `size` elements takes (complex: 2 per element; 4-bit: packed). */
export function arrayLength(code: number, size: number): number {
  const t = arrayType(code);
  if (!t) return size;
  if (t.ctor === Uint8Array) {
    const b = elementBytes(code);
    return Math.ceil(size * b);
  }
  return size * t.per;
}

/** Values from the typed fields of a TensorProto (not raw_data), as the right typed array. */
function fromTypedFields(p: onnx.ITensorProto, code: number, size: number, what: string): TensorArray {
  const n = arrayLength(code, size);
  const check = (len: number) => {
    if (len < n) throw new Error(`${what}: holds ${len} values, but its shape needs ${n}`);
  };
  switch (typedField(code)) {
    case 'stringData': {
      const s = p.stringData ?? [];
      check(s.length);
      return s.slice(0, size).map((b) => Buffer.from(b).toString('utf8'));
    }
    case 'floatData': {
      const f = p.floatData ?? [];
      check(f.length);
      return Float32Array.from(f.slice(0, n));
    }
    case 'doubleData': {
      const f = p.doubleData ?? [];
      check(f.length);
      return Float64Array.from(f.slice(0, n));
    }
    case 'int64Data': {
      const f = p.int64Data ?? [];
      check(f.length);
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = toBig(f[i] as Int64Like);
      return out;
    }
    case 'uint64Data': {
      const f = p.uint64Data ?? [];
      check(f.length);
      if (code === DataType.UINT32) return Uint32Array.from(f.slice(0, n), (x) => toNum(x as Int64Like));
      const out = new BigUint64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt.asUintN(64, toBig(f[i] as Int64Like));
      return out;
    }
    default: {
      // Everything else is carried in int32_data, one value per int32 (packed types: one byte per int32).
      const t = arrayType(code);
      if (!t) throw new Error(`${what}: data type ${dataTypeName(code)} is not supported`);
      const f = p.int32Data ?? [];
      check(f.length);
      const out = new t.ctor(n) as Exclude<TensorArray, string[] | BigInt64Array | BigUint64Array>;
      for (let i = 0; i < n; i++) out[i] = f[i];
      return out;
    }
  }
}

/** Loader for external data: returns the bytes of `[offset, offset+length)` of the tensor's file. */
export type ExternalReader = (t: OnnxTensor, byteLength: number) => Uint8Array;

/**
 * Wraps a decoded TensorProto as an `OnnxTensor` with a lazy `data()`.
 * @param p the protobufjs message; its `rawData` (a view into the file buffer) is kept, not copied.
 * @param external reader for `data_location = EXTERNAL` (null: such tensors throw on `data()`).
 * @param cache whether `data()` keeps its result (asked on each call; false for >2 GB external weights).
 */
export function wrapTensor(
  p: onnx.ITensorProto,
  fallbackName: string,
  external: { location: OnnxTensor['external']; read: ExternalReader } | null,
  cache: boolean | (() => boolean) = true,
): OnnxTensor {
  const dims = (p.dims ?? []).map((d) => toNum(d as Int64Like));
  const dataType = p.dataType ?? 0;
  const size = dims.reduce((a, b) => a * b, 1);
  const name = p.name || fallbackName;
  const what = `tensor '${name}'`;
  let cached: TensorArray | null = null;
  const t: OnnxTensor = {
    name,
    dims,
    dataType,
    dataTypeName: dataTypeName(dataType),
    size,
    storage: external ? 'external' : 'inline',
    data(): TensorArray {
      if (cached) return cached;
      let v: TensorArray;
      if (dims.some((d) => d < 0 || !Number.isFinite(d))) throw new Error(`${what}: invalid dims [${dims.join(', ')}]`);
      if (external) {
        const need = byteSize(dataType, size);
        if (need === null) throw new Error(`${what}: external data of type ${dataTypeName(dataType)} is not supported`);
        const bytes = external.read(t, need);
        v = viewBytes(bytes, dataType, arrayLength(dataType, size), what);
      } else if (p.rawData && p.rawData.byteLength > 0) {
        if (dataType === DataType.STRING) throw new Error(`${what}: STRING tensors cannot use raw_data`);
        v = viewBytes(p.rawData, dataType, arrayLength(dataType, size), what);
      } else if (size === 0) {
        const at = arrayType(dataType);
        v = dataType === DataType.STRING ? [] : at ? (new at.ctor(0) as TensorArray) : new Uint8Array(0);
      } else {
        v = fromTypedFields(p, dataType, size, what);
      }
      if (typeof cache === 'function' ? cache() : cache) cached = v;
      return v;
    },
  };
  if (external) t.external = external.location;
  return t;
}

/**
 * A tensor's values as float64 (row-major), for numeric types including FLOAT16/BFLOAT16 and BOOL (0/1).
 * int64 values beyond 2^53 lose precision. Complex tensors give interleaved (re, im) pairs.
 * @throws Error for STRING, FLOAT8 and sub-byte types, or when the data cannot be read.
 */
export function toFloat64(t: OnnxTensor): Float64Array {
  const d = t.data();
  if (Array.isArray(d)) throw new Error(`tensor '${t.name}': STRING tensors have no numeric values`);
  if (t.dataType === DataType.FLOAT16) return Float64Array.from(d as Uint16Array, halfToNumber);
  if (t.dataType === DataType.BFLOAT16) return Float64Array.from(d as Uint16Array, bfloat16ToNumber);
  if (elementBytes(t.dataType) < 1 || (t.dataType >= 17 && t.dataType <= 20) || t.dataType === DataType.FLOAT8E8M0) {
    throw new Error(`tensor '${t.name}': ${t.dataTypeName} values are not converted by this reader`);
  }
  if (d instanceof Float64Array) return d;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d as ArrayLike<bigint>, Number);
  return Float64Array.from(d as ArrayLike<number>);
}
