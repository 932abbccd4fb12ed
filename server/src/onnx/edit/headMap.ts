/**
 * Where the heads of one attention block sit in every tensor between its Q/K/V projections and its output
 * projection: the *head map* that head masking and pruning rewrite from.
 *
 * A `HeadPos` says that along `axis` a tensor holds `segments` of heads, each `heads` contiguous blocks of
 * `inner` elements starting at `offset` (packed QKV tensors hold three segments: q, k, v). When the axis is
 * longer than its segments (PyTorch's folded `batch·H` axis), the segments repeat with an outer factor.
 * Positions are propagated forward from each projection output along the layout path `traceOperand` found
 * (Transpose, Reshape, Slice/Split/Gather on packed QKV, Unsqueeze/Expand/Reshape of grouped-query repeats, scales,
 * casts), through the scores, masks and Softmax of unfused blocks, and from the context (or the fused operator's
 * output) to the output projection. Reshape is mapped exactly by row-major strides: the head factor of input
 * axis k (elements `inner × Π dims[k+1:]` apart) lands on the output axis j with Π out[j+1:] dividing that stride.
 * Anything the map cannot follow is reported with the node that broke it, so callers refuse rather than guess.
 */
import { attrInt, attrInts, GraphIndex, label } from '../format/graph';
import { type Dim, dimDivExact, dimEq, dimMul, dimProd, isNum, shapeToString } from '../shapes/dims';
import { inferShapes } from '../shapes/shapes';
import type { AttentionBlock, HeadSumRef, ProjectionRef } from '../detect/blocks';
import type { OnnxModel, OnnxNode } from '../format/types';
import { type Ctx, findOutputProjection, shapeOf, traceOperand } from '../detect/trace';

/** One run of heads along an axis. `role` says which removal set applies (query heads, or key/value heads). */
export interface HeadSegment {
  role: 'q' | 'kv';
  offset: number;
  heads: number;
  inner: number;
}

/** Heads of a tensor: axis, segments, and the axis length (symbolic for folded batch·H axes). */
export interface HeadPos {
  axis: number;
  segments: HeadSegment[];
  size: Dim;
}

/** A node on the block's paths, with the tensor it reads from the path and the one it writes. */
export interface PathStep {
  node: OnnxNode;
  input: string;
  output: string;
}

/** An operand of an elementwise node on the path that is broadcast along the head axis (a per-head mask/bias). */
export interface HeadOperand {
  node: OnnxNode;
  inputIndex: number;
  tensor: string;
  /** Axis of the operand that is aligned with the head axis. */
  axis: number;
  pos: HeadPos;
}

/** The head map of one block. */
export interface BlockHeadMap {
  block: AttentionBlock;
  ctx: Ctx;
  positions: Map<string, HeadPos>;
  /** Nodes on the paths, forward order within each path, each once. */
  steps: PathStep[];
  /** Projections found for q/k/v (null when the operand comes from elsewhere) and their output tensors. */
  projections: { role: 'q' | 'k' | 'v'; proj: ProjectionRef | null; source: string; operand: string }[];
  /** The tensor entering the output projection and its node (null when the block has none). */
  outputInput: string | null;
  outputNode: OnnxNode | null;
  /** Blocks without an output projection whose heads are summed (headSum.ts): the sum, heads one element each on its input's `axis`. */
  sum: HeadSumRef | null;
  headOperands: HeadOperand[];
}

/** Why a head map could not be built (the node where it broke, when there is one). */
export class HeadMapError extends Error {
  constructor(
    message: string,
    readonly node: string | null = null,
  ) {
    super(message);
    this.name = 'HeadMapError';
  }
}

/** A `Ctx` for the main graph of a model (shapes inferred once). */
export function mainCtx(model: OnnxModel): Ctx {
  return { model, graph: model.graph, index: new GraphIndex(model.graph), shapes: inferShapes(model.graph, model.opsets), opset: model.opsets['ai.onnx'] ?? 1 };
}

