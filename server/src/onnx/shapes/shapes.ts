/**
 * Static shape and small-constant propagation over an ONNX graph.
 *
 * Just enough of ONNX shape inference to read attention geometry: exporters compute Reshape targets at run time
 * (`Shape → Gather → Unsqueeze → Concat`, `Div(hidden, heads)`, `Mul(batch, heads)`), so head counts sit in small
 * integer tensors that must be folded. Each tensor gets a shape (dims are numbers, symbolic monomials such as
 * `4*batch`, or unknown) and, when it has at most `MAX_VALUE_ELEMENTS` elements and its inputs are known, its
 * values. Operators follow the ONNX operator specs (docs/Operators.md) for the opset the model imports; anything
 * not handled gets an unknown shape rather than a guess. Declared `value_info` shapes fill dims left unknown.
 */
import { toFloat64 } from '../format/tensor';
import { attrFloat, attrInt, attrInts, attrTensor } from '../format/graph';
import { DataType, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../format/types';
import { type Dim, dimAdd, dimDivExact, dimEq, dimMul, dimProd, dimSub, isNum, sym, symbol } from './dims';

/** Tensors with more elements than this do not get folded values (shape vectors and scalars are far smaller). */
export const MAX_VALUE_ELEMENTS = 4096;

/** Inferred facts about one tensor. */
export interface TensorInfo {
  /** Shape (null: rank unknown). */
  shape: Dim[] | null;
  /** Element `DataType` (0: unknown). */
  elemType: number;
  /** Row-major values when known (small tensors only); integer tensors may hold symbolic dims. */
  value?: Dim[];
}

/** Inferred facts by tensor name. */
export type ShapeMap = Map<string, TensorInfo>;

const INT_TYPES = new Set<number>([
  DataType.INT8,
  DataType.INT16,
  DataType.INT32,
  DataType.INT64,
  DataType.UINT8,
  DataType.UINT16,
  DataType.UINT32,
  DataType.UINT64,
  DataType.BOOL,
]);

const UNKNOWN: TensorInfo = { shape: null, elemType: 0 };

/** Numeric value of a tensor known at load time (inline, small, numeric), as Dims; undefined otherwise. */
export function tensorValue(t: OnnxTensor): Dim[] | undefined {
  if (t.storage !== 'inline' || t.size > MAX_VALUE_ELEMENTS) return undefined;
  try {
    return Array.from(toFloat64(t));
  } catch {
    return undefined;
  }
}

function tensorInfo(t: OnnxTensor): TensorInfo {
  const info: TensorInfo = { shape: [...t.dims], elemType: t.dataType };
  const v = tensorValue(t);
  if (v && v.length === t.size) info.value = v;
  return info;
}

/** Shape of a declared value info: numbers stay, `dim_param`s become symbols, anonymous dims fresh symbols. */
export function declaredShape(v: OnnxValueInfo, fresh: (axis: number) => string): Dim[] | null {
  if (!v.shape) return null;
  return v.shape.map((d, i) => (typeof d === 'number' ? d : typeof d === 'string' ? symbol(d) : symbol(fresh(i))));
}

/** Fully numeric dims → number[]; otherwise null. */
export function numericShape(s: Dim[] | null): number[] | null {
  if (!s || !s.every(isNum)) return null;
  return s as number[];
}

function size(s: Dim[] | null): number | null {
  const n = numericShape(s);
  return n ? n.reduce((a, b) => a * b, 1) : null;
}

/** Multidirectional (numpy) broadcast of two shapes; unknown where it cannot be decided. */
export function broadcast(a: Dim[] | null, b: Dim[] | null): Dim[] | null {
  if (!a || !b) return null;
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const x = i < r - a.length ? 1 : a[i - (r - a.length)];
    const y = i < r - b.length ? 1 : b[i - (r - b.length)];
    if (x === 1) out.push(y);
    else if (y === 1) out.push(x);
    else if (dimEq(x, y)) out.push(x);
    else if (isNum(x) && x !== 1 && (y === null || !isNum(y))) out.push(x);
    else if (isNum(y) && y !== 1 && (x === null || !isNum(x))) out.push(y);
    else out.push(null);
  }
  return out;
}

