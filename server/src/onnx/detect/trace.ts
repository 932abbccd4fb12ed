/**
 * Walking an ONNX graph around an attention core: from the Q/K/V operands back to their projections (through the
 * Reshape/Transpose head split, scales, packed-QKV slices and grouped-query repeats), and from the context forward
 * to the output projection. Shared by the fused and unfused detectors.
 */
import { attrInt, attrInts, GraphIndex, label } from '../format/graph';
import { type Dim, dimDivExact, dimToJson, isNum } from '../shapes/dims';
import type { ShapeMap } from '../shapes/shapes';
import type { OnnxGraph, OnnxModel, OnnxNode } from '../format/types';
import type { BiasRef, JsonDim, MaskRef, ProjectionRef, TensorRef, WeightRef } from './blocks';

/** What the matchers need about one graph: the model, the graph, its producer/consumer index and inferred shapes. */
export interface Ctx {
  model: OnnxModel;
  graph: OnnxGraph;
  index: GraphIndex;
  shapes: ShapeMap;
  opset: number;
}

/** Inferred shape of a tensor (null: unknown rank). */
export function shapeOf(ctx: Ctx, t: string): Dim[] | null {
  return ctx.shapes.get(t)?.shape ?? null;
}

/** A shape in report form (numbers, `4*batch`-style strings, null for unknown dims). */
export function jsonShape(s: Dim[] | null): JsonDim[] | null {
  return s ? s.map(dimToJson) : null;
}

/** Dim `i` of a shape (negative counts from the end); null when out of range or unknown. */
export function dimAt(s: Dim[] | null, i: number): Dim {
  if (!s) return null;
  const k = i < 0 ? s.length + i : i;
  return k >= 0 && k < s.length ? s[k] : null;
}

/** Dim `i` when it is a number, else null. */
export function numAt(s: Dim[] | null, i: number): number | null {
  const d = dimAt(s, i);
  return isNum(d) ? d : null;
}

/** Where a tensor comes from, for reports. */
export function tensorKind(ctx: Ctx, t: string): TensorRef['kind'] {
  if (ctx.graph.initializers.has(t)) return 'initializer';
  if (ctx.index.isGraphInput(t)) return 'graph-input';
  const p = ctx.index.producer(t);
  if (p) return p.opType === 'Constant' ? 'constant' : 'activation';
  if (ctx.index.initializer(t)) return 'initializer';
  return 'outer-scope';
}

/** A tensor's name, origin and shape, for reports. */
export function tensorRef(ctx: Ctx, t: string): TensorRef {
  return { name: t, kind: tensorKind(ctx, t), shape: jsonShape(shapeOf(ctx, t)) };
}

/** The single numeric value of a tensor known at load time (all elements equal), or null. */
export function constNumber(ctx: Ctx, t: string): number | null {
  const v = ctx.shapes.get(t)?.value;
  if (!v || v.length === 0 || !v.every(isNum)) return null;
  const x = v[0] as number;
  return v.every((y) => y === x) ? x : null;
}

/** True when the tensor's shape is a scalar or all ones (a broadcast scale). */
export function scalarLike(ctx: Ctx, t: string): boolean {
  const s = shapeOf(ctx, t);
  return !!s && s.every((d) => d === 1);
}

/** True when the tensor is computed only from constants (its value is folded, or it is an initializer/Constant). */
export function isConstant(ctx: Ctx, t: string): boolean {
  const k = tensorKind(ctx, t);
  return k === 'initializer' || k === 'constant' || ctx.shapes.get(t)?.value !== undefined;
}

/**
 * A tensor used as a projection weight, with its stored layout: an initializer/Constant/rank-2 graph input used
 * directly (x @ W: `[in, out]`), or through a 2-D Transpose (x @ Wᵀ: stored `[out, in]`).
 */