function coverage(p: HeadPos): number {
  return p.segments.reduce((a, s) => Math.max(a, s.offset + s.heads * s.inner), 0);
}

/** True when the axis holds the segments once (no folded batch factor). */
export function isExact(p: HeadPos): boolean {
  return isNum(p.size) && p.size === coverage(p);
}

/** Element indices along the head axis kept when `keepQ` query heads and `keepKV` key/value heads remain. */
export function keptIndices(p: HeadPos, keepQ: number[], keepKV: number[]): number[] {
  if (!isExact(p)) throw new HeadMapError(`the head axis has ${String(p.size)} elements, more than its heads; it cannot be sliced with constant indices`);
  const size = p.size as number;
  const inSeg = new Array<boolean>(size).fill(false);
  const keep = new Array<boolean>(size).fill(false);
  for (const s of p.segments) {
    const set = new Set(s.role === 'q' ? keepQ : keepKV);
    for (let h = 0; h < s.heads; h++)
      for (let i = 0; i < s.inner; i++) {
        const at = s.offset + h * s.inner + i;
        inSeg[at] = true;
        keep[at] = set.has(h);
      }
  }
  const out: number[] = [];
  for (let i = 0; i < size; i++) if (!inSeg[i] || keep[i]) out.push(i);
  return out;
}

/** The new length of the head axis after pruning (a number, or null when it stays symbolic). */
export function newAxisSize(p: HeadPos, keepQ: number[], keepKV: number[]): number | null {
  if (isExact(p)) return keptIndices(p, keepQ, keepKV).length;
  if (p.segments.length === 1 && isNum(p.size)) {
    const s = p.segments[0];
    const kept = (s.role === 'q' ? keepQ : keepKV).length;
    return ((p.size as number) / (s.heads * s.inner)) * kept * s.inner;
  }
  return null;
}

function product(ds: Dim[]): Dim {
  return ds.length ? dimProd(ds) : 1;
}

/** Maps a head position through a Reshape from `inS` to `outS` (row-major). */
export function reshapePos(p: HeadPos, inS: Dim[], outS: Dim[], node: string): HeadPos {
  const tail = product(inS.slice(p.axis + 1));
  const segs = p.segments;
  const first = segs[0];
  const uniform = segs.every((s) => s.heads === first.heads && s.inner === first.inner);
  const contiguous = uniform && segs.every((s, i) => s.offset === segs[0].offset + i * first.heads * first.inner);
  for (let j = outS.length - 1; j >= 0; j--) {
    const P = product(outS.slice(j + 1));
    const m = dimDivExact(dimMul(first.inner, tail), P);
    if (!isNum(m) || m < 1) continue;
    const block = m * first.heads;
    if (dimDivExact(outS[j], block) === null) continue;
    // The head factor lands on axis j with `m` elements per head. Offsets scale the same way.
    const scaled: HeadSegment[] = [];
    for (const s of segs) {
      const off = dimDivExact(dimMul(s.offset, tail), P);
      if (!isNum(off)) break;
      scaled.push({ ...s, offset: off, inner: m });
    }
    if (scaled.length === segs.length) {
      // The runs of heads span `coverage × tail` consecutive elements, repeated with outer indices; each repeat
      // must fall within one period of output axis j (outS[j] × P elements), so no head straddles two axes.
      const period = dimMul(outS[j], P);
      if (dimDivExact(period, dimMul(coverage(p), tail)) !== null) return { axis: j, segments: scaled, size: outS[j] };
    }
    if (contiguous && segs.length > 1 && dimEq(outS[j], block)) {
      // Equal q/k/v segments split off to an outer axis (ViT [B, T, 3E] → [B, T, 3, H, d]): each part has the same heads.
      return { axis: j, segments: [{ ...first, offset: 0, inner: m }], size: outS[j] };
    }
  }
  throw new HeadMapError(`Reshape '${node}' mixes the heads with other axes (${shapeToString(inS)} → ${shapeToString(outS)})`, node);
}

