/**
 * The model checker: what `inspect`, `analyze` (model configs), `prune` and the language server's model view
 * require of an ONNX file before anything reads its structure. It follows the ONNX checker
 * (onnx/checker.cc: check_tensor, check_graph, check_node) for what matters here, and the operator specs for the
 * attention attributes this project interprets:
 *
 * - tensors (initializers, Constant values, tensor attributes, sparse tensors): a known element type, dims that are
 *   non-negative integers whose product stays within `MAX_TENSOR_ELEMENTS` (no int64 overflow), and exactly the
 *   data the dims and type need — `raw_data` bytes, typed-field values (`float_data`, `int32_data`, …; two per
 *   complex element, packed sub-byte types) or the `length` of external data;
 * - graphs: declared shapes (inputs, outputs, value_info) without negative dims; single static assignment (no
 *   tensor produced twice), topologically sorted (every node input produced by
 *   a graph input, an initializer, an earlier node or, in a subgraph, the enclosing scope; `''` marks an omitted
 *   optional input), hence acyclic and no node reading its own output; every graph output produced;
 * - attention operators: head counts are INT attributes ≥ 1 that divide the hidden sizes the shapes give, the
 *   grouped-query ratio q_num_heads / kv_num_heads is an integer, head sizes are > 0, `scale` is finite;
 *   `qkv_hidden_sizes` (com.microsoft Attention) and Split sizes add up to the tensor dimension they split.
 *   Specs: ai.onnx Attention (opset 23/24, onnx/docs/Operators.md), com.microsoft Attention, MultiHeadAttention and
 *   GroupQueryAttention (onnxruntime docs/ContribOperators.md; input checks as in contrib_ops/cpu/bert).
 *
 * Every refusal is an `OnnxReadError` of kind `invalid` whose reason reads `<what>, at <node or tensor>`.
 */