/** Values of `info` broadcast to `shape` (both numeric); null when not possible. */
function broadcastValues(info: TensorInfo, shape: number[]): Dim[] | null {
  const src = numericShape(info.shape);
  if (!src || !info.value) return null;
  const total = shape.reduce((a, b) => a * b, 1);
  if (total > MAX_VALUE_ELEMENTS) return null;
  const off = shape.length - src.length;
  if (off < 0) return null;
  const out: Dim[] = new Array(total);
  const srcStrides = src.map((_, i) => src.slice(i + 1).reduce((a, b) => a * b, 1));
  for (let lin = 0; lin < total; lin++) {
    let rem = lin;
    let at = 0;
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      const c = rem % shape[ax];
      rem = Math.floor(rem / shape[ax]);
      const sa = ax - off;
      if (sa >= 0 && src[sa] !== 1) at += c * srcStrides[sa];
    }
    out[lin] = info.value[at];
  }
  return out;
}

function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** Integer values (all numeric) of an input, or null. */
function ints(info: TensorInfo | undefined): number[] | null {
  if (!info || !info.value || !info.value.every(isNum)) return null;
  return info.value as number[];
}

function elementwise(ins: TensorInfo[], elemType: number, f: ((...xs: Dim[]) => Dim) | null): TensorInfo {
  let shape: Dim[] | null = ins[0]?.shape ?? null;
  for (let i = 1; i < ins.length; i++) shape = broadcast(shape, ins[i].shape);
  const out: TensorInfo = { shape, elemType };
  const ns = numericShape(shape);
  if (f && ns && ins.every((x) => x.value)) {
    const cols = ins.map((x) => broadcastValues(x, ns));
    if (cols.every((c) => c)) {
      const n = ns.reduce((a, b) => a * b, 1);
      const v: Dim[] = new Array(n);
      for (let i = 0; i < n; i++) v[i] = f(...cols.map((c) => (c as Dim[])[i]));
      out.value = v;
    }
  }
  return out;
}

const num2 =
  (g: (a: number, b: number) => number) =>
  (a: Dim, b: Dim): Dim =>
    isNum(a) && isNum(b) ? g(a, b) : null;

/** True when `a` is a negative number and `b` a symbolic size with a positive coefficient. */
function negVsSize(a: Dim, b: Dim): boolean {
  return isNum(a) && a < 0 && b !== null && !isNum(b) && b.k > 0;
}

function binaryFn(op: string, isInt: boolean, node: OnnxNode): ((a: Dim, b: Dim) => Dim) | null {
  switch (op) {
    case 'Add':
      return dimAdd;
    case 'Sub':
      return dimSub;
    case 'Mul':
      return dimMul;
    case 'Div':
      return (a, b) => {
        if (isNum(a) && isNum(b)) {
          if (b === 0) return isInt ? null : a / b;
          return isInt ? Math.trunc(a / b) : a / b;
        }
        return dimDivExact(a, b);
      };
    case 'Mod': {
      const fmod = attrInt(node, 'fmod', 0);
      return num2((a, b) => (b === 0 ? NaN : fmod ? a % b : ((a % b) + b) % b));
    }
    case 'Pow':
      return num2((a, b) => a ** b);
    case 'Equal':
      // A symbolic size (k > 0) is never negative: torch's `expand(B, -1, -1)` compares run-time sizes with -1.
      return (a, b) => (dimEq(a, b) ? 1 : isNum(a) && isNum(b) ? 0 : negVsSize(a, b) || negVsSize(b, a) ? 0 : null);
    case 'Less':
      return num2((a, b) => +(a < b));
    case 'LessOrEqual':
      return num2((a, b) => +(a <= b));
    case 'Greater':
      return num2((a, b) => +(a > b));
    case 'GreaterOrEqual':
      return num2((a, b) => +(a >= b));
    case 'And':
      return num2((a, b) => +(a !== 0 && b !== 0));
    case 'Or':
      return num2((a, b) => +(a !== 0 || b !== 0));
    case 'Xor':
      return num2((a, b) => +((a !== 0) !== (b !== 0)));
    case 'Max':
      return num2(Math.max);
    case 'Min':
      return num2(Math.min);
    default:
      return null;
  }
}

function unaryFn(op: string): ((a: Dim) => Dim) | null {
  const n1 = (g: (a: number) => number) => (a: Dim) => (isNum(a) ? g(a) : null);
  switch (op) {
    case 'Identity':
      return (a) => a;
    case 'Neg':
      return (a) => (isNum(a) ? -a : a === null ? null : sym(-a.k, a.s));
    case 'Abs':
      return n1(Math.abs);
    case 'Sqrt':
      return n1(Math.sqrt);
    case 'Reciprocal':
      return n1((a) => 1 / a);
    case 'Floor':
      return n1(Math.floor);
    case 'Ceil':
      return n1(Math.ceil);
    case 'Round':
      return n1((a) => {
        const f = Math.floor(a);
        const d = a - f;
        return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1; // round half to even, as the spec says
      });
    case 'Not':
      return n1((a) => +(a === 0));
    case 'Sign':
      return n1(Math.sign);
    case 'Exp':
      return n1(Math.exp);
    case 'Log':
      return n1(Math.log);
    case 'Relu':
      return n1((a) => Math.max(0, a));
    default:
      return null;
  }
}

