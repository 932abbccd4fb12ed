/**
 * Reads an ONNX model file into the plain structures of `types.ts`.
 *
 * Spec sources: `onnx/onnx.proto` (IR), onnx/docs/IR.md (IR versions, opset imports, subgraph scoping),
 * onnx/docs/ExternalData.md. Decoding uses `onnx-proto` (protobufjs); a small wire-level pre-scan of the top-level
 * message runs first so that truncated files, random bytes and other protobuf messages get a clear reason instead
 * of protobufjs' generic errors (protobufjs does not check wire types, so a TensorProto would otherwise decode into
 * a garbage ModelProto). Every failure is an `OnnxReadError`; nothing here calls process.exit or can loop forever
 * (the pre-scan and protobufjs both advance on every field and stop at the end of the buffer).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { checkModel, checkSparseTensorProto, checkTensorProto } from './check';
import { OnnxReadError } from './errors';
import { checkExternalFile, readExternal, resolveLocation } from './external';
import { byteSize, toNum, wrapTensor } from './tensor';
import type { DimSpec, ExternalLocation, OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './types';

/** IR versions this reader accepts: 3 (first with opset_import) … 13 (ONNX 1.20+; onnxruntime-node 1.30 loads IR 13). */
export const MIN_IR_VERSION = 3;
export const MAX_IR_VERSION = 13;
/** Default-domain (`ai.onnx`) opsets accepted. */
export const MIN_OPSET = 1;
export const MAX_OPSET = 25;
/** Versions accepted for other known domains. */
export const KNOWN_DOMAIN_VERSIONS: Record<string, [number, number]> = {
  'com.microsoft': [1, 1],
  'ai.onnx.ml': [1, 5],
  'ai.onnx.training': [1, 1],
  'ai.onnx.preview.training': [1, 1],
  'ai.onnx.preview': [1, 1],
};
/** External weights above this many bytes are never cached after reading (the model opens without reading them). */
export const LARGE_EXTERNAL_BYTES = 2 * 1024 ** 3;
const MAX_SUBGRAPH_DEPTH = 64;
const PROTOBUF_LIMIT = 2 * 1024 ** 3;

/** Options of `readModel` / `decodeModel`. */
export interface ReadOptions {
  /**
   * Check every external-data file when the model is opened (exists, inside the folder, long enough). Default
   * true; when false, problems surface on the first `data()` call of the tensor instead. Locations that are
   * absolute or climb out of the folder are refused either way.
   */
  checkExternalData?: boolean;
  /**
   * Run the model checker (`check.ts`: topological order, single assignment, every input and output produced,
   * attention attributes and Split sizes in their operator's domain). Default true. Tensor dims and data lengths
   * are checked either way.
   */
  validateGraph?: boolean;
}

/** Normalizes an operator-set domain: the default domain is written `ai.onnx`. */
export function normDomain(d: string | null | undefined): string {
  return !d || d === 'ai.onnx' ? 'ai.onnx' : d;
}

// ---------------------------------------------------------------------------------------------------------------
// Wire-level pre-scan

const MODEL_FIELDS: Record<number, [string, number]> = {
  1: ['ir_version', 0],
  2: ['producer_name', 2],
  3: ['producer_version', 2],
  4: ['domain', 2],
  5: ['model_version', 0],
  6: ['doc_string', 2],
  7: ['graph', 2],
  8: ['opset_import', 2],
  14: ['metadata_props', 2],
  20: ['training_info', 2],
  25: ['functions', 2],
  26: ['configuration', 2],
};

/** Reads a varint at `pos`; returns [value, next] or null when the buffer ends first (or it is over 10 bytes). */
function varint(b: Uint8Array, pos: number): [number, number] | null {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) return null;
    const byte = b[pos++];
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return [v, pos];
  }
  return null;
}

/**
 * Walks the top-level fields of a ModelProto without decoding them.
 * @returns null when the framing is sound, else the reason it is not a ModelProto.
 */