import type { onnx } from 'onnx-proto';
import { OnnxReadError } from './errors';
import { attrInts, label } from './graph';
import { inferShapes, type ShapeMap } from '../shapes/shapes';
import { arrayLength, byteSize, dataTypeName, toBig, typedField, type TypedField } from './tensor';
import { DataType, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from './types';
import { isNum } from '../shapes/dims';

/**
 * Most elements one tensor may declare: 2^40 (a tebi-element; 4 TiB of float32). Far above any real weight, far
 * below int64 overflow, and every product of dims is computed exactly (BigInt) before it is compared.
 */
export const MAX_TENSOR_ELEMENTS = 2n ** 40n;
const INT64_MAX = 2n ** 63n - 1n;
/** Largest known `TensorProto.DataType` code (INT2 = 26, ONNX 1.20). */
const MAX_DATA_TYPE = 26;

function invalid(file: string, what: string, where: string): OnnxReadError {
  return new OnnxReadError(file, 'invalid', `${what}, at ${where}`);
}

function dimsText(dims: bigint[]): string {
  return `[${dims.join(', ')}]`;
}

const FIELD_NAME: Record<TypedField, string> = {
  floatData: 'float_data',
  doubleData: 'double_data',
  int64Data: 'int64_data',
  uint64Data: 'uint64_data',
  stringData: 'string_data',
  int32Data: 'int32_data',
};

/**
 * Checks a tensor's dims and element count.
 * @param dimsIn the dims as protobufjs gives them (numbers or Longs).
 * @returns the exact element count.
 * @throws OnnxReadError for a negative dim or a product over `MAX_TENSOR_ELEMENTS`.
 */
export function checkDims(file: string, dimsIn: ReadonlyArray<unknown>, where: string): bigint {
  const dims = dimsIn.map((d) => toBig(d as number));
  let n = 1n;
  for (const d of dims) {
    if (d < 0n) throw invalid(file, `dims ${dimsText(dims)} hold the negative dimension ${d}`, where);
    n *= d;
  }
  if (n > INT64_MAX) throw invalid(file, `dims ${dimsText(dims)} multiply to ${n} elements, which overflows int64`, where);
  if (n > MAX_TENSOR_ELEMENTS) {
    throw invalid(file, `dims ${dimsText(dims)} declare ${n} elements, more than the ${MAX_TENSOR_ELEMENTS} a tensor may have`, where);
  }
  return n;
}

/**
 * Checks one TensorProto: known element type, sound dims, and exactly the data they need (raw_data bytes, typed
 * field values, or the external `length`). Sizes only: no data is read or copied.
 * @param where how the error names the tensor, e.g. `initializer 'W'` or `node 'c' (Constant) attribute 'value'`.
 * @throws OnnxReadError(`invalid`) naming what is wrong and `where`.
 */
export function checkTensorProto(file: string, p: onnx.ITensorProto, where: string): void {
  const code = p.dataType ?? 0;
  if (code === DataType.UNDEFINED) throw invalid(file, 'the tensor has data type UNDEFINED (0)', where);
  if (code < 0 || code > MAX_DATA_TYPE) throw invalid(file, `the tensor has data type ${code}, which is not an ONNX type`, where);
  const dims = (p.dims ?? []).map((d) => toBig(d as number));
  const n = checkDims(file, p.dims ?? [], where);
  const type = dataTypeName(code);
  const count = Number(n);
  if (p.dataLocation === 1) {
    const kv: Record<string, string> = {};
    for (const e of p.externalData ?? []) kv[e.key ?? ''] = e.value ?? '';
    const need = byteSize(code, count);
    if ('length' in kv && need !== null && Number(kv.length) !== need) {
      throw invalid(file, `external data length ${kv.length} bytes, but dims ${dimsText(dims)} of ${type} need ${need}`, where);
    }
    return;
  }
  const raw = p.rawData?.byteLength ?? 0;
  const field = typedField(code);
  const present = (Object.keys(FIELD_NAME) as (keyof typeof FIELD_NAME)[]).filter((f) => (p[f]?.length ?? 0) > 0);
  if (raw > 0 && present.length > 0) {
    throw invalid(file, `the tensor holds its values twice, in raw_data and in ${FIELD_NAME[present[0]]}`, where);
  }
  if (present.length > 1) {
    throw invalid(file, `the tensor holds values in both ${FIELD_NAME[present[0]]} and ${FIELD_NAME[present[1]]}`, where);
  }
  if (raw > 0) {
    if (code === DataType.STRING) throw invalid(file, 'a STRING tensor cannot keep its values in raw_data', where);
    const need = byteSize(code, count)!;
    if (raw !== need) {
      throw invalid(file, `raw_data has ${raw} bytes, but dims ${dimsText(dims)} of ${type} need ${need} (${raw < need ? 'too short' : 'too long'})`, where);
    }
    return;
  }
  if (present.length === 1) {
    if (present[0] !== field) {
      throw invalid(file, `a ${type} tensor keeps its values in ${FIELD_NAME[present[0]]}; they belong in ${FIELD_NAME[field]} or raw_data`, where);
    }
    const have = p[field]!.length;
    const need = code === DataType.STRING ? count : arrayLength(code, count);
    if (have !== need) {
      throw invalid(file, `${FIELD_NAME[field]} holds ${have} values, but dims ${dimsText(dims)} of ${type} need ${need}`, where);
    }
    return;
  }
  if (n > 0n) throw invalid(file, `the tensor holds no data, but dims ${dimsText(dims)} of ${type} need ${count} values`, where);
}

/**
 * Checks a SparseTensorProto's layout: dims, values [NNZ], indices [NNZ] (linear) or [NNZ, rank] (coordinates).
 * (Values and indices are checked as tensors by `checkTensorProto`.)
 * @throws OnnxReadError(`invalid`).
 */
export function checkSparseTensorProto(file: string, p: onnx.ISparseTensorProto, where: string): void {
  checkDims(file, p.dims ?? [], where);
  const values = p.values ?? {};
  const indices = p.indices ?? {};
  const vd = (values.dims ?? []).map((d) => toBig(d as number));
  if (vd.length !== 1) throw invalid(file, `sparse values must be 1-D [NNZ], got dims ${dimsText(vd)}`, where);
  const id = (indices.dims ?? []).map((d) => toBig(d as number));
  const rank = BigInt((p.dims ?? []).length);
  const ok = (id.length === 1 && id[0] === vd[0]) || (id.length === 2 && id[0] === vd[0] && id[1] === rank);
  if (!ok) throw invalid(file, `sparse indices dims ${dimsText(id)} do not match ${vd[0]} values of a rank-${rank} tensor`, where);
}

// ---------------------------------------------------------------------------------------------------------------
// Graph structure

function nodeWhere(n: OnnxNode, g: OnnxGraph): string {
  const op = n.domain === 'ai.onnx' ? n.opType : `${n.domain}::${n.opType}`;
  return `node '${label(n)}' (${op})${g.path ? ` in subgraph ${g.path}` : ''}`;
}

function subgraphsOf(n: OnnxNode): OnnxGraph[] {
  const out: OnnxGraph[] = [];
  for (const a of Object.values(n.attributes) as OnnxAttribute[]) {
    if (a.type === 'GRAPH') out.push(a.value);
    else if (a.type === 'GRAPHS') out.push(...a.value);
  }
  return out;
}

/** A cycle among `nodes` (as node indices, closed: first = last), or null when the dependencies are acyclic. */
function findCycle(nodes: OnnxNode[]): number[] | null {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => o && !producer.has(o) && producer.set(o, i)));
  const state = new Uint8Array(nodes.length); // 0 new, 1 on stack, 2 done
  const stack: number[] = [];
  // Iterative DFS (graphs may hold 100 000 nodes; recursion would overflow the JS stack).
  for (let root = 0; root < nodes.length; root++) {
    if (state[root]) continue;
    const work: { node: number; next: number }[] = [{ node: root, next: 0 }];
    state[root] = 1;
    stack.push(root);
    while (work.length) {
      const top = work[work.length - 1];
      const ins = nodes[top.node].inputs;
      if (top.next < ins.length) {
        const p = ins[top.next++] ? producer.get(ins[top.next - 1]) : undefined;
        if (p === undefined) continue;
        if (state[p] === 1) return [...stack.slice(stack.indexOf(p)), p];
        if (state[p] === 0) {
          state[p] = 1;
          stack.push(p);
          work.push({ node: p, next: 0 });
        }
      } else {
        state[top.node] = 2;
        stack.pop();
        work.pop();
      }
    }
  }
  return null;
}

