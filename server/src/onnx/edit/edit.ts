/**
 * Editing a copy of an ONNX model (ModelProto through `onnx-proto`): extra graph outputs, new initializers and
 * nodes, rewired inputs, dead-node removal, and serialization (`bytes`; to files with external data: `write.ts`).
 *
 * The `OnnxModel` a `ModelEditor` starts from is never modified: the editor deep-copies the protobuf message.
 * Node `i` of the decoded main graph (`OnnxNode.index`) is `editor.node(i)` in the copy, whatever is inserted
 * later. Tensor values written here keep the source element type bit for bit (sliced weights are copies of the
 * stored elements, never re-rounded).
 * Spec sources: onnx/onnx.proto (ModelProto, TensorProto raw_data little-endian, external_data keys location /
 * offset / length), onnx/docs/ExternalData.md.
 */
import { onnx } from 'onnx-proto';
import { DataType, type OnnxModel, type OnnxTensor } from '../format/types';
import { dataTypeName, elementBytes, encodeNumbers, ortElementType, type NumericArray } from '../format/tensor';

/** Raw little-endian bytes of a typed array (a view, no copy, on little-endian hosts). */
function rawBytes(a: NumericArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * A TensorProto holding `values` converted to `dataType` (FLOAT, DOUBLE, FLOAT16, INT8…INT64, UINT8…UINT64, BOOL;
 * `encodeNumbers`, format/tensor.ts).
 * @throws Error for other data types, or for an integer type when a value is not an integer.
 */
export function makeTensor(name: string, dims: number[], dataType: number, values: ArrayLike<number>): onnx.ITensorProto {
  if (!ortElementType(dataType)) throw new Error(`cannot write a ${dataTypeName(dataType)} tensor '${name}'`);
  return rawTensor(name, dims, dataType, encodeNumbers(dataType, values, `tensor '${name}'`));
}

/** A TensorProto over the elements of a typed array of the matching type (copied). */
export function rawTensor(name: string, dims: number[], dataType: number, a: NumericArray): onnx.ITensorProto {
  return { name, dims, dataType, rawData: new Uint8Array(rawBytes(a)) };
}

/**
 * Copies the elements of `data` (shape `dims`, row-major) whose index along `axis` is in `keep`, in that order.
 * The result has the same typed-array class, so values are exact copies.
 * @throws Error when an index is out of range or the data is shorter than the dims.
 */
export function sliceAxis(data: NumericArray, dims: number[], axis: number, keep: number[]): { data: NumericArray; dims: number[] } {
  const ax = axis < 0 ? axis + dims.length : axis;
  if (ax < 0 || ax >= dims.length) throw new Error(`axis ${axis} outside a rank-${dims.length} tensor`);
  const outer = dims.slice(0, ax).reduce((x, y) => x * y, 1);
  const inner = dims.slice(ax + 1).reduce((x, y) => x * y, 1);
  const n = dims[ax];
  if (data.length < outer * n * inner) throw new Error(`tensor data has ${data.length} elements, dims need ${outer * n * inner}`);
  for (const k of keep) if (!(k >= 0 && k < n)) throw new Error(`index ${k} outside axis ${ax} of size ${n}`);
  const ctor = data.constructor as { new (len: number): NumericArray };
  const out = new ctor(outer * keep.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < keep.length; j++) {
      const src = (o * n + keep[j]) * inner;
      const dst = (o * keep.length + j) * inner;
      (out as unknown as { set(a: ArrayLike<unknown>, off: number): void }).set(data.subarray(src, src + inner) as unknown as ArrayLike<unknown>, dst);
    }
  }
  const nd = [...dims];
  nd[ax] = keep.length;
  return { data: out, dims: nd };
}

/** The numeric elements of a model tensor (inline or external), as stored. */
export function tensorElements(t: OnnxTensor): NumericArray {
  const d = t.data();
  if (Array.isArray(d)) throw new Error(`tensor '${t.name}' holds strings`);
  if (elementBytes(t.dataType) < 1) throw new Error(`tensor '${t.name}' is ${t.dataTypeName}; sub-byte types cannot be sliced`);
  return d;
}

type AnyProtoTensor = onnx.ITensorProto;

function walkGraphs(g: onnx.IGraphProto, f: (g: onnx.IGraphProto) => void): void {
  f(g);
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.g) walkGraphs(a.g, f);
      for (const s of a.graphs ?? []) walkGraphs(s, f);
    }
  }
}

/** All names read by nodes of `g` and its subgraphs. */
function namesRead(g: onnx.IGraphProto): Set<string> {
  const s = new Set<string>();
  walkGraphs(g, (x) => {
    for (const n of x.node ?? []) for (const i of n.input ?? []) if (i) s.add(i);
    for (const o of x.output ?? []) if (o.name) s.add(o.name);
  });
  return s;
}

/** A deep copy of a model under edit. */
export class ModelEditor {
  readonly proto: onnx.ModelProto;
  readonly graph: onnx.GraphProto;
  private readonly original: onnx.INodeProto[];
  private readonly used = new Set<string>();
  /** Initializers that were stored as external data in the source model (by name). */
  readonly externalNames = new Set<string>();
  private readonly source: OnnxModel;