function weightOperand(ctx: Ctx, t: string, node: OnnxNode, transposed: boolean, opText: string): WeightRef | null {
  let name = t;
  let flip = transposed;
  const p = ctx.index.producer(t);
  if (p && p.opType === 'Transpose' && (shapeOf(ctx, p.inputs[0])?.length ?? 0) === 2) {
    const perm = attrInts(p, 'perm') ?? [1, 0];
    if (perm[0] === 1 && perm[1] === 0) {
      name = p.inputs[0];
      flip = !flip;
      opText = `Transpose → ${opText}`;
    }
  }
  const kind = tensorKind(ctx, name);
  const shape = shapeOf(ctx, name);
  const ok = kind === 'initializer' || kind === 'constant' || ((kind === 'graph-input' || kind === 'outer-scope') && shape?.length === 2);
  if (!ok || (shape && shape.length !== 2)) return null;
  const layout = flip ? 'out,in' : 'in,out';
  return {
    name,
    kind,
    shape: jsonShape(shape),
    layout,
    layoutText: `${flip ? '[out, in]' : '[in, out]'} ${opText}`,
    headAxis: flip ? 0 : 1,
    range: null,
    node: label(node),
  };
}

/** A 1-D (or all-but-last-ones) constant/initializer/graph-input bias, or null. */
function biasOperand(ctx: Ctx, t: string, node: OnnxNode): BiasRef | null {
  const kind = tensorKind(ctx, t);
  if (kind === 'activation') return null;
  const s = shapeOf(ctx, t);
  if (s && !s.slice(0, -1).every((d) => d === 1)) return null;
  return { name: t, kind, shape: jsonShape(s), range: null, node: label(node) };
}

/**
 * The projection that produces `t` (optionally followed by a bias Add): `MatMul(x, W)`, `MatMul(x, Transpose(W))`,
 * `Gemm(x, W, b)` (transB respected), each optionally `+ b`. For an output projection, `headAxis` is the
 * input-feature axis instead of the output-feature axis.
 */
export function findProjection(ctx: Ctx, t: string, role: 'qkv' | 'output'): ProjectionRef | null {
  let bias: BiasRef | null = null;
  let p = ctx.index.producer(t);
  if (p && (p.opType === 'Add' || p.opType === 'BiasAdd')) {
    for (const [mine, other] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const q = ctx.index.producer(p.inputs[mine]);
      if (q && (q.opType === 'MatMul' || q.opType === 'Gemm')) {
        bias = biasOperand(ctx, p.inputs[other], p);
        if (bias) {
          p = q;
          break;
        }
      }
    }
    if (!bias) return null;
  }
  if (!p) return null;
  let weight: WeightRef | null = null;
  let input = '';
  if (p.opType === 'MatMul') {
    weight = weightOperand(ctx, p.inputs[1], p, false, 'MatMul weight');
    input = p.inputs[0];
  } else if (p.opType === 'Gemm') {
    if (attrInt(p, 'transA', 0)) return null;
    const tb = attrInt(p, 'transB', 0) === 1;
    weight = weightOperand(ctx, p.inputs[1], p, tb, tb ? 'Gemm transB' : 'Gemm');
    input = p.inputs[0];
    if (p.inputs[2] && !bias) bias = biasOperand(ctx, p.inputs[2], p);
  }
  if (!weight) return null;
  if (role === 'output') weight.headAxis = weight.layout === 'in,out' ? 0 : 1;
  return { weight, bias, input };
}

/** What `traceOperand` learned walking back from an attention operand. */
export interface Trace {
  start: string;
  /** Tensor where the walk stopped (the projection output, a graph input, …). */
  source: string;
  /** Nodes passed, nearest the attention core first. */
  path: OnnxNode[];
  /** Product of constant factors passed (Mul by c, Div by c); null when a non-constant scalar scale was passed. */
  scale: number | null;
  scaleNodes: string[];
  /** The head-split Reshape (first one, from the core, that changes the last dim). */
  split: { node: OnnxNode; inShape: Dim[] | null; outShape: Dim[] | null; frac: number } | null;
  /** Grouped-query repeat (Unsqueeze → Expand → Reshape, or Tile) of key/value heads. */
  repeat: { node: OnnxNode; kvHeads: Dim; nRep: Dim } | null;
  /** Part of the source's feature axis this operand uses (packed QKV), as fractions. */
  frac: [number, number];
  /** KV-cache concatenation passed (past tensor name). */
  past: { node: OnnxNode; past: string } | null;
  projection: ProjectionRef | null;
  /** Why the walk stopped, in words. */
  stop: string;
}

const LAYOUT_OPS = new Set(['Transpose', 'Reshape', 'Identity', 'Cast', 'Squeeze', 'Unsqueeze', 'Flatten', 'Contiguous']);