function normAxis(a: number, r: number): number {
  return a < 0 ? a + r : a;
}

/** Values of a small constant (folded) tensor, or null. */
export function constInts(ctx: Ctx, t: string | undefined): number[] | null {
  if (!t) return null;
  const v = ctx.shapes.get(t)?.value;
  return v && v.every(isNum) ? (v as number[]) : null;
}

/**
 * Head position of `node`'s output `out`, given the position `p` of its path input `inp`.
 * @throws HeadMapError when the op moves heads in a way this map does not follow.
 */
export function stepPos(ctx: Ctx, node: OnnxNode, inp: string, out: string, p: HeadPos): HeadPos {
  const op = node.opType;
  const inS = shapeOf(ctx, inp);
  const outS = shapeOf(ctx, out);
  const where = label(node);
  // Elementwise ops broadcast: a higher-rank operand adds leading axes.
  const sameRank = (): HeadPos => {
    const shift = outS && inS ? outS.length - inS.length : 0;
    return { ...p, axis: p.axis + shift, size: outS ? outS[p.axis + shift] : p.size };
  };
  switch (op) {
    case 'Identity':
    case 'Cast':
    case 'CastLike':
    case 'Dropout':
    case 'Softmax':
    case 'Tanh':
    case 'Contiguous':
      return { ...p };
    case 'Transpose': {
      const r = inS?.length ?? 0;
      const perm = attrInts(node, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      const axis = perm.indexOf(p.axis);
      if (axis < 0) throw new HeadMapError(`Transpose '${where}' has no perm for axis ${p.axis}`, where);
      return { ...p, axis };
    }
    case 'Reshape':
    case 'Flatten': {
      if (!inS || !outS) throw new HeadMapError(`${op} '${where}' has an unknown input or output shape`, where);
      return reshapePos(p, inS, outS, where);
    }
    case 'Unsqueeze': {
      const axes = attrInts(node, 'axes') ?? constInts(ctx, node.inputs[1]);
      if (!axes || !outS) throw new HeadMapError(`Unsqueeze '${where}' has axes that are not constant`, where);
      const r = outS.length;
      const ax = axes.map((a) => normAxis(a, r)).sort((a, b) => a - b);
      let axis = p.axis;
      for (const a of ax) if (a <= axis) axis++;
      return { ...p, axis };
    }
    case 'Squeeze': {
      const r = inS?.length ?? 0;
      let axes = attrInts(node, 'axes') ?? constInts(ctx, node.inputs[1]);
      if (!axes && inS && inS.every(isNum)) axes = inS.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (!axes) throw new HeadMapError(`Squeeze '${where}' has axes that are not constant`, where);
      const ax = axes.map((a) => normAxis(a, r));
      if (ax.includes(p.axis)) throw new HeadMapError(`Squeeze '${where}' removes the head axis`, where);
      return { ...p, axis: p.axis - ax.filter((a) => a < p.axis).length };
    }
    case 'Slice': {
      const r = inS?.length ?? 0;
      const axes = ctx.opset < 10 ? attrInts(node, 'axes') : node.inputs[3] ? constInts(ctx, node.inputs[3]) : undefined;
      const starts = ctx.opset < 10 ? attrInts(node, 'starts') : constInts(ctx, node.inputs[1]);
      const ends = ctx.opset < 10 ? attrInts(node, 'ends') : constInts(ctx, node.inputs[2]);
      if (!starts || !ends) throw new HeadMapError(`Slice '${where}' has bounds that are not constant`, where);
      const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r));
      const k = ax.indexOf(p.axis);
      if (k < 0) return { ...p, size: outS ? outS[p.axis] : p.size };
      const steps = node.inputs[4] ? constInts(ctx, node.inputs[4]) : null;
      if (steps && steps[k] !== 1) throw new HeadMapError(`Slice '${where}' steps over the head axis`, where);
      if (!isExact(p)) throw new HeadMapError(`Slice '${where}' cuts a folded head axis`, where);
      const size = p.size as number;
      const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + size : x, 0), size);
      const [s, e] = [clamp(starts[k]), clamp(ends[k])];
      const segs = p.segments.filter((g) => g.offset >= s && g.offset + g.heads * g.inner <= e).map((g) => ({ ...g, offset: g.offset - s }));
      const partial = p.segments.some((g) => g.offset < e && g.offset + g.heads * g.inner > s && !(g.offset >= s && g.offset + g.heads * g.inner <= e));
      if (partial || segs.length === 0) throw new HeadMapError(`Slice '${where}' [${s}:${e}] cuts through a run of heads`, where);
      return { axis: p.axis, segments: segs, size: e - s };
    }
    case 'Split': {
      const r = inS?.length ?? 0;
      const ax = normAxis(attrInt(node, 'axis', 0), r);
      if (ax !== p.axis) return { ...p, size: outS ? outS[p.axis] : p.size };
      if (!isExact(p)) throw new HeadMapError(`Split '${where}' cuts a folded head axis`, where);
      const i = node.outputs.indexOf(out);
      const sizes = node.outputs.map((o) => shapeOf(ctx, o)?.[ax] ?? null);
      if (!sizes.every(isNum)) throw new HeadMapError(`Split '${where}' has sizes that are not known`, where);
      const s = (sizes as number[]).slice(0, i).reduce((a, b) => a + b, 0);
      const e = s + (sizes[i] as number);
      const segs = p.segments.filter((g) => g.offset >= s && g.offset + g.heads * g.inner <= e).map((g) => ({ ...g, offset: g.offset - s }));
      if (segs.length === 0) throw new HeadMapError(`Split '${where}' cuts through a run of heads`, where);
      return { axis: p.axis, segments: segs, size: e - s };
    }
    case 'Gather': {
      const r = inS?.length ?? 0;
      const ax = normAxis(attrInt(node, 'axis', 0), r);
      if (ax === p.axis) throw new HeadMapError(`Gather '${where}' picks along the head axis`, where);
      const idxRank = shapeOf(ctx, node.inputs[1])?.length;
      if (idxRank === undefined) throw new HeadMapError(`Gather '${where}' has indices of unknown rank`, where);
      return { ...p, axis: ax < p.axis ? p.axis - 1 + idxRank : p.axis };
    }
    case 'Expand': {
      const r = outS?.length ?? inS?.length ?? 0;
      const axis = p.axis + (r - (inS?.length ?? r));
      return { ...p, axis, size: outS ? outS[axis] : p.size };
    }
    case 'Tile': {
      const reps = constInts(ctx, node.inputs[1]);
      if (!reps || reps[p.axis] !== 1) throw new HeadMapError(`Tile '${where}' repeats along the head axis`, where);
      return { ...p };
    }
    case 'Mul':
    case 'Div':
    case 'Add':
    case 'Sub':
    case 'Where':
    case 'Pow':
    case 'Max':
    case 'Min':
      return sameRank();
    default:
      throw new HeadMapError(`${op} '${where}' on the attention path is not supported by head pruning/masking`, where);
  }
}