/**
 * Checks the order and naming of one graph and, recursively, its subgraphs.
 * @param outer names visible from enclosing graphs at the node that holds this graph.
 */
function checkGraph(file: string, g: OnnxGraph, outer: ReadonlySet<string>, functions: Set<string>, opsets: Record<string, number>): void {
  const defined = new Set<string>(outer);
  const producedBy = new Map<string, string>();
  const where = g.path ? ` in subgraph ${g.path}` : '';
  const declared: [string, OnnxValueInfo][] = [
    ...g.inputs.map((v): [string, OnnxValueInfo] => [`graph input '${v.name}'`, v]),
    ...g.outputs.map((v): [string, OnnxValueInfo] => [`graph output '${v.name}'`, v]),
    ...[...g.valueInfo.values()].map((v): [string, OnnxValueInfo] => [`value_info '${v.name}'`, v]),
  ];
  for (const [what, v] of declared) {
    const bad = v.shape?.find((d) => typeof d === 'number' && d < 0);
    if (bad !== undefined) {
      const shown = `[${v.shape!.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
      throw invalid(file, `the declared shape ${shown} holds the negative dimension ${bad}`, `${what}${where}`);
    }
  }
  for (const i of g.inputs) defined.add(i.name);
  for (const k of g.initializers.keys()) defined.add(k);
  const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.keys()]);
  const later = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && !later.has(o) && later.set(o, i)));
  for (const n of g.nodes) {
    const at = nodeWhere(n, g);
    if (!n.opType) throw invalid(file, 'the node has no op_type', at);
    if (!(n.domain in opsets) && !functions.has(`${n.domain}:${n.opType}`)) {
      throw invalid(file, `the node uses operator domain '${n.domain}', which opset_import does not list`, at);
    }
    for (const i of n.inputs) {
      if (!i || defined.has(i)) continue;
      if (n.outputs.includes(i)) throw invalid(file, `the node reads its own output '${i}'`, at);
      const p = later.get(i);
      if (p !== undefined) {
        const cycle = findCycle(g.nodes);
        if (cycle) {
          const path = cycle.map((k) => `'${label(g.nodes[k])}'`).join(' → ');
          throw invalid(file, `the graph has a cycle: ${path} (each node reads the next one's output)`, nodeWhere(g.nodes[cycle[0]], g));
        }
        throw invalid(file, `the nodes are not topologically sorted: '${i}' is read before node '${label(g.nodes[p])}' produces it`, at);
      }
      throw invalid(file, `the node reads '${i}', which no initializer, graph input or node provides (missing initializer?)`, at);
    }
    for (const s of subgraphsOf(n)) checkGraph(file, s, defined, functions, opsets);
    for (const o of n.outputs) {
      if (!o) continue;
      if (producedBy.has(o)) throw invalid(file, `tensor '${o}' is produced twice (also by node '${producedBy.get(o)}'); a graph assigns each name once`, at);
      if (local.has(o)) throw invalid(file, `the node's output '${o}' has the name of a graph input or initializer`, at);
      producedBy.set(o, label(n));
      defined.add(o);
    }
  }
  for (const o of g.outputs) {
    if (o.name && !defined.has(o.name)) {
      throw invalid(file, 'no node, input or initializer produces it', `graph output '${o.name}'${where}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Attention attributes

/** An attribute that must be an INT: its value, undefined when absent. */
function intAttr(file: string, n: OnnxNode, name: string, at: string): number | undefined {
  const a = n.attributes[name];
  if (!a) return undefined;
  if (a.type !== 'INT') {
    const shown = a.type === 'FLOAT' ? ` ${a.value}` : a.type === 'INTS' || a.type === 'FLOATS' ? ` [${a.value.join(', ')}]` : '';
    throw invalid(file, `${name} must be an integer (INT attribute), got ${a.type}${shown}`, at);
  }
  return a.value;
}

/** A head-count attribute: an INT ≥ 1 (required or not). */
function headsAttr(file: string, n: OnnxNode, name: string, at: string, required: boolean): number | undefined {
  const v = intAttr(file, n, name, at);
  if (v === undefined) {
    if (required) throw invalid(file, `the required attribute ${name} is missing`, at);
    return undefined;
  }
  if (v < 1) throw invalid(file, `${name} is ${v}; a head count must be an integer ≥ 1`, at);
  return v;
}

function finiteFloatAttr(file: string, n: OnnxNode, name: string, at: string): void {
  const a = n.attributes[name];
  if (!a) return;
  if (a.type !== 'FLOAT') throw invalid(file, `${name} must be a FLOAT attribute, got ${a.type}`, at);
  if (!Number.isFinite(a.value)) throw invalid(file, `${name} is ${a.value}; it must be a finite number`, at);
}

/** The static size of the last axis (or axis `ax`) of a tensor, or null. */
function dimOf(shapes: ShapeMap, t: string | undefined, ax: number, rank?: number): number | null {
  if (!t) return null;
  const s = shapes.get(t)?.shape;
  if (!s || (rank !== undefined && s.length !== rank)) return null;
  const d = s[ax < 0 ? s.length + ax : ax];
  return isNum(d) ? d : null;
}

function rankOf(shapes: ShapeMap, t: string | undefined): number | null {
  if (!t) return null;
  return shapes.get(t)?.shape?.length ?? null;
}

/** `heads` must divide `hidden` (a hidden size of `what`) with a head size > 0. */
function divides(file: string, attr: string, heads: number, hidden: number | null, what: string, at: string): void {
  if (hidden === null) return;
  if (heads > hidden) throw invalid(file, `${attr} ${heads} is larger than the ${what} ${hidden} (head size would be 0)`, at);
  if (hidden % heads !== 0) throw invalid(file, `${attr} ${heads} does not divide the ${what} ${hidden}`, at);
}

function checkOnnxAttention(file: string, n: OnnxNode, shapes: ShapeMap, at: string): void {
  const qh = headsAttr(file, n, 'q_num_heads', at, false);
  const kvh = headsAttr(file, n, 'kv_num_heads', at, false);
  finiteFloatAttr(file, n, 'scale', at);
  finiteFloatAttr(file, n, 'softcap', at);
  const [Q, K, V] = n.inputs;
  const rank = rankOf(shapes, Q);
  if (rank === 3 || (rank === null && (qh !== undefined || kvh !== undefined))) {
    if (rank === 3 && (qh === undefined || kvh === undefined)) {
      throw invalid(file, 'with 3-D inputs, q_num_heads and kv_num_heads are required', at);
    }
    if (qh !== undefined && kvh !== undefined && qh % kvh !== 0) {
      throw invalid(file, `q_num_heads ${qh} is not a multiple of kv_num_heads ${kvh} (the grouped-query ratio must be an integer)`, at);
    }
    const dq = dimOf(shapes, Q, 2, 3);
    const dk = dimOf(shapes, K, 2, 3);
    const dv = dimOf(shapes, V, 2, 3);
    if (qh !== undefined) divides(file, 'q_num_heads', qh, dq, "query's hidden size", at);
    if (kvh !== undefined) divides(file, 'kv_num_heads', kvh, dk, "key's hidden size", at);
    if (kvh !== undefined) divides(file, 'kv_num_heads', kvh, dv, "value's hidden size", at);
    if (qh && kvh && dq !== null && dk !== null && dq / qh !== dk / kvh) {
      throw invalid(file, `query head size ${dq / qh} differs from key head size ${dk / kvh}`, at);
    }
  } else if (rank === 4) {
    const hq = dimOf(shapes, Q, 1, 4);
    const hk = dimOf(shapes, K, 1, 4);
    const dq = dimOf(shapes, Q, 3, 4);
    const dk = dimOf(shapes, K, 3, 4);
    if (hq === 0 || hk === 0) throw invalid(file, 'the inputs have 0 heads (axis 1 of Q or K)', at);
    if (dq === 0) throw invalid(file, 'the head size (axis 3 of Q) is 0', at);
    if (hq !== null && hk !== null && hq % hk !== 0) {
      throw invalid(file, `Q has ${hq} heads, not a multiple of K's ${hk} (the grouped-query ratio must be an integer)`, at);
    }
    if (dq !== null && dk !== null && dq !== dk) throw invalid(file, `query head size ${dq} differs from key head size ${dk}`, at);
  }
}