/**
 * Walks back from `t` (an operand of an attention MatMul or fused operator) through layout ops, constant scales,
 * packed-QKV picks (Slice/Split/Gather), grouped-query repeats and KV-cache Concats, to the tensor that produced
 * it, and looks for a projection there.
 */
export function traceOperand(ctx: Ctx, t: string): Trace {
  const tr: Trace = {
    start: t,
    source: t,
    path: [],
    scale: 1,
    scaleNodes: [],
    split: null,
    repeat: null,
    frac: [0, 1],
    past: null,
    projection: null,
    stop: '',
  };
  const pick = (a: number, b: number) => {
    const [lo, hi] = tr.frac;
    tr.frac = [a + lo * (b - a), a + hi * (b - a)];
  };
  let cur = t;
  for (let step = 0; step < 32; step++) {
    const p = ctx.index.producer(cur);
    if (!p) {
      tr.stop = ctx.index.isGraphInput(cur) ? `'${cur}' is a graph input` : `'${cur}' is ${tensorKind(ctx, cur)}`;
      break;
    }
    const op = p.opType;
    const inShape = shapeOf(ctx, p.inputs[0]);
    const outShape = shapeOf(ctx, cur);
    let next: string | null = null;
    if (LAYOUT_OPS.has(op) && p.domain === 'ai.onnx') {
      if (op === 'Reshape' && !tr.split) {
        const a = dimAt(inShape, -1);
        const b = dimAt(outShape, -1);
        const changes = !(a !== null && b !== null && (isNum(a) && isNum(b) ? a === b : JSON.stringify(a) === JSON.stringify(b)));
        if (changes) tr.split = { node: p, inShape, outShape, frac: tr.frac[1] - tr.frac[0] };
      }
      next = p.inputs[0];
    } else if ((op === 'Mul' || op === 'Div') && p.domain === 'ai.onnx') {
      const sides = op === 'Mul' ? [0, 1] : [0];
      for (const mine of sides) {
        const other = p.inputs[1 - mine];
        if (scalarLike(ctx, other) || constNumber(ctx, other) !== null) {
          const c = constNumber(ctx, other);
          if (c === null || tr.scale === null) tr.scale = null;
          else tr.scale *= op === 'Mul' ? c : 1 / c;
          tr.scaleNodes.push(label(p));
          next = p.inputs[mine];
          break;
        }
      }
      if (!next) tr.stop = `'${label(p)}' (${op}) multiplies by a non-constant tensor`;
    } else if (op === 'Expand' || op === 'Tile') {
      // Grouped-query repeat: [B, Hkv, S, d] → Unsqueeze(2) → Expand [B, Hkv, n, S, d] → Reshape [B, Hkv·n, S, d].
      let q = ctx.index.producer(p.inputs[0]);
      while (q && q.opType === 'Identity') q = ctx.index.producer(q.inputs[0]);
      if (op === 'Expand' && q && q.opType === 'Unsqueeze') {
        const axes = attrInts(q, 'axes') ?? (ctx.shapes.get(q.inputs[1] ?? '')?.value as number[] | undefined);
        const pre = shapeOf(ctx, q.inputs[0]);
        const u = axes && axes.length === 1 ? (axes[0] < 0 ? axes[0] + (pre?.length ?? 0) + 1 : axes[0]) : null;
        if (u !== null && u >= 1 && !tr.repeat) tr.repeat = { node: p, kvHeads: dimAt(pre, u - 1), nRep: dimAt(outShape, u) };
        tr.path.push(p);
        next = q.inputs[0];
        tr.path.push(q);
        cur = next;
        continue;
      }
      if (op === 'Tile' && !tr.repeat) {
        const reps = ctx.shapes.get(p.inputs[1] ?? '')?.value;
        if (reps && inShape && reps.length === inShape.length && inShape.length >= 3) {
          const ax = inShape.length - 3;
          tr.repeat = { node: p, kvHeads: inShape[ax], nRep: reps[ax] };
        }
      }
      next = p.inputs[0];
    } else if (op === 'Slice' && inShape) {
      const axes = (p.inputs[3] ? ctx.shapes.get(p.inputs[3])?.value : attrInts(p, 'axes')) as Dim[] | undefined;
      const starts = (p.inputs[1] ? ctx.shapes.get(p.inputs[1])?.value : attrInts(p, 'starts')) as Dim[] | undefined;
      const ends = (p.inputs[2] ? ctx.shapes.get(p.inputs[2])?.value : attrInts(p, 'ends')) as Dim[] | undefined;
      const ax = axes && axes.length === 1 && isNum(axes[0]) ? (axes[0] < 0 ? axes[0] + inShape.length : axes[0]) : null;
      const D = ax !== null ? inShape[ax] : null;
      if (starts?.length === 1 && ends?.length === 1 && isNum(D) && isNum(starts[0]) && isNum(ends[0])) {
        const s = Math.max(0, starts[0] < 0 ? starts[0] + D : starts[0]);
        const e = Math.min(D, ends[0] < 0 ? ends[0] + D : ends[0]);
        pick(s / D, e / D);
        next = p.inputs[0];
      } else tr.stop = `'${label(p)}' (Slice) has bounds that are not constant`;
    } else if (op === 'Split' && inShape) {
      const ax = attrInt(p, 'axis', 0);
      const D = dimAt(inShape, ax);
      const i = p.outputs.indexOf(cur);
      const sizes = p.outputs.map((o) => dimAt(shapeOf(ctx, o), ax));
      if (isNum(D) && sizes.every(isNum)) {
        const before = (sizes as number[]).slice(0, i).reduce((a, b) => a + b, 0);
        pick(before / D, (before + (sizes[i] as number)) / D);
        next = p.inputs[0];
      } else tr.stop = `'${label(p)}' (Split) has sizes that are not known`;
    } else if (op === 'Gather' && inShape) {
      const ax = attrInt(p, 'axis', 0);
      const D = dimAt(inShape, ax);
      const c = constNumber(ctx, p.inputs[1]);
      const idxShape = shapeOf(ctx, p.inputs[1]);
      if (isNum(D) && c !== null && idxShape && idxShape.length === 0) {
        const k = c < 0 ? c + D : c;
        pick(k / D, (k + 1) / D);
        next = p.inputs[0];
      } else tr.stop = `'${label(p)}' (Gather) does not pick one constant index`;
    } else if (op === 'Concat' && p.inputs.length === 2) {
      // KV cache: Concat(past, current) along the sequence axis.
      const pastIdx = p.inputs.findIndex((i) => ctx.index.isGraphInput(i) || tensorKind(ctx, i) === 'outer-scope');
      if (pastIdx >= 0 && !tr.past) {
        tr.past = { node: p, past: p.inputs[pastIdx] };
        next = p.inputs[1 - pastIdx];
      } else tr.stop = `'${label(p)}' (Concat) joins computed tensors`;
    } else {
      tr.stop = `'${label(p)}' (${op}) produces it`;
    }
    if (!next) break;
    tr.path.push(p);
    cur = next;
  }
  tr.source = cur;
  tr.projection = findProjection(ctx, cur, 'qkv');
  if (tr.projection && (tr.frac[0] > 0 || tr.frac[1] < 1)) {
    const W = tr.projection.weight.shape?.[tr.projection.weight.headAxis];
    if (typeof W === 'number') {
      const r: [number, number] = [Math.round(tr.frac[0] * W), Math.round(tr.frac[1] * W)];
      tr.projection.weight.range = r;
      if (tr.projection.bias) tr.projection.bias.range = r;
    }
  }
  return tr;
}