const ELEMENTWISE = new Set(['Mul', 'Div', 'Add', 'Sub', 'Where', 'Pow', 'Max', 'Min']);

/** Nodes of `graph` on every path from tensor `from` to tensor `to` (forward order), bounded. */
function nodesBetween(ctx: Ctx, from: string, to: string): PathStep[] {
  // Ancestors of `to` within 16 steps.
  const anc = new Set<string>([to]);
  let frontier = [to];
  for (let d = 0; d < 16 && frontier.length; d++) {
    const next: string[] = [];
    for (const t of frontier) {
      const p = ctx.index.producer(t);
      if (!p) continue;
      for (const i of p.inputs)
        if (i && !anc.has(i)) {
          anc.add(i);
          next.push(i);
        }
    }
    frontier = next;
  }
  if (!anc.has(from)) throw new HeadMapError(`no path from '${from}' to '${to}'`);
  const steps: PathStep[] = [];
  let cur = from;
  for (let d = 0; d < 16 && cur !== to; d++) {
    const n = ctx.index.consumers(cur).find((c) => c.outputs.some((o) => anc.has(o)));
    if (!n) throw new HeadMapError(`the path from '${from}' to '${to}' is broken at '${cur}'`);
    const o = n.outputs.find((x) => anc.has(x))!;
    steps.push({ node: n, input: cur, output: o });
    cur = o;
  }
  if (cur !== to) throw new HeadMapError(`no path of at most 16 nodes from '${from}' to '${to}'`);
  return steps;
}