function prescan(b: Uint8Array): string | null {
  let pos = 0;
  let fields = 0;
  while (pos < b.length) {
    const start = pos;
    const tag = varint(b, pos);
    if (!tag) return `truncated: the protobuf field header at byte ${start} is cut off`;
    pos = tag[1];
    const field = Math.floor(tag[0] / 8);
    const wt = tag[0] % 8;
    if (field === 0) return `invalid protobuf: field number 0 at byte ${start}`;
    const known = MODEL_FIELDS[field];
    if (known && known[1] !== wt) {
      return (
        `field ${field} at byte ${start} has protobuf wire type ${wt}, but ModelProto's ${known[0]} has wire type ${known[1]}` +
        ' (the bytes are not a ModelProto; another protobuf message such as a TensorProto, or random data)'
      );
    }
    switch (wt) {
      case 0: {
        const v = varint(b, pos);
        if (!v) return `truncated: field ${field} at byte ${start} is cut off`;
        pos = v[1];
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const len = varint(b, pos);
        if (!len) return `truncated: the length of field ${field} at byte ${start} is cut off`;
        pos = len[1] + len[0];
        break;
      }
      case 3:
      case 4:
        return `field ${field} at byte ${start} uses protobuf group encoding, which ModelProto never uses`;
      default:
        return `invalid protobuf wire type ${wt} at byte ${start}`;
    }
    if (pos > b.length) {
      return `truncated: field ${field} at byte ${start} needs ${pos - start} bytes but only ${b.length - start} remain (file cut short?)`;
    }
    fields++;
  }
  return fields === 0 ? 'no protobuf fields' : null;
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding

interface Ctx {
  file: string;
  dir: string | null;
  externalBytes: number;
  externals: { tensor: string; loc: ExternalLocation }[];
  /** Set after the totals are known; tensors consult it lazily. */
  cache: { enabled: boolean };
}

function utf8(b: Uint8Array | null | undefined): string {
  return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') : '';
}

function tensorOf(ctx: Ctx, p: onnx.ITensorProto, fallback: string, where: string): OnnxTensor {
  checkTensorProto(ctx.file, p, where);
  if (p.dataLocation === 1) {
    const name = p.name || fallback;
    const kv: Record<string, string> = {};
    for (const e of p.externalData ?? []) kv[e.key ?? ''] = e.value ?? '';
    if (!('location' in kv)) {
      throw new OnnxReadError(ctx.file, 'invalid', `tensor '${name}' is marked EXTERNAL but has no 'location' key`);
    }
    const num = (k: string): number | null => {
      if (!(k in kv)) return null;
      const v = Number(kv[k]);
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new OnnxReadError(ctx.file, 'invalid', `tensor '${name}' has external_data ${k}='${kv[k]}', not a byte count`);
      }
      return v;
    };
    const dims = (p.dims ?? []).map((d) => toNum(d as number));
    const implied = byteSize(
      p.dataType ?? 0,
      dims.reduce((a, b) => a * b, 1),
    );
    const declared = num('length');
    const dir = ctx.dir;
    // The lexical check (absolute, climbing out) applies to in-memory models too, against the working folder.
    const resolved = resolveLocation(ctx.file, dir ?? resolve('.'), name, kv.location);
    const loc: ExternalLocation = {
      location: kv.location,
      path: dir ? resolved : kv.location,
      offset: num('offset') ?? 0,
      length: declared ?? implied,
    };
    ctx.externalBytes += loc.length ?? 0;
    ctx.externals.push({ tensor: name, loc });
    const file = ctx.file;
    const cache = ctx.cache;
    return wrapTensor(
      p,
      fallback,
      {
        location: loc,
        read: (_t, n) => {
          if (!dir) throw new OnnxReadError(file, 'external-data', `tensor '${name}': a model read from memory has no folder for '${loc.location}'`);
          return readExternal(file, dir, name, loc, n);
        },
      },
      // Large external weights are re-read on every call rather than pinned in memory.
      () => cache.enabled,
    );
  }
  return wrapTensor(p, fallback, null);
}