function checkMsAttention(file: string, n: OnnxNode, shapes: ShapeMap, at: string): void {
  const N = headsAttr(file, n, 'num_heads', at, true)!;
  finiteFloatAttr(file, n, 'scale', at);
  const [X, W, B] = n.inputs;
  const total = dimOf(shapes, W, 1, 2);
  const biasLen = dimOf(shapes, B, 0, 1);
  const a = n.attributes.qkv_hidden_sizes;
  if (a && a.type !== 'INTS') throw invalid(file, `qkv_hidden_sizes must be an INTS attribute, got ${a.type}`, at);
  const sizes = attrInts(n, 'qkv_hidden_sizes');
  if (sizes && sizes.length) {
    if (sizes.length !== 3) throw invalid(file, `qkv_hidden_sizes has ${sizes.length} entries; it lists the Q, K and V hidden sizes (3)`, at);
    if (sizes.some((s) => s < 1)) throw invalid(file, `qkv_hidden_sizes [${sizes.join(', ')}] must all be ≥ 1`, at);
    ['Q', 'K', 'V'].forEach((r, i) => divides(file, 'num_heads', N, sizes[i], `${r} hidden size (qkv_hidden_sizes)`, at));
    if (sizes[0] !== sizes[1]) throw invalid(file, `qkv_hidden_sizes [${sizes.join(', ')}]: the Q and K hidden sizes differ`, at);
    const sum = sizes[0] + sizes[1] + sizes[2];
    if (total !== null && sum !== total) {
      throw invalid(file, `qkv_hidden_sizes [${sizes.join(', ')}] add up to ${sum}, but the weights '${W}' have ${total} columns`, at);
    }
    if (biasLen !== null && sum !== biasLen) {
      throw invalid(file, `qkv_hidden_sizes [${sizes.join(', ')}] add up to ${sum}, but the bias '${B}' has ${biasLen} entries`, at);
    }
  } else {
    if (total !== null) {
      if (total % 3 !== 0) throw invalid(file, `the weights '${W}' have ${total} columns, not three equal Q/K/V parts (set qkv_hidden_sizes)`, at);
      divides(file, 'num_heads', N, total / 3, 'hidden size', at);
    }
    if (total !== null && biasLen !== null && biasLen !== total) {
      throw invalid(file, `the bias '${B}' has ${biasLen} entries, but the weights '${W}' have ${total} columns`, at);
    }
  }
  const inW = dimOf(shapes, W, 0, 2);
  const inX = dimOf(shapes, X, 2, 3);
  if (inW !== null && inX !== null && inW !== inX) {
    throw invalid(file, `the input '${X}' has hidden size ${inX}, but the weights '${W}' have ${inW} rows`, at);
  }
}

