/**
 * The decoded form of an ONNX model, as the rest of the project consumes it.
 *
 * `read.ts` builds these from the protobuf (ONNX IR, `onnx/onnx.proto`); `shapes.ts` adds inferred shapes;
 * `detect.ts` finds attention blocks in them. Everything here is plain data except the lazy
 * `OnnxTensor.data()` accessor, so that weights are only read (or copied) when someone asks for them.
 *
 * Conventions:
 * - Operator domains are normalized: the default domain (`""` in the file) is written `"ai.onnx"`.
 * - int64 scalars (dims, attribute ints) are JS numbers; values beyond 2^53 lose precision, which only
 *   matters for "infinity" sentinels such as INT64_MAX in Slice ends, whose meaning survives.
 */
import type { onnx } from 'onnx-proto';

/** ONNX `TensorProto.DataType` codes (onnx.proto; codes above 16 are newer than onnx-proto's enum). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
  FLOAT8E8M0: 24,
  UINT2: 25,
  INT2: 26,
} as const;

/** Typed-array view returned by `OnnxTensor.data()`; see `tensor.ts` for the type ↔ array mapping. */
export type TensorArray =
  Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

/** Where an external tensor's bytes live (TensorProto.external_data, data_location = EXTERNAL). */
export interface ExternalLocation {
  /** `location` exactly as written in the model. */
  location: string;
  /** Absolute path it resolves to, inside the model's folder (checked when the model is read). */
  path: string;
  /** Byte offset in the file (`offset`, default 0). */
  offset: number;
  /** Byte length (`length`, or the size implied by dims and type when absent; null when neither is known). */
  length: number | null;
}

/** A tensor held by the model: an initializer, a Constant's value or a tensor-valued attribute. */
export interface OnnxTensor {
  name: string;
  /** Shape; `[]` is a scalar. */
  dims: number[];
  /** `DataType` code. */
  dataType: number;
  /** Name of the data type (`FLOAT`, `INT64`, … or `TYPE<n>` for unknown codes). */
  dataTypeName: string;
  /** Number of elements (product of dims). */
  size: number;
  /** `inline`: in the .onnx file; `external`: in a separate file beside it. */
  storage: 'inline' | 'external';
  external?: ExternalLocation;
  /** True for tensors that came from `sparse_initializer` (densified on `data()`). */
  sparse?: boolean;
  /**
   * The values, row-major. Lazy: inline `raw_data` is viewed without copying when its byte offset is aligned
   * for the element type (otherwise copied once); external data is read from its file on first call.
   * FLOAT16/BFLOAT16/FLOAT8 come back as their raw bit patterns (Uint16Array/Uint8Array; see
   * `tensor.ts:toFloat64` for values); 4-bit and 2-bit types as packed bytes.
   * @throws Error when external data is missing, escapes the model folder, or is shorter than the tensor.
   */
  data(): TensorArray;
}

/** A dimension as written in a value info: a number, a symbolic name (`dim_param`), or unknown (null). */
export type DimSpec = number | string | null;

/** A graph input/output or intermediate value with its declared type. */
export interface OnnxValueInfo {
  name: string;
  /** Element `DataType` of a tensor type; 0 when unknown or not a tensor. */
  elemType: number;
  /** Declared shape, or null when the type has no shape (rank unknown). */
  shape: DimSpec[] | null;
  /** `tensor`, `sequence`, `map`, `optional`, `sparse_tensor`, or `unknown`. */
  kind: string;
}

/** A decoded attribute. `type` follows `AttributeProto.AttributeType` names. */
export type OnnxAttribute =
  | { type: 'FLOAT'; value: number }
  | { type: 'INT'; value: number }
  | { type: 'STRING'; value: string }
  | { type: 'TENSOR'; value: OnnxTensor }
  | { type: 'GRAPH'; value: OnnxGraph }
  | { type: 'FLOATS'; value: number[] }
  | { type: 'INTS'; value: number[] }
  | { type: 'STRINGS'; value: string[] }
  | { type: 'TENSORS'; value: OnnxTensor[] }
  | { type: 'GRAPHS'; value: OnnxGraph[] }
  | { type: 'SPARSE_TENSOR'; value: OnnxTensor }
  | { type: 'SPARSE_TENSORS'; value: OnnxTensor[] }
  | { type: 'TYPE_PROTO' | 'TYPE_PROTOS' | 'REF' | 'UNDEFINED'; value: null; ref?: string };

/** A graph node (NodeProto) with decoded attributes. */
export interface OnnxNode {
  /** Node name; empty names are kept empty (use `label()` in detect for display). */
  name: string;
  opType: string;
  /** Normalized domain (`ai.onnx` for the default domain). */
  domain: string;
  /** Input tensor names; `''` marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
  /** Position in its graph's node list. */
  index: number;
}

/** A graph (GraphProto): the main graph or an If/Loop/Scan body. */
export interface OnnxGraph {
  name: string;
  /** `''` for the main graph; otherwise `<node label>/<attribute>` path of the subgraph (If/Loop/Scan bodies). */
  path: string;
  nodes: OnnxNode[];
  /** Initializers (and densified sparse initializers) by name. */
  initializers: Map<string, OnnxTensor>;
  /** Graph inputs that are not initializers, in declaration order. */
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Declared `value_info` entries by name. */
  valueInfo: Map<string, OnnxValueInfo>;
  /** Subgraphs held by node attributes, in node order (each may hold its own). */
  subgraphs: OnnxGraph[];
  /** Enclosing graph for subgraphs (names from it are visible inside). */
  parent: OnnxGraph | null;
}

/** A decoded model (ModelProto). */
export interface OnnxModel {
  /** Path the model was read from (`<memory>` for bytes). */
  file: string;
  /** Folder external data must live in (null for in-memory models without one). */
  dir: string | null;
  irVersion: number;
  /** Opset versions by normalized domain (`ai.onnx`, `com.microsoft`, …). */
  opsets: Record<string, number>;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: number;
  docString: string;
  metadata: Record<string, string>;
  graph: OnnxGraph;
  /** Model-local functions (`domain:name`); their bodies are not decoded into graphs. */
  functions: string[];
  /** Total bytes of external data referenced by initializers. */
  externalDataBytes: number;
  /** True when external weights exceed 2 GB: nothing is cached after a `data()` call. */
  largeExternalData: boolean;
  /** The raw protobufjs message (for writers that re-serialize the model). */
  proto: onnx.ModelProto;
}