function sparseTensorOf(ctx: Ctx, p: onnx.ISparseTensorProto, fallback: string, where: string): OnnxTensor {
  checkSparseTensorProto(ctx.file, p, where);
  const values = tensorOf(ctx, p.values ?? {}, fallback, `${where} values`);
  const indices = tensorOf(ctx, p.indices ?? {}, `${fallback}.indices`, `${where} indices`);
  const dims = (p.dims ?? []).map((d) => toNum(d as number));
  const size = dims.reduce((a, b) => a * b, 1);
  let cached: ReturnType<OnnxTensor['data']> | null = null;
  const t: OnnxTensor = {
    name: values.name,
    dims,
    dataType: values.dataType,
    dataTypeName: values.dataTypeName,
    size,
    storage: values.storage,
    sparse: true,
    data() {
      if (cached) return cached;
      const v = values.data();
      const idx = indices.data();
      if (Array.isArray(v) || Array.isArray(idx)) throw new Error(`sparse tensor '${values.name}': STRING values are not supported`);
      const nnz = values.size;
      const ctor = v.constructor as { new (n: number): typeof v };
      const out = new ctor(size);
      const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
      const coord = (k: number): number => {
        // indices: [NNZ] linearized, or [NNZ, rank] coordinates (SparseTensorProto docs).
        if (indices.dims.length === 1) return Number(idx[k]);
        let lin = 0;
        for (let r = 0; r < dims.length; r++) lin += Number(idx[k * dims.length + r]) * strides[r];
        return lin;
      };
      for (let k = 0; k < nnz; k++) {
        const at = coord(k);
        if (!(at >= 0 && at < size)) throw new Error(`sparse tensor '${values.name}': index ${at} outside its ${size} elements`);
        (out as unknown as Array<number | bigint>)[at] = (v as unknown as Array<number | bigint>)[k];
      }
      cached = out;
      return out;
    },
  };
  return t;
}

function attributeOf(ctx: Ctx, a: onnx.IAttributeProto, owner: string, graph: OnnxGraph, depth: number): OnnxAttribute {
  const name = a.name ?? '';
  if (a.refAttrName) return { type: 'REF', value: null, ref: a.refAttrName };
  let type = a.type ?? 0;
  if (type === 0) {
    // IR < 3 attributes carry no type; infer it from the populated field.
    if (a.g) type = 5;
    else if (a.t) type = 4;
    else if (a.s && a.s.length) type = 3;
    else if (a.floats && a.floats.length) type = 6;
    else if (a.ints && a.ints.length) type = 7;
    else if (a.strings && a.strings.length) type = 8;
    else if (a.f) type = 1;
    else type = 2;
  }
  const at = `node '${owner}' attribute '${name}'${graph.path ? ` in subgraph ${graph.path}` : ''}`;
  const sub = (g: onnx.IGraphProto, i?: number) =>
    graphOf(ctx, g, `${graph.path ? graph.path + '/' : ''}${owner}/${name}${i === undefined ? '' : `[${i}]`}`, graph, depth + 1);
  switch (type) {
    case 1:
      return { type: 'FLOAT', value: a.f ?? 0 };
    case 2:
      return { type: 'INT', value: toNum(a.i as number) };
    case 3:
      return { type: 'STRING', value: utf8(a.s) };
    case 4:
      return { type: 'TENSOR', value: tensorOf(ctx, a.t ?? {}, `${owner}.${name}`, at) };
    case 5:
      return { type: 'GRAPH', value: sub(a.g ?? {}) };
    case 6:
      return { type: 'FLOATS', value: [...(a.floats ?? [])] };
    case 7:
      return { type: 'INTS', value: (a.ints ?? []).map((x) => toNum(x as number)) };
    case 8:
      return { type: 'STRINGS', value: (a.strings ?? []).map(utf8) };
    case 9:
      return { type: 'TENSORS', value: (a.tensors ?? []).map((t, i) => tensorOf(ctx, t, `${owner}.${name}[${i}]`, `${at}[${i}]`)) };
    case 10:
      return { type: 'GRAPHS', value: (a.graphs ?? []).map((g, i) => sub(g, i)) };
    case 11:
      return { type: 'SPARSE_TENSOR', value: sparseTensorOf(ctx, a.sparseTensor ?? {}, `${owner}.${name}`, at) };
    case 12:
      return {
        type: 'SPARSE_TENSORS',
        value: (a.sparseTensors ?? []).map((t, i) => sparseTensorOf(ctx, t, `${owner}.${name}[${i}]`, `${at}[${i}]`)),
      };
    case 13:
      return { type: 'TYPE_PROTO', value: null };
    case 14:
      return { type: 'TYPE_PROTOS', value: null };
    default:
      return { type: 'UNDEFINED', value: null };
  }
}

/** A value info's declared tensor type and shape. */
export function valueInfoOf(v: onnx.IValueInfoProto): OnnxValueInfo {
  const t = v.type;
  const name = v.name ?? '';
  if (!t) return { name, elemType: 0, shape: null, kind: 'unknown' };
  const tt = t.tensorType ?? t.sparseTensorType;
  if (tt) {
    const shape: DimSpec[] | null = tt.shape
      ? (tt.shape.dim ?? []).map((d): DimSpec => {
          // protobufjs marks the set member of the `value` oneof as an own property (defaults live on the prototype).
          const own = (k: string) => Object.prototype.hasOwnProperty.call(d, k);
          if (own('dimParam') && d.dimParam) return d.dimParam;
          if (own('dimValue')) return toNum(d.dimValue as number);
          return null;
        })
      : null;
    return { name, elemType: tt.elemType ?? 0, shape, kind: t.tensorType ? 'tensor' : 'sparse_tensor' };
  }
  const kind = t.sequenceType ? 'sequence' : t.mapType ? 'map' : t.optionalType ? 'optional' : 'unknown';
  return { name, elemType: 0, shape: null, kind };
}