function nodeByLabel(ctx: Ctx, name: string | null): OnnxNode | null {
  if (!name) return null;
  return ctx.graph.nodes.find((n) => label(n) === name) ?? null;
}

/**
 * Builds the head map of a block.
 * @throws HeadMapError naming the node where heads could not be followed.
 */
export function buildHeadMap(ctx: Ctx, b: AttentionBlock): BlockHeadMap {
  if (b.graph !== '') throw new HeadMapError(`block ${b.index} lies in the subgraph ${b.graph}`);
  const H = b.queryHeads;
  const kvH = b.kvHeads ?? H;
  const dq = b.headSizeQK;
  const dv = b.headSizeV;
  if (!H || !kvH || !dq || !dv) throw new HeadMapError(`block ${b.index}: the head count or head sizes are unknown`);
  const positions = new Map<string, HeadPos>();
  const steps: PathStep[] = [];
  const seen = new Set<OnnxNode>();
  const headOperands: HeadOperand[] = [];
  const set = (t: string, p: HeadPos) => {
    const prev = positions.get(t);
    if (prev && (prev.axis !== p.axis || JSON.stringify(prev.segments) !== JSON.stringify(p.segments))) {
      throw new HeadMapError(`tensor '${t}' is reached with two different head layouts`);
    }
    positions.set(t, p);
  };
  const record = (s: PathStep) => {
    if (!seen.has(s.node)) {
      seen.add(s.node);
      steps.push(s);
    }
  };
  const walk = (path: PathStep[]) => {
    for (const s of path) {
      const p = positions.get(s.input);
      if (!p) throw new HeadMapError(`no head position for '${s.input}'`);
      set(s.output, stepPos(ctx, s.node, s.input, s.output, p));
      record(s);
    }
  };

  // Operands of the attention core.
  let operands: { role: 'q' | 'k' | 'v'; t: string | null }[];
  let fused: OnnxNode | null = null;
  if (b.form === 'unfused') {
    const sm = nodeByLabel(ctx, b.nodes.scoreMatMul);
    const cm = nodeByLabel(ctx, b.nodes.contextMatMul);
    if (!sm || !cm) throw new HeadMapError(`block ${b.index}: score/context MatMul not found`);
    operands = [
      { role: 'q', t: sm.inputs[0] },
      { role: 'k', t: sm.inputs[1] },
      { role: 'v', t: cm.inputs[1] },
    ];
  } else {
    fused = nodeByLabel(ctx, b.nodes.fused);
    if (!fused) throw new HeadMapError(`block ${b.index}: fused node not found`);
    operands =
      b.form === 'com.microsoft.Attention'
        ? []
        : [
            { role: 'q', t: fused.inputs[0] || null },
            { role: 'k', t: fused.inputs[1] || null },
            { role: 'v', t: fused.inputs[2] || null },
          ];
  }
  const traces = operands.filter((o) => o.t).map((o) => ({ role: o.role, operand: o.t!, tr: traceOperand(ctx, o.t!) }));
  for (const { role, tr } of traces) {
    if (!tr.projection) {
      const what = role === 'q' ? 'query' : role === 'k' ? 'key' : 'value';
      throw new HeadMapError(
        `its ${what} projection is not in the model (the ${what} input comes from '${tr.source}', ${tr.stop || 'not a projection'}), so the head count is fixed by that tensor's shape`,
      );
    }
  }
  // Initial positions at each projection output: segments from the weights' ranges (packed QKV share a source).
  const bySource = new Map<string, HeadSegment[]>();
  const sourceRank = new Map<string, number>();
  for (const { role, tr } of traces) {
    const proj = tr.projection;
    const s = shapeOf(ctx, tr.source);
    if (!s) throw new HeadMapError(`block ${b.index}: the ${role} input '${tr.source}' has an unknown shape`);
    sourceRank.set(tr.source, s.length);
    const segs = bySource.get(tr.source) ?? [];
    const packedGQA = b.form === 'com.microsoft.GroupQueryAttention' && !fused!.inputs[1] && role === 'q';
    if (packedGQA) {
      segs.push(
        { role: 'q', offset: 0, heads: H, inner: dq },
        { role: 'kv', offset: H * dq, heads: kvH, inner: dq },
        { role: 'kv', offset: (H + kvH) * dq, heads: kvH, inner: dq },
      );
    } else {
      const heads = role === 'q' ? H : kvH;
      const inner = role === 'v' ? dv : dq;
      const offset = proj?.weight.range ? proj.weight.range[0] : 0;
      if (!segs.some((g) => g.offset === offset)) segs.push({ role: role === 'q' ? 'q' : 'kv', offset, heads, inner });
    }
    bySource.set(tr.source, segs);
  }
  for (const [src, segs] of bySource) {
    const s = shapeOf(ctx, src)!;
    const axis = s.length - 1;
    set(src, { axis, segments: segs.sort((a, c) => a.offset - c.offset), size: s[axis] });
  }
  const projections: BlockHeadMap['projections'] = [];
  for (const { role, operand, tr } of traces) {
    const path = [...tr.path].reverse();
    const fwd: PathStep[] = [];
    let cur = tr.source;
    for (let i = 0; i < path.length; i++) {
      const n = path[i];
      const nextTensor = i + 1 < path.length ? path[i + 1].inputs.find((x) => n.outputs.includes(x)) : operand;
      const out = nextTensor && n.outputs.includes(nextTensor) ? nextTensor : n.outputs[0];
      if (!n.inputs.includes(cur)) throw new HeadMapError(`block ${b.index}: the ${role} path breaks at '${label(n)}'`, label(n));
      fwd.push({ node: n, input: cur, output: out });
      cur = out;
    }
    walk(fwd);
    projections.push({ role, proj: tr.projection, source: tr.source, operand });
  }
  // Per-head operands (masks, biases, scales) of elementwise nodes on the q/k/v paths.
  // (Checked below together with the score-path ones.)

  // Core and output side.
  let context: string;
  let ctxPos: HeadPos;
  if (b.form === 'unfused') {
    const sm = nodeByLabel(ctx, b.nodes.scoreMatMul)!;
    const cm = nodeByLabel(ctx, b.nodes.contextMatMul)!;
    const soft = nodeByLabel(ctx, b.nodes.softmax)!;
    const qp = positions.get(sm.inputs[0]);
    if (!qp)
      throw new HeadMapError(
        `block ${b.index}: no query projection to follow the heads from (query comes from '${traces.find((t) => t.role === 'q')?.tr.source}')`,
      );
    const rq = shapeOf(ctx, sm.inputs[0])?.length ?? 0;
    const rs = shapeOf(ctx, sm.outputs[0])?.length ?? rq;
    if (qp.axis >= rq - 2) throw new HeadMapError(`block ${b.index}: the heads of the query are on a matrix axis of the score MatMul`);
    const scorePos: HeadPos = { ...qp, axis: qp.axis + (rs - rq), size: shapeOf(ctx, sm.outputs[0])?.[qp.axis + (rs - rq)] ?? qp.size };
    set(sm.outputs[0], scorePos);
    const chain = nodesBetween(ctx, sm.outputs[0], soft.inputs[0]);
    walk(chain);
    set(soft.outputs[0], { ...positions.get(soft.inputs[0])! });
    record({ node: soft, input: soft.inputs[0], output: soft.outputs[0] });
    const probsPath = nodesBetween(ctx, soft.outputs[0], cm.inputs[0]);
    walk(probsPath);
    const pp = positions.get(cm.inputs[0])!;
    const rp = shapeOf(ctx, cm.inputs[0])?.length ?? 0;
    const rc = shapeOf(ctx, cm.outputs[0])?.length ?? rp;
    context = cm.outputs[0];
    ctxPos = { ...pp, axis: pp.axis + (rc - rp), size: shapeOf(ctx, context)?.[pp.axis + (rc - rp)] ?? pp.size };
    set(context, ctxPos);
  } else {
    context = fused!.outputs[0];
    const s = shapeOf(ctx, context);
    if (!s) throw new HeadMapError(`block ${b.index}: the operator output has an unknown shape`);
    const fourD = b.form === 'ai.onnx.Attention' && s.length === 4;
    ctxPos = fourD
      ? { axis: 1, segments: [{ role: 'q', offset: 0, heads: H, inner: 1 }], size: s[1] }
      : { axis: s.length - 1, segments: [{ role: 'q', offset: 0, heads: H, inner: dv }], size: s[s.length - 1] };
    set(context, ctxPos);
  }
  const out = findOutputProjection(ctx, context);
  let outputInput: string | null = null;
  let outputNode: OnnxNode | null = null;
  let sum: HeadSumRef | null = null;
  if (out.proj) {
    outputNode = nodeByLabel(ctx, out.proj.weight.node);
    if (!outputNode) throw new HeadMapError(`block ${b.index}: output projection node not found`);
    outputInput = outputNode.inputs[0];
    const fwd: PathStep[] = [];
    let cur = context;
    for (const n of out.path) {
      fwd.push({ node: n, input: cur, output: n.outputs[0] });
      cur = n.outputs[0];
    }
    walk(fwd);
    const op = positions.get(outputInput);
    const r = shapeOf(ctx, outputInput)?.length ?? 0;
    if (!op || op.axis !== r - 1 || op.segments.length !== 1 || op.segments[0].inner !== dv || !isExact(op)) {
      throw new HeadMapError(`block ${b.index}: the heads do not end up on the last axis of the output projection's input '${outputInput}'`);
    }
  } else if (b.headSum) {
    walk(nodesBetween(ctx, context, b.headSum.input));
    const sp = positions.get(b.headSum.input);
    const seg = sp?.segments[0];
    if (!sp || sp.axis !== b.headSum.axis || !isExact(sp) || sp.segments.length !== 1 || seg!.inner !== 1 || seg!.heads !== H) {
      throw new HeadMapError(
        `block ${b.index}: the heads do not reach the ${b.headSum.form} '${b.headSum.node}' one per element of its axis ${b.headSum.axis}`,
      );
    }
    sum = b.headSum;
  }
  // Operands of path nodes that are broadcast along the head axis.
  for (const s of steps) {
    if (!ELEMENTWISE.has(s.node.opType)) continue;
    const p = positions.get(s.output)!;
    const ro = shapeOf(ctx, s.output)?.length ?? 0;
    s.node.inputs.forEach((t, i) => {
      if (!t || t === s.input || positions.has(t)) return;
      const os = shapeOf(ctx, t);
      if (!os)
        throw new HeadMapError(
          `'${t}' (input ${i} of ${s.node.opType} '${label(s.node)}') has an unknown shape; cannot tell whether it holds a value per head`,
          label(s.node),
        );
      const ax = p.axis - (ro - os.length);
      if (ax < 0 || os[ax] === 1) return;
      if (os[ax] === null)
        throw new HeadMapError(`'${t}' (input ${i} of '${label(s.node)}') may hold a value per head (unknown size along the head axis)`, label(s.node));
      headOperands.push({ node: s.node, inputIndex: i, tensor: t, axis: ax, pos: { ...p, axis: ax, size: os[ax] } });
    });
  }
  return { block: b, ctx, positions, steps, projections, outputInput, outputNode, sum, headOperands };
}