/** Heads implied by a head-split Reshape: (split input width × part used) / head size. */
export function headsFromSplit(tr: Trace, headSize: number | null): number | null {
  if (!tr.split || headSize === null || headSize <= 0) return null;
  const w = dimAt(tr.split.inShape, -1);
  if (!isNum(w)) return null;
  const width = w * tr.split.frac;
  const h = width / headSize;
  return Number.isInteger(h) && h > 0 ? h : null;
}

/** Folded-batch check: the split Reshape multiplies an axis by the head count (batch → batch·H). */
export function foldsHeads(tr: Trace, heads: number): boolean {
  const s = tr.split;
  if (!s || !s.inShape || !s.outShape) return false;
  // [T, B, E] → [T, B·H, d]: some axis is multiplied by H at the same position.
  return s.outShape.some((d, i) => i < s.inShape!.length - 1 && dimDivExact(d, s.inShape![i]) === heads);
}

/**
 * From the context (per-head outputs) forward through the head-merge layout ops to the output projection:
 * the first MatMul/Gemm reading it as the left operand with a weight on the right.
 * @returns the projection and the layout nodes passed, or the reason none was found.
 */
export function findOutputProjection(ctx: Ctx, t: string): { proj: ProjectionRef | null; path: OnnxNode[]; why: string } {
  const path: OnnxNode[] = [];
  let cur = t;
  for (let step = 0; step < 8; step++) {
    const cons = ctx.index.consumers(cur);
    const mm = cons.find((c) => (c.opType === 'MatMul' || c.opType === 'Gemm') && c.inputs[0] === cur);
    if (mm) {
      const out = mm.outputs[0];
      const viaAdd = ctx.index.consumers(out).find((c) => c.opType === 'Add' && findProjection(ctx, c.outputs[0], 'output'));
      const proj = viaAdd ? findProjection(ctx, viaAdd.outputs[0], 'output') : findProjection(ctx, out, 'output');
      if (proj) return { proj, path, why: '' };
      return { proj: null, path, why: `'${label(mm)}' (${mm.opType}) reads the context but has no weight operand` };
    }
    const lay = cons.filter((c) => LAYOUT_OPS.has(c.opType));
    if (lay.length === 0) {
      if (ctx.index.isGraphOutput(cur)) return { proj: null, path, why: `the context '${cur}' is a graph output` };
      const c = cons[0];
      return { proj: null, path, why: c ? `the context goes to '${label(c)}' (${c.opType})` : 'the context is not used' };
    }
    path.push(lay[0]);
    cur = lay[0].outputs[0];
  }
  return { proj: null, path, why: 'no MatMul/Gemm within 8 layout ops of the context' };
}