function checkMsMultiHeadAttention(file: string, n: OnnxNode, shapes: ShapeMap, at: string): void {
  const N = headsAttr(file, n, 'num_heads', at, true)!;
  finiteFloatAttr(file, n, 'scale', at);
  const [Q, K, V] = n.inputs;
  const rq = rankOf(shapes, Q);
  if (rq === 3) divides(file, 'num_heads', N, dimOf(shapes, Q, 2), "query's hidden size", at);
  if (rq === 5) {
    const h = dimOf(shapes, Q, 2);
    if (h !== null && h !== N) throw invalid(file, `the packed query has ${h} heads (axis 2), but num_heads is ${N}`, at);
    if (dimOf(shapes, Q, 4) === 0) throw invalid(file, 'the head size (axis 4 of the packed query) is 0', at);
  }
  if (rankOf(shapes, K) === 3) divides(file, 'num_heads', N, dimOf(shapes, K, 2), "key's hidden size", at);
  if (rankOf(shapes, V) === 3) divides(file, 'num_heads', N, dimOf(shapes, V, 2), "value's hidden size", at);
}

function checkMsGroupQueryAttention(file: string, n: OnnxNode, shapes: ShapeMap, at: string): void {
  const N = headsAttr(file, n, 'num_heads', at, true)!;
  const Nkv = headsAttr(file, n, 'kv_num_heads', at, true)!;
  finiteFloatAttr(file, n, 'scale', at);
  finiteFloatAttr(file, n, 'softcap', at);
  if (N % Nkv !== 0) throw invalid(file, `num_heads ${N} is not a multiple of kv_num_heads ${Nkv} (the grouped-query ratio must be an integer)`, at);
  const [Q, K, V] = n.inputs;
  const width = dimOf(shapes, Q, 2, 3);
  if (!K) {
    divides(file, 'num_heads + 2·kv_num_heads', N + 2 * Nkv, width, 'packed query width', at);
    return;
  }
  divides(file, 'num_heads', N, width, "query's hidden size", at);
  const kw = dimOf(shapes, K, 2, 3);
  const vw = dimOf(shapes, V, 2, 3);
  divides(file, 'kv_num_heads', Nkv, kw, "key's hidden size", at);
  divides(file, 'kv_num_heads', Nkv, vw, "value's hidden size", at);
  if (width !== null && kw !== null && width / N !== kw / Nkv) throw invalid(file, `query head size ${width / N} differs from key head size ${kw / Nkv}`, at);
}