  /**
   * @param model the decoded model (its `proto` is copied, not modified).
   * @param opts.inlineExternal replace external-data initializers by inline `raw_data` (needed to run the copy
   *   from memory in ONNX Runtime). Refused for models whose external weights exceed 2 GB.
   * @throws Error when external data cannot be read or is too large to inline.
   */
  constructor(model: OnnxModel, opts: { inlineExternal?: boolean } = {}) {
    this.source = model;
    this.proto = onnx.ModelProto.decode(onnx.ModelProto.encode(model.proto).finish());
    if (!this.proto.graph) throw new Error(`${model.file}: the model has no graph`);
    this.graph = this.proto.graph as onnx.GraphProto;
    this.original = [...(this.graph.node ?? [])];
    walkGraphs(this.graph, (g) => {
      for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) this.used.add(o);
      for (const i of g.input ?? []) if (i.name) this.used.add(i.name);
      for (const t of g.initializer ?? []) if (t.name) this.used.add(t.name);
      for (const n of g.node ?? []) if (n.name) this.used.add(n.name);
    });
    for (const t of this.graph.initializer ?? []) if (t.dataLocation === 1 && t.name) this.externalNames.add(t.name);
    if (opts.inlineExternal && this.externalNames.size) {
      if (model.largeExternalData) {
        throw new Error(`${model.file}: its external weights exceed 2 GB, which cannot be inlined into one protobuf to run it here`);
      }
      this.graph.initializer = (this.graph.initializer ?? []).map((t) => (t.dataLocation === 1 ? this.inlined(t) : t)) as onnx.TensorProto[];
    }
  }

  private inlined(t: AnyProtoTensor): onnx.TensorProto {
    const src = this.source.graph.initializers.get(t.name ?? '');
    if (!src) throw new Error(`external initializer '${t.name}' not found in the decoded model`);
    const data = tensorElements(src);
    return onnx.TensorProto.create({ name: t.name, dims: t.dims, dataType: t.dataType, rawData: new Uint8Array(rawBytes(data)) });
  }

  /** Node `index` of the original main graph (the same object after insertions). */
  node(index: number): onnx.INodeProto {
    const n = this.original[index];
    if (!n) throw new Error(`node #${index} does not exist`);
    return n;
  }

  /** A name not used by any tensor or node of the model, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Adds a main-graph initializer (name made unique from `base`); returns its name. */
  addInitializer(base: string, t: onnx.ITensorProto): string {
    const name = this.uniqueName(base);
    this.graph.initializer.push(onnx.TensorProto.create({ ...t, name }));
    return name;
  }

  /** Replaces the data of an existing main-graph initializer (same name); it becomes inline. */
  replaceInitializer(name: string, t: onnx.ITensorProto): void {
    const i = this.graph.initializer.findIndex((x) => x.name === name);
    if (i < 0) throw new Error(`initializer '${name}' not found`);
    this.graph.initializer[i] = onnx.TensorProto.create({ ...t, name });
  }

  /** Inserts `n` right before `before` (an existing node object), so the graph stays topologically sorted. */
  insertBefore(before: onnx.INodeProto, n: onnx.INodeProto): onnx.INodeProto {
    const i = this.graph.node.indexOf(before as onnx.NodeProto);
    if (i < 0) throw new Error(`node '${before.name}' is not in the main graph`);
    const node = onnx.NodeProto.create({ ...n, name: n.name ? this.uniqueName(n.name) : undefined });
    this.graph.node.splice(i, 0, node);
    return node;
  }

  /** Appends a node at the end of the main graph. */
  append(n: onnx.INodeProto): onnx.INodeProto {
    const node = onnx.NodeProto.create({ ...n, name: n.name ? this.uniqueName(n.name) : undefined });
    this.graph.node.push(node);
    return node;
  }

  /** Declares `name` (an existing tensor) as an extra graph output of element type `elemType` (no shape). */
  addOutput(name: string, elemType: number): void {
    if (this.graph.output.some((o) => o.name === name)) return;
    this.graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: elemType || DataType.FLOAT } } }));
  }

  /** Declares a new graph input. */
  addInput(name: string, elemType: number, dims: (number | string)[]): void {
    this.graph.input.push(
      onnx.ValueInfoProto.create({
        name,
        type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
      }),
    );
    this.used.add(name);
  }

  /** Sets (or adds) an attribute of a node. */
  setAttribute(n: onnx.INodeProto, a: onnx.IAttributeProto): void {
    n.attribute = (n.attribute ?? []).filter((x) => x.name !== a.name);
    n.attribute.push(onnx.AttributeProto.create(a));
  }

  /** Removes the declared shapes of value_info entries (stale after shape-changing edits). */
  clearValueInfo(names?: Set<string>): void {
    if (!names) this.graph.valueInfo = [];
    else this.graph.valueInfo = this.graph.valueInfo.filter((v) => !names.has(v.name ?? ''));
  }

  /**
   * Removes main-graph nodes whose outputs nobody reads (transitively) and initializers nobody reads.
   * Graph outputs, and every name a subgraph reads, count as read.
   * @returns the number of nodes removed.
   */
  removeDeadNodes(): number {
    const g = this.graph;
    const live = new Set<string>(g.output.map((o) => o.name ?? ''));
    const keep: boolean[] = new Array(g.node.length).fill(false);
    for (let i = g.node.length - 1; i >= 0; i--) {
      const n = g.node[i];
      if (!(n.output ?? []).some((o) => o && live.has(o))) continue;
      keep[i] = true;
      for (const x of n.input ?? []) if (x) live.add(x);
      for (const a of n.attribute ?? []) {
        const subs = [...(a.g ? [a.g] : []), ...(a.graphs ?? [])];
        for (const s of subs) for (const x of namesRead(s)) live.add(x);
      }
    }
    const before = g.node.length;
    g.node = g.node.filter((_, i) => keep[i]);
    const inputNames = new Set(g.input.map((i) => i.name ?? ''));
    g.initializer = g.initializer.filter((t) => live.has(t.name ?? '') || inputNames.has(t.name ?? ''));
    return before - g.node.length;
  }

  /** The edited model, serialized (external-data tensors keep their references unless inlined). */
  bytes(): Uint8Array {
    return onnx.ModelProto.encode(this.proto).finish();
  }
}