/** Graph inputs a tensor is computed from (breadth-first, bounded), and whether it is constant. */
export function inputSources(ctx: Ctx, t: string, limit = 64): { inputs: string[]; constant: boolean } {
  const seen = new Set<string>();
  const inputs: string[] = [];
  const queue = [t];
  while (queue.length && seen.size < limit) {
    const x = queue.shift()!;
    if (!x || seen.has(x)) continue;
    seen.add(x);
    const k = tensorKind(ctx, x);
    if (k === 'graph-input' || k === 'outer-scope') {
      inputs.push(x);
      continue;
    }
    const p = ctx.index.producer(x);
    if (p) queue.push(...p.inputs);
  }
  return { inputs, constant: inputs.length === 0 };
}

/**
 * A mask/bias tensor applied to scores, with its head axis.
 * @param scoreRank rank of the score tensor it is broadcast against (4: [B, H, S, T]; 3: folded [B·H, S, T]).
 */
export function maskRef(ctx: Ctx, t: string, node: OnnxNode, role: MaskRef['role'], scoreRank: number | null): MaskRef {
  const s = shapeOf(ctx, t);
  // A mask whose values fold at load time depends on input shapes only (e.g. the zero bias of an expanded
  // ai.onnx Attention): it is constant, and naming the inputs it was sized from would mislead.
  const folded = ctx.shapes.get(t)?.value !== undefined;
  const src = folded ? { inputs: [], constant: true } : inputSources(ctx, t);
  let carries: boolean | null = null;
  let axis: number | null = null;
  if (s) {
    // Broadcasting aligns trailing axes: the head axis of [B, H, S, T] scores (or the folded B·H axis of
    // [B·H, S, T] scores) is axis rank-3 of the mask, when the mask has that many axes.
    const hr = s.length - 3;
    if (hr < 0 || (scoreRank !== null && scoreRank < 3)) carries = false;
    else {
      const d = s[hr];
      carries = d === 1 ? false : d === null ? null : true;
      if (carries) axis = hr;
    }
  }
  return { ...tensorRef(ctx, t), role, node: label(node), sources: src.inputs, carriesHeadAxis: carries, headAxis: axis, constant: src.constant };
}

/** Values of a constant mask when they fold (small), else null. */
export function maskValues(ctx: Ctx, t: string): number[] | null {
  const v = ctx.shapes.get(t)?.value;
  return v && v.every(isNum) ? (v as number[]) : null;
}