function checkSplit(file: string, n: OnnxNode, shapes: ShapeMap, opset: number, at: string): void {
  const x = shapes.get(n.inputs[0] ?? '')?.shape;
  let sizes: number[] | undefined;
  const a = n.attributes.split;
  if (a && a.type !== 'INTS') throw invalid(file, `split must be an INTS attribute, got ${a.type}`, at);
  if (a) sizes = a.value as number[];
  else if (opset >= 13 && n.inputs[1]) {
    const v = shapes.get(n.inputs[1])?.value;
    if (v && v.every(isNum)) sizes = v as number[];
  }
  if (!sizes) return;
  if (sizes.some((s) => !Number.isInteger(s) || s < 0)) throw invalid(file, `split sizes [${sizes.join(', ')}] must be integers ≥ 0`, at);
  if (sizes.length !== n.outputs.length) {
    throw invalid(file, `split sizes [${sizes.join(', ')}] give ${sizes.length} parts, but the node has ${n.outputs.length} outputs`, at);
  }
  const axis = n.attributes.axis?.type === 'INT' ? (n.attributes.axis.value as number) : 0;
  if (!x) return;
  const ax = axis < 0 ? axis + x.length : axis;
  if (ax < 0 || ax >= x.length) throw invalid(file, `axis ${axis} is outside the rank ${x.length} of the input`, at);
  const d = x[ax];
  const sum = sizes.reduce((s, v) => s + v, 0);
  if (isNum(d) && sum !== d) {
    throw invalid(file, `split sizes [${sizes.join(', ')}] add up to ${sum}, but axis ${axis} of '${n.inputs[0]}' has ${d} entries`, at);
  }
}