function graphOf(ctx: Ctx, g: onnx.IGraphProto, path: string, parent: OnnxGraph | null, depth: number): OnnxGraph {
  if (depth > MAX_SUBGRAPH_DEPTH) {
    throw new OnnxReadError(ctx.file, 'invalid', `subgraphs are nested more than ${MAX_SUBGRAPH_DEPTH} deep (at ${path})`);
  }
  const graph: OnnxGraph = {
    name: g.name ?? '',
    path,
    nodes: [],
    initializers: new Map(),
    inputs: [],
    outputs: [],
    valueInfo: new Map(),
    subgraphs: [],
    parent,
  };
  (g.initializer ?? []).forEach((t, i) => {
    const w = tensorOf(ctx, t, `initializer_${i}`, `initializer '${t.name || `#${i}`}'${path ? ` in subgraph ${path}` : ''}`);
    graph.initializers.set(w.name, w);
  });
  (g.sparseInitializer ?? []).forEach((t, i) => {
    const w = sparseTensorOf(ctx, t, `sparse_initializer_${i}`, `sparse initializer '${t.values?.name || `#${i}`}'${path ? ` in subgraph ${path}` : ''}`);
    graph.initializers.set(w.name, w);
  });
  // IR < 4 lists initializers among the inputs too; those are not real inputs.
  graph.inputs = (g.input ?? []).map(valueInfoOf).filter((v) => !graph.initializers.has(v.name));
  graph.outputs = (g.output ?? []).map(valueInfoOf);
  for (const v of g.valueInfo ?? []) {
    const vi = valueInfoOf(v);
    graph.valueInfo.set(vi.name, vi);
  }
  (g.node ?? []).forEach((n, index) => {
    const node: OnnxNode = {
      name: n.name ?? '',
      opType: n.opType ?? '',
      domain: normDomain(n.domain),
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: {},
      index,
    };
    const owner = node.name || `${node.opType}#${index}`;
    for (const a of n.attribute ?? []) {
      const attr = attributeOf(ctx, a, owner, graph, depth);
      node.attributes[a.name ?? ''] = attr;
      if (attr.type === 'GRAPH') graph.subgraphs.push(attr.value);
      if (attr.type === 'GRAPHS') graph.subgraphs.push(...attr.value);
    }
    graph.nodes.push(node);
  });
  return graph;
}

/**
 * Decodes ONNX model bytes (already in memory).
 * @param bytes the serialized ModelProto; `raw_data` of initializers stays a view into it (do not reuse the buffer).
 * @param file name used in error messages.
 * @param dir folder that external data must live in (null: external tensors throw on `data()`).
 * @throws OnnxReadError (`not-onnx`, `unsupported`, `invalid`, `external-data`).
 */
export function decodeModel(bytes: Uint8Array, file = '<memory>', dir: string | null = null, opts: ReadOptions = {}): OnnxModel {
  const o: Required<ReadOptions> = { checkExternalData: opts.checkExternalData ?? true, validateGraph: opts.validateGraph ?? true };
  if (bytes.byteLength === 0) throw new OnnxReadError(file, 'not-onnx', 'the file is empty (0 bytes)');
  const why = prescan(bytes);
  if (why) throw new OnnxReadError(file, 'not-onnx', why);
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new OnnxReadError(file, 'not-onnx', `protobuf decoding failed (${msg}); the file is truncated or not a ModelProto`);
  }
  if (!proto.graph) {
    throw new OnnxReadError(file, 'not-onnx', 'the protobuf has no graph (ModelProto field 7); it may be a TensorProto, a GraphProto or other data');
  }
  if (!proto.opsetImport || proto.opsetImport.length === 0) {
    throw new OnnxReadError(file, 'not-onnx', 'the protobuf has no opset_import (ModelProto field 8), which every ONNX model since IR 3 declares');
  }
  const ir = toNum(proto.irVersion as number);
  if (!ir) throw new OnnxReadError(file, 'not-onnx', 'the protobuf has no ir_version (ModelProto field 1)');
  if (ir < MIN_IR_VERSION || ir > MAX_IR_VERSION) {
    throw new OnnxReadError(file, 'unsupported', `IR version ${ir} is outside the supported range ${MIN_IR_VERSION}–${MAX_IR_VERSION}`);
  }
  const opsets: Record<string, number> = {};
  for (const op of proto.opsetImport) {
    const d = normDomain(op.domain);
    const v = toNum(op.version as number);
    if (d in opsets && opsets[d] !== v) {
      throw new OnnxReadError(file, 'invalid', `opset_import lists domain '${d}' twice (versions ${opsets[d]} and ${v})`);
    }
    opsets[d] = v;
  }
  if ('ai.onnx' in opsets && (opsets['ai.onnx'] < MIN_OPSET || opsets['ai.onnx'] > MAX_OPSET)) {
    throw new OnnxReadError(file, 'unsupported', `default-domain opset ${opsets['ai.onnx']} is outside the supported range ${MIN_OPSET}–${MAX_OPSET}`);
  }
  for (const [d, [lo, hi]] of Object.entries(KNOWN_DOMAIN_VERSIONS)) {
    if (d in opsets && (opsets[d] < lo || opsets[d] > hi)) {
      throw new OnnxReadError(file, 'unsupported', `opset ${opsets[d]} of domain '${d}' is outside the supported range ${lo}–${hi}`);
    }
  }
  const ctx: Ctx = { file, dir, externalBytes: 0, externals: [], cache: { enabled: true } };
  let graph: OnnxGraph;
  try {
    graph = graphOf(ctx, proto.graph, '', null, 0);
  } catch (e) {
    if (e instanceof OnnxReadError) throw e;
    throw new OnnxReadError(file, 'invalid', `the graph cannot be decoded (${e instanceof Error ? e.message : String(e)})`);
  }
  const functions = new Set((proto.functions ?? []).map((f) => `${normDomain(f.domain)}:${f.name ?? ''}`));
  if (o.validateGraph) checkModel({ file, graph, opsets, functions: [...functions] });
  if (o.checkExternalData && dir) {
    for (const e of ctx.externals) checkExternalFile(file, dir, e.tensor, e.loc);
  }
  const metadata: Record<string, string> = {};
  for (const m of proto.metadataProps ?? []) metadata[m.key ?? ''] = m.value ?? '';
  const large = ctx.externalBytes > LARGE_EXTERNAL_BYTES;
  ctx.cache.enabled = !large;
  return {
    file,
    dir,
    irVersion: ir,
    opsets,
    producerName: proto.producerName ?? '',
    producerVersion: proto.producerVersion ?? '',
    domain: proto.domain ?? '',
    modelVersion: toNum(proto.modelVersion as number),
    docString: proto.docString ?? '',
    metadata,
    graph,
    functions: [...functions],
    externalDataBytes: ctx.externalBytes,
    largeExternalData: large,
    proto,
  };
}

/**
 * Reads and decodes an ONNX model file. External data is not read here (only located and checked), so a model
 * with more than 2 GB of external weights opens in milliseconds; tensors read their bytes on `data()`.
 * @param path the `.onnx` file; external data must resolve inside its folder.
 * @throws OnnxReadError: `io` (missing/unreadable/directory), `not-onnx` (empty, truncated, random bytes, not a
 *   ModelProto), `unsupported` (IR/opset range), `invalid` (what `check.ts` refuses: a cycle, a node reading a
 *   missing or later tensor, tensor data that does not match its dims, attention heads outside their operator's
 *   domain, …), `external-data` (external file missing, too short, or escaping the folder).
 */
export function readModel(path: string, opts: ReadOptions = {}): OnnxModel {
  const file = path;
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new OnnxReadError(file, 'io', (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String((e as Error).message));
  }
  if (st.isDirectory()) throw new OnnxReadError(file, 'io', 'it is a folder, not a file');
  if (st.size === 0) throw new OnnxReadError(file, 'not-onnx', 'the file is empty (0 bytes)');
  if (st.size >= PROTOBUF_LIMIT) {
    throw new OnnxReadError(file, 'not-onnx', `the file has ${st.size} bytes; protobuf files are limited to 2 GB (large models keep weights in external data)`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new OnnxReadError(file, 'io', String((e as Error).message));
  }
  return decodeModel(bytes, file, dirname(resolve(path)), opts);
}