const SAME_SHAPE = new Set([
  'Identity',
  'Relu',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
  'Erf',
  'Sqrt',
  'Exp',
  'Log',
  'Tanh',
  'Sigmoid',
  'Neg',
  'Abs',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Not',
  'Sign',
  'Sin',
  'Cos',
  'IsNaN',
  'IsInf',
  'HardSigmoid',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Celu',
  'Softplus',
  'Softsign',
  'Mish',
  'HardSwish',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'SkipLayerNormalization',
  'SkipSimplifiedLayerNormalization',
  'RMSNormalization',
  'BatchNormalization',
  'InstanceNormalization',
  'Dropout',
  'Trilu',
  'RotaryEmbedding',
  'CumSum',
  'Shrink',
  'ThresholdedRelu',
  'Swish',
  'GroupNormalization',
]);

/** Reads axes from the attribute (older opsets) or the given input (newer), as the op's version requires. */
function axesOf(node: OnnxNode, ins: TensorInfo[], inputIndex: number): number[] | null | undefined {
  const a = attrInts(node, 'axes');
  if (a) return a;
  if (node.inputs.length > inputIndex && node.inputs[inputIndex]) return ints(ins[inputIndex]);
  return undefined; // absent: op default
}

function sliceLen(d: Dim, s: number, e: number, st: number): Dim {
  const BIG = 1e15;
  if (isNum(d)) {
    const clamp = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);
    let a = s < 0 ? s + d : s;
    let b = e < 0 ? e + d : e;
    if (st > 0) {
      a = clamp(a, 0, d);
      b = clamp(b, 0, d);
    } else {
      a = clamp(a, 0, d - 1);
      b = clamp(b, -1, d - 1);
    }
    return Math.max(0, Math.ceil((b - a) / st));
  }
  if (d === null || st !== 1) return null;
  // Symbolic extent: assume the slice stays within it, as exported models do.
  if (s >= 0 && e >= BIG) return dimSub(d, s);
  if (s >= 0 && e >= 0 && e < BIG) return Math.max(0, e - s);
  if (s < 0 && e >= BIG) return -s;
  if (s >= 0 && e < 0) return dimSub(dimSub(d, s), -e);
  return null;
}