/** Checks the attention operators and Splits of one graph and its subgraphs. */
function checkOperators(file: string, g: OnnxGraph, opsets: Record<string, number>, outer?: ShapeMap): void {
  const interesting = (n: OnnxNode) =>
    (n.domain === 'ai.onnx' && (n.opType === 'Attention' || n.opType === 'Split')) ||
    (n.domain === 'com.microsoft' && (n.opType === 'Attention' || n.opType === 'MultiHeadAttention' || n.opType === 'GroupQueryAttention'));
  const needShapes = g.nodes.some(interesting);
  const needSub = g.subgraphs.length > 0;
  if (!needShapes && !needSub) return;
  const shapes = inferShapes(g, opsets, outer);
  const opset = opsets['ai.onnx'] ?? 1;
  for (const n of g.nodes) {
    if (!interesting(n)) continue;
    const at = nodeWhere(n, g);
    if (n.domain === 'ai.onnx' && n.opType === 'Attention') checkOnnxAttention(file, n, shapes, at);
    else if (n.domain === 'ai.onnx') checkSplit(file, n, shapes, opset, at);
    else if (n.opType === 'Attention') checkMsAttention(file, n, shapes, at);
    else if (n.opType === 'MultiHeadAttention') checkMsMultiHeadAttention(file, n, shapes, at);
    else checkMsGroupQueryAttention(file, n, shapes, at);
  }
  if (needSub) {
    const scope: ShapeMap = new Map([...(outer ?? []), ...shapes]);
    for (const s of g.subgraphs) checkOperators(file, s, opsets, scope);
  }
}

/**
 * Checks a decoded model's graphs (order, single assignment, produced inputs and outputs) and the attributes of
 * its attention operators and Splits. Tensor data are checked while decoding (`checkTensorProto`).
 * @throws OnnxReadError(`invalid`) with the reason `<what>, at <node or tensor>`.
 */
export function checkModel(model: Pick<OnnxModel, 'file' | 'graph' | 'opsets' | 'functions'>): void {
  checkGraph(model.file, model.graph, new Set(), new Set(model.functions), model.opsets);
  checkOperators(model.file, model.graph, model.opsets);
}