/** One node's output infos from its input infos (ai.onnx semantics at opset `opset`, plus a few contrib ops). */
function evalNode(node: OnnxNode, ins: TensorInfo[], opset: number): TensorInfo[] {
  const op = node.opType;
  const x = ins[0] ?? UNKNOWN;
  const isMs = node.domain === 'com.microsoft';
  if (node.domain !== 'ai.onnx' && !isMs) return [];
  const isInt = INT_TYPES.has(x.elemType);

  if (op === 'Constant') {
    const t = attrTensor(node, 'value') ?? attrTensor(node, 'sparse_value');
    if (t) return [tensorInfo(t)];
    const f = attrFloat(node, 'value_float');
    if (f !== undefined) return [{ shape: [], elemType: DataType.FLOAT, value: [f] }];
    const i = attrInt(node, 'value_int');
    if (i !== undefined) return [{ shape: [], elemType: DataType.INT64, value: [i] }];
    const fs = node.attributes.value_floats;
    if (fs && fs.type === 'FLOATS') return [{ shape: [fs.value.length], elemType: DataType.FLOAT, value: [...fs.value] }];
    const is = attrInts(node, 'value_ints');
    if (is) return [{ shape: [is.length], elemType: DataType.INT64, value: [...is] }];
    return [UNKNOWN];
  }
  if (op === 'Cast' || op === 'CastLike') {
    const to = op === 'Cast' ? attrInt(node, 'to', 0) : (ins[1]?.elemType ?? 0);
    const out: TensorInfo = { shape: x.shape, elemType: to };
    if (x.value) {
      const toInt = INT_TYPES.has(to) && to !== DataType.BOOL;
      out.value = x.value.map((v) => (isNum(v) ? (to === DataType.BOOL ? +(v !== 0) : toInt ? Math.trunc(v) : v) : v));
    }
    return [out];
  }
  if (SAME_SHAPE.has(op)) {
    const f = unaryFn(op);
    const out: TensorInfo = { shape: x.shape, elemType: op === 'IsNaN' || op === 'IsInf' ? DataType.BOOL : x.elemType };
    if (f && x.value) out.value = x.value.map(f);
    if (op === 'Dropout') return [out, { shape: x.shape, elemType: DataType.BOOL }];
    if (op === 'SkipLayerNormalization' || op === 'SkipSimplifiedLayerNormalization') {
      return [out, UNKNOWN, UNKNOWN, { shape: x.shape, elemType: x.elemType }];
    }
    return [out];
  }
  const bin = ['Add', 'Sub', 'Mul', 'Div', 'Mod', 'Pow', 'Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'PRelu', 'BitShift'];
  if (bin.includes(op)) {
    const cmp = ['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'And', 'Or', 'Xor'].includes(op);
    const f = binaryFn(op, isInt, node);
    return [elementwise(ins.slice(0, 2), cmp ? DataType.BOOL : x.elemType || ins[1]?.elemType || 0, f)];
  }
  if (op === 'Max' || op === 'Min' || op === 'Sum' || op === 'Mean') {
    const f = op === 'Sum' ? dimAdd : binaryFn(op, isInt, node);
    const fold = f ? (...xs: Dim[]) => xs.reduce((a, b) => f(a, b)) : null;
    return [elementwise(ins, x.elemType, op === 'Mean' ? null : fold)];
  }
  if (op === 'Where') {
    return [elementwise(ins.slice(0, 3), ins[1]?.elemType || ins[2]?.elemType || 0, (c, a, b) => (isNum(c) ? (c ? a : b) : null))];
  }
  switch (op) {
    case 'Shape': {
      if (!x.shape) return [{ shape: [null], elemType: DataType.INT64 }];
      const r = x.shape.length;
      const clampAx = (a: number) => Math.min(Math.max(normAxis(a, r), 0), r);
      const s = clampAx(attrInt(node, 'start', 0));
      const e = clampAx(attrInt(node, 'end', r));
      const v = x.shape.slice(s, Math.max(s, e));
      return [{ shape: [v.length], elemType: DataType.INT64, value: v }];
    }
    case 'Size':
      return [{ shape: [], elemType: DataType.INT64, value: [x.shape ? dimProd(x.shape) : null] }];
    case 'Transpose': {
      if (!x.shape) return [{ shape: null, elemType: x.elemType }];
      const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
      if (perm.length !== x.shape.length) return [{ shape: null, elemType: x.elemType }];
      return [{ shape: perm.map((p) => x.shape![p] ?? null), elemType: x.elemType }];
    }
    case 'Reshape': {
      const allowzero = attrInt(node, 'allowzero', 0);
      let target: Dim[] | null = null;
      let rank: number | null = null;
      if (opset < 5) {
        const s = attrInts(node, 'shape');
        if (s) target = s;
      } else {
        const si = ins[1];
        if (si?.value) target = si.value;
        else if (si?.shape && si.shape.length === 1 && isNum(si.shape[0])) rank = si.shape[0];
      }
      if (!target) {
        return [{ shape: rank === null ? null : new Array(rank).fill(null), elemType: x.elemType, value: x.value }];
      }
      const out: Dim[] = target.map((d, i) => (d === 0 && !allowzero ? (x.shape?.[i] ?? null) : d === -1 ? -1 : d));
      const neg = out.indexOf(-1);
      if (neg >= 0) {
        const others = out.filter((_, i) => i !== neg);
        out[neg] = x.shape && others.every((d) => d !== null) ? dimDivExact(dimProd(x.shape), dimProd(others)) : null;
      }
      const r: TensorInfo = { shape: out, elemType: x.elemType };
      if (x.value) r.value = x.value;
      return [r];
    }
    case 'Flatten': {
      if (!x.shape) return [{ shape: [null, null], elemType: x.elemType }];
      const ax = normAxis(attrInt(node, 'axis', 1), x.shape.length);
      return [{ shape: [dimProd(x.shape.slice(0, ax)), dimProd(x.shape.slice(ax))], elemType: x.elemType, value: x.value }];
    }
    case 'Unsqueeze': {
      const axes = axesOf(node, ins, 1);
      if (!x.shape || !axes) return [{ shape: null, elemType: x.elemType, value: x.value }];
      const r = x.shape.length + axes.length;
      const ax = new Set(axes.map((a) => normAxis(a, r)));
      const out: Dim[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) out.push(ax.has(i) ? 1 : (x.shape[k++] ?? null));
      return [{ shape: out, elemType: x.elemType, value: x.value }];
    }
    case 'Squeeze': {
      const axes = axesOf(node, ins, 1);
      if (!x.shape || axes === null) return [{ shape: null, elemType: x.elemType, value: x.value }];
      const r = x.shape.length;
      let drop: Set<number>;
      if (axes === undefined) {
        if (!x.shape.every(isNum)) return [{ shape: null, elemType: x.elemType, value: x.value }];
        drop = new Set(x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0));
      } else drop = new Set(axes.map((a) => normAxis(a, r)));
      return [{ shape: x.shape.filter((_, i) => !drop.has(i)), elemType: x.elemType, value: x.value }];
    }
    case 'Concat': {
      const known = ins.filter((i) => i.shape);
      if (known.length !== ins.length || ins.length === 0) return [{ shape: null, elemType: x.elemType }];
      const r = ins[0].shape!.length;
      const ax = normAxis(attrInt(node, 'axis', 0), r);
      const shape = [...ins[0].shape!];
      shape[ax] = ins.map((i) => i.shape![ax] ?? null).reduce<Dim>((a, b) => dimAdd(a, b), 0);
      const out: TensorInfo = { shape, elemType: x.elemType };
      if (r === 1 && ins.every((i) => i.value)) out.value = ins.flatMap((i) => i.value!);
      return [out];
    }
    case 'Split': {
      const n = node.outputs.length;
      if (!x.shape) return node.outputs.map(() => ({ shape: null, elemType: x.elemType }));
      const ax = normAxis(attrInt(node, 'axis', 0), x.shape.length);
      let sizes: Dim[] | null = attrInts(node, 'split') ?? (node.inputs[1] ? ints(ins[1]) : null);
      const d = x.shape[ax];
      if (!sizes && !(node.inputs[1] && !ins[1]?.value)) {
        const parts = attrInt(node, 'num_outputs', n);
        if (isNum(d)) {
          const each = Math.ceil(d / parts);
          sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
        } else {
          const q = dimDivExact(d, parts);
          sizes = new Array(n).fill(q);
        }
      }
      const outs: TensorInfo[] = [];
      let start = 0;
      for (let i = 0; i < n; i++) {
        const s = [...x.shape];
        s[ax] = sizes ? (sizes[i] ?? null) : null;
        const o: TensorInfo = { shape: s, elemType: x.elemType };
        if (x.value && x.shape.length === 1 && sizes && sizes.every(isNum)) {
          o.value = x.value.slice(start, start + (sizes[i] as number));
          start += sizes[i] as number;
        }
        outs.push(o);
      }
      return outs;
    }
    case 'Slice': {
      let starts: number[] | null, ends: number[] | null, axes: number[] | null | undefined, steps: number[] | null | undefined;
      if (opset < 10) {
        starts = attrInts(node, 'starts') ?? null;
        ends = attrInts(node, 'ends') ?? null;
        axes = attrInts(node, 'axes');
        steps = undefined;
      } else {
        starts = ints(ins[1]);
        ends = ints(ins[2]);
        axes = node.inputs[3] ? ints(ins[3]) : undefined;
        steps = node.inputs[4] ? ints(ins[4]) : undefined;
      }
      if (!x.shape) return [{ shape: null, elemType: x.elemType }];
      const shape = [...x.shape];
      if (!starts || !ends || axes === null || steps === null) {
        const ax = axes ? axes.map((a) => normAxis(a, shape.length)) : null;
        return [{ shape: shape.map((d, i) => (ax && !ax.includes(i) ? d : null)), elemType: x.elemType }];
      }
      const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, shape.length));
      const st = steps ?? starts.map(() => 1);
      const out: TensorInfo = { shape, elemType: x.elemType };
      ax.forEach((a, i) => {
        shape[a] = sliceLen(x.shape![a], starts![i], ends![i], st[i]);
      });
      if (x.value && x.shape.length === 1 && isNum(x.shape[0]) && isNum(shape[0])) {
        const d = x.shape[0];
        let s = starts[0] < 0 ? starts[0] + d : starts[0];
        s = st[0] > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, 0), d - 1);
        const v: Dim[] = [];
        for (let k = 0, i = s; k < shape[0]; k++, i += st[0]) v.push(x.value[i]);
        out.value = v;
      }
      return [out];
    }
    case 'Gather': {
      const idx = ins[1] ?? UNKNOWN;
      if (!x.shape || !idx.shape) return [{ shape: null, elemType: x.elemType }];
      const ax = normAxis(attrInt(node, 'axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, ax), ...idx.shape, ...x.shape.slice(ax + 1)];
      const out: TensorInfo = { shape, elemType: x.elemType };
      const iv = ints(idx);
      if (x.value && iv && x.shape.length === 1 && isNum(x.shape[0])) {
        const d = x.shape[0];
        out.value = iv.map((i) => x.value![i < 0 ? i + d : i] ?? null);
      }
      return [out];
    }
    case 'GatherElements':
      return [{ shape: ins[1]?.shape ?? null, elemType: x.elemType }];
    case 'ConstantOfShape': {
      const t = attrTensor(node, 'value');
      const elemType = t ? t.dataType : DataType.FLOAT;
      const shape = x.value ?? (x.shape && isNum(x.shape[0]) ? new Array(x.shape[0]).fill(null) : null);
      const out: TensorInfo = { shape, elemType };
      const n = size(shape);
      if (n !== null && n <= MAX_VALUE_ELEMENTS) {
        const fill = t ? (tensorValue(t)?.[0] ?? 0) : 0;
        out.value = new Array(n).fill(fill);
      }
      return [out];
    }
    case 'Expand': {
      const target = ins[1]?.value ?? null;
      const shape = target ? broadcast(x.shape, target) : null;
      const out: TensorInfo = { shape, elemType: x.elemType };
      const ns = numericShape(shape);
      if (ns && x.value) {
        const v = broadcastValues(x, ns);
        if (v) out.value = v;
      }
      return [out];
    }
    case 'Tile': {
      const reps = ints(ins[1]);
      if (!x.shape || !reps) return [{ shape: x.shape ? x.shape.map(() => null) : null, elemType: x.elemType }];
      return [{ shape: x.shape.map((d, i) => dimMul(d, reps[i] ?? 1)), elemType: x.elemType }];
    }
    case 'Range': {
      const [a, b, c] = [ints(ins[0])?.[0], ints(ins[1])?.[0], ints(ins[2])?.[0]];
      if (a === undefined || b === undefined || c === undefined || c === 0) return [{ shape: [null], elemType: x.elemType }];
      const n = Math.max(0, Math.ceil((b - a) / c));
      const out: TensorInfo = { shape: [n], elemType: x.elemType };
      if (n <= MAX_VALUE_ELEMENTS) out.value = Array.from({ length: n }, (_, i) => a + i * c);
      return [out];
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'FusedMatMul': {
      const b = ins[1] ?? UNKNOWN;
      if (!x.shape || !b.shape) return [{ shape: null, elemType: op === 'MatMulInteger' ? DataType.INT32 : x.elemType }];
      let a = x.shape;
      let bb = b.shape;
      if (op === 'FusedMatMul') {
        const swap = (s: Dim[]) => (s.length >= 2 ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        if (attrInt(node, 'transA', 0)) a = swap(a);
        if (attrInt(node, 'transB', 0)) bb = swap(bb);
      }
      const et = op === 'MatMulInteger' ? DataType.INT32 : x.elemType;
      if (a.length === 1 && bb.length === 1) return [{ shape: [], elemType: et }];
      if (a.length === 1) return [{ shape: [...bb.slice(0, -2), bb[bb.length - 1]], elemType: et }];
      if (bb.length === 1) return [{ shape: a.slice(0, -1), elemType: et }];
      const batch = broadcast(a.slice(0, -2), bb.slice(0, -2));
      return [{ shape: batch ? [...batch, a[a.length - 2], bb[bb.length - 1]] : null, elemType: et }];
    }
    case 'Gemm': {
      const b = ins[1] ?? UNKNOWN;
      if (!x.shape || !b.shape || x.shape.length !== 2 || b.shape.length !== 2) return [{ shape: [null, null], elemType: x.elemType }];
      const m = attrInt(node, 'transA', 0) ? x.shape[1] : x.shape[0];
      const n = attrInt(node, 'transB', 0) ? b.shape[0] : b.shape[1];
      return [{ shape: [m, n], elemType: x.elemType }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceProd':
    case 'ReduceL1':
    case 'ReduceL2':
    case 'ReduceLogSumExp':
    case 'ReduceSumSquare':
    case 'ReduceLogSum': {
      const axes = axesOf(node, ins, 1);
      const keep = attrInt(node, 'keepdims', 1);
      if (!x.shape || axes === null) return [{ shape: null, elemType: x.elemType }];
      if (axes === undefined && attrInt(node, 'noop_with_empty_axes', 0)) return [{ shape: x.shape, elemType: x.elemType }];
      const r = x.shape.length;
      const ax = new Set((axes ?? x.shape.map((_, i) => i)).map((a) => normAxis(a, r)));
      const shape = keep ? x.shape.map((d, i) => (ax.has(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.has(i));
      return [{ shape, elemType: x.elemType }];
    }
    case 'Conv':
    case 'ConvInteger':
    case 'MaxPool':
    case 'AveragePool':
    case 'LpPool': {
      // Spatial sizes per the operator specs: floor((D + pads − dilation·(k − 1) − 1) / stride) + 1 (ceil_mode: ceil),
      // SAME_*: ceil(D / stride), VALID: no pads. Conv's channels come from the weight [M, C/group, k…].
      const w = ins[1]?.shape;
      const isConv = op === 'Conv' || op === 'ConvInteger';
      if (!x.shape || x.shape.length < 3 || (isConv && (!w || w.length !== x.shape.length))) return [{ shape: null, elemType: x.elemType }];
      const nsp = x.shape.length - 2;
      const kernel = attrInts(node, 'kernel_shape') ?? (isConv && w!.slice(2).every(isNum) ? (w!.slice(2) as number[]) : null);
      if (!kernel || kernel.length !== nsp) return [{ shape: null, elemType: x.elemType }];
      const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
      const dil = attrInts(node, 'dilations') ?? kernel.map(() => 1);
      const pads = attrInts(node, 'pads') ?? kernel.map(() => 0).concat(kernel.map(() => 0));
      const autoPad = node.attributes.auto_pad?.type === 'STRING' ? node.attributes.auto_pad.value : 'NOTSET';
      const ceil = attrInt(node, 'ceil_mode', 0) === 1;
      const spatial: Dim[] = x.shape.slice(2).map((d, i) => {
        if (!isNum(d)) return null;
        if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(d / strides[i]);
        const pb = autoPad === 'VALID' ? 0 : pads[i];
        const pe = autoPad === 'VALID' ? 0 : pads[i + nsp];
        const q = (d + pb + pe - dil[i] * (kernel[i] - 1) - 1) / strides[i];
        return (ceil ? Math.ceil(q) : Math.floor(q)) + 1;
      });
      const channels = isConv ? w![0] : x.shape[1];
      const et = op === 'ConvInteger' ? DataType.INT32 : x.elemType;
      return [{ shape: [x.shape[0], channels, ...spatial], elemType: et }];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'GlobalLpPool':
      return [{ shape: x.shape ? [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)] : null, elemType: x.elemType }];
    case 'ArgMax':
    case 'ArgMin': {
      if (!x.shape) return [{ shape: null, elemType: DataType.INT64 }];
      const ax = normAxis(attrInt(node, 'axis', 0), x.shape.length);
      const keep = attrInt(node, 'keepdims', 1);
      return [{ shape: keep ? x.shape.map((d, i) => (i === ax ? 1 : d)) : x.shape.filter((_, i) => i !== ax), elemType: DataType.INT64 }];
    }
    case 'Attention':
      return isMs ? msAttentionOut(node, ins) : onnxAttentionOut(node, ins);
    case 'MultiHeadAttention': {
      const v = ins[2];
      const q = x.shape;
      if (!q || q.length !== 3) return [{ shape: null, elemType: x.elemType }];
      const vh = v?.shape && v.shape.length === 3 ? v.shape[2] : q[2];
      return [{ shape: [q[0], q[1], vh], elemType: x.elemType }];
    }
    case 'GroupQueryAttention': {
      const q = x.shape;
      const nh = attrInt(node, 'num_heads', 0);
      const kvh = attrInt(node, 'kv_num_heads', 0);
      if (!q || q.length !== 3) return [{ shape: null, elemType: x.elemType }];
      const packed = !node.inputs[1];
      const head = dimDivExact(q[2], packed ? nh + 2 * kvh : nh);
      return [{ shape: [q[0], q[1], dimMul(head, nh)], elemType: x.elemType }];
    }
    default:
      return [];
  }
}

/** ai.onnx Attention (opset 23/24) output shapes, from the operator spec's shape rules. */
function onnxAttentionOut(node: OnnxNode, ins: TensorInfo[]): TensorInfo[] {
  const [q, k, v] = [ins[0]?.shape, ins[1]?.shape, ins[2]?.shape];
  const et = ins[0]?.elemType ?? 0;
  if (!q || !k || !v) return [{ shape: null, elemType: et }];
  const past = ins[4]?.shape;
  const pastLen = past && node.inputs[4] ? past[2] : 0;
  if (q.length === 4) {
    const total = dimAdd(k[2], pastLen);
    return [
      { shape: [q[0], q[1], q[2], v[3]], elemType: et },
      { shape: [k[0], k[1], total, k[3]], elemType: et },
      { shape: [v[0], v[1], total, v[3]], elemType: et },
      { shape: [q[0], q[1], q[2], total], elemType: et },
    ];
  }
  const qh = attrInt(node, 'q_num_heads');
  const kvh = attrInt(node, 'kv_num_heads');
  if (q.length !== 3 || !qh || !kvh) return [{ shape: null, elemType: et }];
  const vHead = dimDivExact(v[2], kvh);
  const head = dimDivExact(q[2], qh);
  const total = dimAdd(k[1], pastLen);
  return [
    { shape: [q[0], q[1], dimMul(vHead, qh)], elemType: et },
    { shape: [k[0], kvh, total, head], elemType: et },
    { shape: [v[0], kvh, total, vHead], elemType: et },
    { shape: [q[0], qh, q[1], total], elemType: et },
  ];
}

/** com.microsoft Attention output 0: (batch, sequence, v_hidden_size) per the contrib op spec. */
function msAttentionOut(node: OnnxNode, ins: TensorInfo[]): TensorInfo[] {
  const x = ins[0]?.shape;
  const w = ins[1]?.shape;
  const et = ins[0]?.elemType ?? 0;
  if (!x || x.length !== 3) return [{ shape: null, elemType: et }];
  const sizes = attrInts(node, 'qkv_hidden_sizes');
  const vh: Dim = sizes && sizes.length === 3 ? sizes[2] : w && w.length === 2 ? dimDivExact(w[1], 3) : null;
  return [{ shape: [x[0], x[1], vh], elemType: et }];
}

/** Keeps the more specific of an inferred and a declared dim. */
function mergeShape(inferred: Dim[] | null, declared: Dim[] | null): Dim[] | null {
  if (!declared) return inferred;
  if (!inferred || inferred.length !== declared.length) return inferred ?? declared;
  return inferred.map((d, i) => (d === null || (!isNum(d) && isNum(declared[i])) ? declared[i] : d));
}

/**
 * Infers shapes (and small values) for every tensor of `graph`, in node order.
 * @param opsets the model's opset imports (the `ai.onnx` version selects attribute-vs-input forms).
 * @param outer shapes of the enclosing graph, for subgraphs that read outer-scope names.
 * @returns a map from tensor name to its info; names not in the map are unknown.
 */
export function inferShapes(graph: OnnxGraph, opsets: Record<string, number>, outer?: ShapeMap): ShapeMap {
  const map: ShapeMap = new Map();
  const opset = opsets['ai.onnx'] ?? 1;
  const get = (n: string): TensorInfo => map.get(n) ?? outer?.get(n) ?? UNKNOWN;
  for (const v of graph.inputs) {
    map.set(v.name, { shape: declaredShape(v, (i) => `${v.name}.${i}`), elemType: v.elemType });
  }
  for (const [name, t] of graph.initializers) map.set(name, tensorInfo(t));
  const declared = new Map<string, OnnxValueInfo>(graph.valueInfo);
  for (const o of graph.outputs) declared.set(o.name, o);
  for (const node of graph.nodes) {
    const ins = node.inputs.map((i) => (i ? get(i) : UNKNOWN));
    let outs: TensorInfo[];
    try {
      outs = evalNode(node, ins, opset);
    } catch {
      outs = []; // malformed attributes: leave the outputs unknown rather than fail the whole model
    }
    node.outputs.forEach((o, i) => {
      if (!o) return;
      const info = outs[i] ?? UNKNOWN;
      const d = declared.get(o);
      const shape = d
        ? mergeShape(
            info.shape,
            declaredShape(d, (ax) => `${o}.${ax}`),
          )
        : info.shape;
      const r: TensorInfo = { shape, elemType: info.elemType || d?.elemType || 0 };
      if (info.value && shape && numericShape(shape) && size(shape) === info.value.length) r.value = info.value;
      map.set(o, r);
    });
  }
  return map;
}
