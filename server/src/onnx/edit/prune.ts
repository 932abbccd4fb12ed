/**
 * Removing attention heads from an ONNX model, and masking them (the reference a pruned model must match).
 *
 * Pruning a block keeps its other heads bit-identical: it slices the Q/K/V projection weights and biases (packed
 * in_proj columns included) and the output projection's input rows; rewrites the head split/merge Reshape
 * targets, Slice bounds and Split sizes on packed QKV, Expand targets of grouped-query repeats, and the head
 * attributes of fused operators (`num_heads`, `q_num_heads`, `kv_num_heads`, `qkv_hidden_sizes`); slices masks
 * and biases that hold a value per head (constants in place, computed ones through an inserted Gather); removes
 * grouped-query heads only by whole key/value groups; optionally rescales the remaining heads of a block by
 * √(H / (H − removed)) (docs/theory.md §g, as in the paper's GD experiment); and drops nodes left unused.
 * Masking multiplies each head's slice of the output projection's input by a factor (0 = removed), which is what
 * pruning must reproduce. Summed heads (headSum.ts) lose their Q/K/V slices and their term of the sum. The pruned
 * model's metadata carries the head map (headOrigins.ts). Layers and heads are 0-based; head numbers are query heads.
 */
import { onnx } from 'onnx-proto';
import { attrInt, label } from '../format/graph';
import { type Dim, dimEq, isNum, shapeToString } from '../shapes/dims';
import type { AttentionBlock, DetectionResult, HeadSumRef, ProjectionRef } from '../detect/blocks';
import { ModelEditor, makeTensor, rawTensor, sliceAxis, tensorElements } from './edit';
import type { NumericArray } from '../format/tensor';
import { buildHeadMap, HeadMapError, isExact, keptIndices, mainCtx, newAxisSize, type BlockHeadMap, type HeadPos, type HeadSegment } from './headMap';
import { shapeOf, type Ctx } from '../detect/trace';
import { identityOrigins, prunedOrigins, readHeadOrigins, writeHeadOrigins, type HeadOrigins } from './headOrigins';
import { DataType, type OnnxModel, type OnnxNode } from '../format/types';

/** A head to remove (0-based block and query head). */
export interface HeadRef {
  layer: number;
  head: number;
}

/**
 * Parses `L:H,L:H,…` (0-based layer and query head; ranges `L:H-H2` allowed).
 * @throws Error for malformed entries.
 */
export function parseHeadList(text: string): HeadRef[] {
  const out: HeadRef[] = [];
  for (const raw of text.split(',')) {
    const s = raw.trim();
    if (!s) continue;
    const m = /^(\d+):(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) throw new Error(`"${s}" is not a head: write LAYER:HEAD (0-based), e.g. 0:1, or a range 1:0-3`);
    const [l, a, b] = [Number(m[1]), Number(m[2]), m[3] !== undefined ? Number(m[3]) : Number(m[2])];
    if (b < a) throw new Error(`"${s}": the range ends before it starts`);
    for (let h = a; h <= b; h++) if (!out.some((x) => x.layer === l && x.head === h)) out.push({ layer: l, head: h });
  }
  if (!out.length) throw new Error('no heads given');
  return out;
}

/** What will be removed from one block. */
export interface BlockRemoval {
  block: number;
  heads: number;
  kvHeads: number;
  /** Query heads removed / kept. */
  removed: number[];
  keepQ: number[];
  /** Key/value heads kept (equal to keepQ unless grouped-query). */
  keepKV: number[];
  /** Factor applied to the kept heads (1 without rescaling). */
  scale: number;
}

/**
 * Groups the heads to remove by block and checks them: the block exists and is found in the main graph with a
 * known head count, the head exists, at least one head remains, grouped-query heads go by whole groups.
 * @throws Error with a clear reason (unknown layer or head, every head of a block, a partial key/value group).
 */
export function planRemoval(detection: DetectionResult, heads: HeadRef[], rescale = false): BlockRemoval[] {
  const byBlock = new Map<number, Set<number>>();
  const L = detection.blocks.length;
  for (const { layer, head } of heads) {
    const b = detection.blocks[layer];
    if (!b) throw new Error(`layer ${layer} does not exist: the model has ${L} attention block${L === 1 ? '' : 's'} (0-based: 0–${L - 1})`);
    const H = b.queryHeads;
    if (H === null) throw new Error(`layer ${layer}: its head count is unknown (dynamic shapes); give it with --num-heads N (or heads in the config)`);
    if (!(head >= 0 && head < H)) throw new Error(`head ${layer}:${head} does not exist: layer ${layer} has ${H} heads (0–${H - 1})`);
    const set = byBlock.get(layer) ?? new Set<number>();
    set.add(head);
    byBlock.set(layer, set);
  }
  const out: BlockRemoval[] = [];
  for (const [layer, set] of [...byBlock].sort((a, b) => a[0] - b[0])) {
    const b = detection.blocks[layer];
    const H = b.queryHeads!;
    const kvH = b.kvHeads ?? H;
    const removed = [...set].sort((x, y) => x - y);
    if (removed.length >= H) throw new Error(`layer ${layer}: removing all ${H} heads would remove the block; keep at least one head`);
    const keepQ = Array.from({ length: H }, (_, h) => h).filter((h) => !set.has(h));
    let keepKV = keepQ;
    if (kvH !== H) {
      if (H % kvH !== 0) throw new Error(`layer ${layer}: ${H} query heads do not split into ${kvH} key/value groups`);
      const g = H / kvH;
      keepKV = [];
      for (let k = 0; k < kvH; k++) {
        const members = Array.from({ length: g }, (_, i) => k * g + i);
        const gone = members.filter((h) => set.has(h));
        if (gone.length && gone.length < g) {
          throw new Error(
            `layer ${layer} is grouped-query attention (${H} query heads share ${kvH} key/value heads, ${g} per group): ` +
              `removing ${gone.map((h) => `${layer}:${h}`).join(', ')} would leave key/value head ${k} half used; remove whole groups, e.g. ${layer}:${k * g}-${k * g + g - 1}`,
          );
        }
        if (!gone.length) keepKV.push(k);
      }
    }
    out.push({ block: layer, heads: H, kvHeads: kvH, removed, keepQ, keepKV, scale: rescale ? Math.sqrt(H / (H - removed.length)) : 1 });
  }
  return out;
}

function nodeOf(ctx: Ctx, name: string): OnnxNode {
  const n = ctx.graph.nodes.find((x) => label(x) === name);
  if (!n) throw new Error(`node '${name}' not found`);
  return n;
}

/**
 * Why a block cannot be pruned (null when it can): heads fixed by graph inputs, no output projection, a KV cache,
 * weights that are not initializers, unsupported operator forms.
 */
export function pruneBlocker(b: AttentionBlock, map: BlockHeadMap | null, mapError: string | null): string | null {
  if (b.graph !== '') return `it lies in the subgraph ${b.graph}`;
  if (b.kvCache) return 'it has a key/value cache whose head axis is part of the model inputs/outputs';
  if (b.form === 'com.microsoft.Attention') {
    const w = b.weights.query;
    if (!w || w.weight.kind !== 'initializer')
      return `its merged QKV weight is ${w ? `a ${w.weight.kind} ('${w.weight.name}')` : 'missing'}, not an initializer, so its heads are fixed by the data fed to it`;
    if (w.bias && w.bias.kind !== 'initializer') return `its merged QKV bias is a ${w.bias.kind}, not an initializer`;
  }
  if (mapError) return mapError;
  if (!map) return 'its heads cannot be followed through the graph';
  const weightOk = (p: ProjectionRef | null, role: string) => {
    if (!p)
      return `its ${role} projection is not in the model (the ${role} input comes from '${map.projections.find((x) => x.role === role[0])?.source ?? '?'}'), so the head count is fixed by that tensor's shape`;
    if (p.weight.kind !== 'initializer') return `its ${role} weight '${p.weight.name}' is a ${p.weight.kind}, not an initializer`;
    if (p.bias && p.bias.kind !== 'initializer') return `its ${role} bias '${p.bias.name}' is a ${p.bias.kind}, not an initializer`;
    return null;
  };
  if (b.form !== 'com.microsoft.Attention') {
    for (const r of ['q', 'k', 'v'] as const) {
      const pr = map.projections.find((p) => p.role === r);
      if (!pr) {
        if (b.form === 'com.microsoft.GroupQueryAttention' && r !== 'q') continue; // packed into the query
        return `its ${r === 'q' ? 'query' : r === 'k' ? 'key' : 'value'} input is missing`;
      }
      const why = weightOk(pr.proj, r === 'q' ? 'query' : r === 'k' ? 'key' : 'value');
      if (why) return why;
    }
  }
  if (!map.outputNode && !map.sum) return 'it has no output projection and its heads are not summed: removing a head would change the width of its output';
  const o = b.weights.output;
  if (map.outputNode && (!o || o.weight.kind !== 'initializer'))
    return `its output projection weight is ${o ? `a ${o.weight.kind}` : 'missing'}, not an initializer`;
  if (b.form === 'com.microsoft.MultiHeadAttention' && (map.ctx.shapes.get(nodeOf(map.ctx, b.nodes.fused!).inputs[0])?.shape?.length ?? 3) !== 3) {
    return 'packed QKV/KV layouts of MultiHeadAttention are not supported';
  }
  return null;
}

/** Head maps of every main-graph block, with the reason a block cannot be mapped. */
export function headMaps(model: OnnxModel, detection: DetectionResult): { ctx: Ctx; maps: (BlockHeadMap | null)[]; errors: (string | null)[] } {
  const ctx = mainCtx(model);
  const maps: (BlockHeadMap | null)[] = [];
  const errors: (string | null)[] = [];
  for (const b of detection.blocks) {
    try {
      maps.push(buildHeadMap(ctx, b));
      errors.push(null);
    } catch (e) {
      maps.push(null);
      errors.push(e instanceof HeadMapError || e instanceof Error ? e.message : String(e));
    }
  }
  return { ctx, maps, errors };
}

/**
 * Why each block's heads cannot be removed (null where they can), checked before any other work: the pick list
 * and `prune` refuse these up front.
 */
export function pruneBlockers(model: OnnxModel, detection: DetectionResult): (string | null)[] {
  const { maps, errors } = headMaps(model, detection);
  return detection.blocks.map((b, i) => {
    if (b.queryHeads === null) return 'its head count is unknown (dynamic shapes); give it with --num-heads N (or heads in the config)';
    if (b.queryHeads < 2) return 'it has a single head, and a block keeps at least one';
    try {
      return pruneBlocker(b, maps[i], errors[i]);
    } catch (e) {
      return `its heads cannot be followed through the graph (${e instanceof Error ? e.message : String(e)})`;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Masking

/**
 * Inserts a Mul by a per-head factor before a block's output projection (in an editor copy).
 * @param factors one factor per query head (0 removes the head, 1 keeps it, s rescales it).
 * @throws Error when the block has no output projection or its input does not hold the heads on its last axis.
 */
export function insertHeadMask(ed: ModelEditor, map: BlockHeadMap, factors: number[]): void {
  if (!map.outputNode && map.sum) return insertSumMask(ed, map, map.sum, factors);
  const t = map.outputInput;
  const n = map.outputNode;
  if (!t || !n) throw new Error(`block ${map.block.index} has no output projection and its heads are not summed; its heads cannot be masked`);
  const pos = map.positions.get(t)!;
  const seg = pos.segments[0];
  if (factors.length !== seg.heads) throw new Error(`block ${map.block.index}: ${factors.length} factors for ${seg.heads} heads`);
  const size = pos.size as number;
  const m = new Float64Array(size).fill(1);
  for (let h = 0; h < seg.heads; h++) for (let i = 0; i < seg.inner; i++) m[seg.offset + h * seg.inner + i] = factors[h];
  const elem = map.ctx.shapes.get(t)?.elemType || DataType.FLOAT;
  const maskName = ed.addInitializer(`head_mask_L${map.block.index}`, makeTensor('', [size], elem, m));
  const out = ed.uniqueName(`${t}_head_masked`);
  const proto = ed.node(n.index);
  ed.insertBefore(proto, { name: `HeadMask_L${map.block.index}`, opType: 'Mul', input: [t, maskName], output: [out] });
  proto.input = (proto.input ?? []).map((x, i) => (i === 0 ? out : x));
}

/**
 * Summed heads: multiplies each head's term of the sum by its factor, with a Mul by a [H, 1, …, 1] constant on the
 * tensor entering the ReduceSum (or Split), so that a factor 0 removes the head's term and the sum's constants stay.
 */
function insertSumMask(ed: ModelEditor, map: BlockHeadMap, sum: HeadSumRef, factors: number[]): void {
  const H = map.block.queryHeads!;
  if (factors.length !== H) throw new Error(`block ${map.block.index}: ${factors.length} factors for ${H} heads`);
  const rank = shapeOf(map.ctx, sum.input)?.length;
  if (rank === undefined) throw new Error(`block ${map.block.index}: the input of ${sum.form} '${sum.node}' has an unknown rank`);
  const dims = [H, ...Array.from({ length: rank - 1 - sum.axis }, () => 1)];
  const elem = map.ctx.shapes.get(sum.input)?.elemType || DataType.FLOAT;
  const maskName = ed.addInitializer(`head_mask_L${map.block.index}`, makeTensor('', dims, elem, factors));
  const out = ed.uniqueName(`${sum.input}_head_masked`);
  const n = nodeOf(map.ctx, sum.node);
  const proto = ed.node(n.index);
  ed.insertBefore(proto, { name: `HeadMask_L${map.block.index}`, opType: 'Mul', input: [sum.input, maskName], output: [out] });
  proto.input = (proto.input ?? []).map((x, i) => (i === 0 ? out : x));
}

/**
 * A copy of the model with heads scaled by factors before their output projections (0 = removed), inlined so
 * ONNX Runtime can run it from memory.
 * @param factors block index → one factor per query head.
 */
export function maskedModel(model: OnnxModel, detection: DetectionResult, factors: Map<number, number[]>): ModelEditor {
  const { maps, errors } = headMaps(model, detection);
  const ed = new ModelEditor(model, { inlineExternal: true });
  for (const [bi, f] of factors) {
    const map = maps[bi];
    if (!map) throw new Error(`block ${bi} cannot be masked: ${errors[bi] ?? 'not found'}`);
    insertHeadMask(ed, map, f);
  }
  return ed;
}

/** Factors per block for a removal plan (0 for removed heads, the rescale factor for kept ones). */
export function maskFactors(plan: BlockRemoval[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const r of plan)
    out.set(
      r.block,
      Array.from({ length: r.heads }, (_, h) => (r.removed.includes(h) ? 0 : r.scale)),
    );
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Pruning

interface Rewriter {
  model: OnnxModel;
  ctx: Ctx;
  ed: ModelEditor;
  notes: string[];
  /** Initializers already rewritten (name → new name), so a tensor shared by q/k/v is sliced once. */
  done: Map<string, string>;
}

/** Slices an initializer along `axis` keeping `keep`, scaling kept elements of `scaleIdx` by `scale`; rewires `users`. */
function sliceInitializer(rw: Rewriter, name: string, axis: number, keep: number[], users: OnnxNode[], scale?: { idx: Set<number>; by: number }): string {
  const key = `${name}|${users
    .map((u) => u.index)
    .sort()
    .join(',')}`;
  const done = rw.done.get(key);
  if (done) return done;
  const t = rw.model.graph.initializers.get(name);
  if (!t) throw new Error(`'${name}' is not an initializer`);
  const src = tensorElements(t);
  const sliced = sliceAxis(src, t.dims, axis, keep);
  let data: NumericArray = sliced.data;
  if (scale && scale.by !== 1) {
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      if (t.dataType === DataType.FLOAT16) throw new Error(`rescaling float16 weight '${name}' is not supported`);
      throw new Error(`weight '${name}' is not floating point`);
    }
    const ax = axis < 0 ? axis + t.dims.length : axis;
    const inner = sliced.dims.slice(ax + 1).reduce((a, b) => a * b, 1);
    const n = sliced.dims[ax];
    const copy = data.slice();
    for (let i = 0; i < copy.length; i++) {
      const along = Math.floor(i / inner) % n;
      if (scale.idx.has(keep[along])) copy[i] = copy[i] * scale.by;
    }
    data = copy;
  }
  const proto = rawTensor(name, sliced.dims, t.dataType, data);
  const allUsers = rw.ctx.index.consumers(name);
  const exclusive = allUsers.every((u) => users.includes(u)) && !rw.ctx.index.isGraphOutput(name);
  let out = name;
  if (exclusive && rw.ed.graph.initializer.some((x) => x.name === name)) rw.ed.replaceInitializer(name, proto);
  else {
    out = rw.ed.addInitializer(`${name}_pruned`, proto);
    for (const u of users) {
      const p = rw.ed.node(u.index);
      p.input = (p.input ?? []).map((x) => (x === name ? out : x));
    }
  }
  rw.done.set(key, out);
  return out;
}

/** Segments of a projection weight along its head axis, from every role that reads it. */
function weightSegments(b: AttentionBlock, role: 'q' | 'k' | 'v', p: ProjectionRef): HeadSegment {
  const H = b.queryHeads!;
  const kvH = b.kvHeads ?? H;
  const heads = role === 'q' ? H : kvH;
  const inner = role === 'v' ? b.headSizeV! : b.headSizeQK!;
  return { role: role === 'q' ? 'q' : 'kv', offset: p.weight.range?.[0] ?? 0, heads, inner };
}

/** New target of a Reshape on the path. */
function reshapeTarget(rw: Rewriter, map: BlockHeadMap, n: OnnxNode, inp: string, out: string, r: BlockRemoval): number[] {
  const inS = shapeOf(rw.ctx, inp);
  const outS = shapeOf(rw.ctx, out);
  const pi = map.positions.get(inp)!;
  const po = map.positions.get(out)!;
  if (!inS || !outS) throw new Error(`Reshape '${label(n)}' has unknown shapes`);
  const allowzero = attrInt(n, 'allowzero', 0) === 1;
  let free = false;
  return outS.map((d: Dim, i: number) => {
    if (i === po.axis) {
      const ns = newAxisSize(po, r.keepQ, r.keepKV);
      if (ns !== null) return ns;
    } else {
      if (!allowzero && i < inS.length && i !== pi.axis && dimEq(d, inS[i])) return 0;
      if (isNum(d)) return d;
    }
    if (free) throw new Error(`Reshape '${label(n)}': two dimensions of ${shapeToString(outS)} are dynamic after pruning; cannot rewrite its target`);
    free = true;
    return -1;
  });
}

/** Position of the kept boundary: how many kept indices lie before `b`. */
function mapBound(keep: number[], b: number): number {
  return keep.filter((k) => k < b).length;
}

function setIntInput(rw: Rewriter, n: OnnxNode, idx: number, base: string, values: number[]): void {
  const old = n.inputs[idx];
  const et = old ? rw.ctx.shapes.get(old)?.elemType || DataType.INT64 : DataType.INT64;
  const name = rw.ed.addInitializer(`${base}_pruned`, makeTensor('', [values.length], et === DataType.INT32 ? DataType.INT32 : DataType.INT64, values));
  const p = rw.ed.node(n.index);
  const ins = [...(p.input ?? [])];
  while (ins.length <= idx) ins.push('');
  ins[idx] = name;
  p.input = ins;
}

function setIntsAttr(rw: Rewriter, n: OnnxNode, name: string, values: number[]): void {
  rw.ed.setAttribute(rw.ed.node(n.index), { name, type: onnx.AttributeProto.AttributeType.INTS, ints: values });
}

function setIntAttr(rw: Rewriter, n: OnnxNode, name: string, value: number): void {
  rw.ed.setAttribute(rw.ed.node(n.index), { name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}

/** Slices (or gathers) a per-head operand of a node. */
function sliceOperand(rw: Rewriter, n: OnnxNode, inputIndex: number, axis: number, pos: HeadPos, r: BlockRemoval, what: string): void {
  const t = n.inputs[inputIndex];
  if (!isExact(pos)) throw new Error(`${what} '${t}' holds values along a folded batch·head axis; it cannot be sliced`);
  const keep = keptIndices(pos, r.keepQ, r.keepKV);
  const init = rw.model.graph.initializers.get(t);
  if (init) {
    sliceInitializer(rw, t, axis, keep, [n]);
    rw.notes.push(`layer ${r.block}: sliced the per-head ${what} '${t}' along axis ${axis}`);
    return;
  }
  const idx = rw.ed.addInitializer(`${t}_kept_heads`, makeTensor('', [keep.length], DataType.INT64, keep));
  const out = rw.ed.uniqueName(`${t}_pruned_heads`);
  const proto = rw.ed.node(n.index);
  rw.ed.insertBefore(proto, {
    name: `GatherHeads_L${r.block}`,
    opType: 'Gather',
    input: [t, idx],
    output: [out],
    attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }],
  });
  proto.input = (proto.input ?? []).map((x, i) => (i === inputIndex ? out : x));
  rw.notes.push(`layer ${r.block}: the per-head ${what} '${t}' is computed; a Gather keeps the remaining heads`);
}

/** Fused-operator inputs that may hold a value per head (masks, attention biases), by input index; the head axis is rank − 3. */
function fusedHeadInputs(n: OnnxNode): { index: number; what: string }[] {
  if (n.domain === 'ai.onnx') return [{ index: 3, what: 'attention mask' }];
  if (n.opType === 'GroupQueryAttention') return [{ index: 10, what: 'attention bias' }];
  return [{ index: 5, what: 'attention bias' }];
}

/**
 * Summed heads after the Q/K/V slices: a ReduceSum sums whatever heads remain, so it stays as it is; a Split along
 * the head axis keeps only the remaining heads' parts, and their Add tree becomes one Sum of those parts. With
 * `rescale`, the remaining terms are multiplied by the factor before the sum.
 */
function pruneSum(rw: Rewriter, map: BlockHeadMap, sum: HeadSumRef, r: BlockRemoval): void {
  const n = nodeOf(rw.ctx, sum.node);
  const proto = rw.ed.node(n.index);
  if (r.scale !== 1) {
    const rank = shapeOf(rw.ctx, sum.input)?.length ?? 0;
    const elem = rw.ctx.shapes.get(sum.input)?.elemType || DataType.FLOAT;
    const f = rw.ed.addInitializer(
      `head_rescale_L${r.block}`,
      makeTensor(
        '',
        Array.from({ length: rank - sum.axis }, () => 1),
        elem,
        [r.scale],
      ),
    );
    const out = rw.ed.uniqueName(`${sum.input}_rescaled`);
    rw.ed.insertBefore(proto, { name: `HeadRescale_L${r.block}`, opType: 'Mul', input: [sum.input, f], output: [out] });
    proto.input = (proto.input ?? []).map((x, i) => (i === 0 ? out : x));
  }
  if (sum.form === 'ReduceSum') return;
  // Split: one output per kept head, each of size 1.
  proto.output = r.keepQ.map((h) => n.outputs[h]);
  if (rw.ctx.opset >= 18 && n.attributes.num_outputs) setIntAttr(rw, n, 'num_outputs', r.keepQ.length);
  else if (rw.ctx.opset >= 13)
    setIntInput(
      rw,
      n,
      1,
      `${label(n)}_split`,
      r.keepQ.map(() => 1),
    );
  else
    setIntsAttr(
      rw,
      n,
      'split',
      r.keepQ.map(() => 1),
    );
  // The join: one Sum over the kept parts, writing the old root, where the root's node was.
  const joins = new Set(sum.joins.map((j) => rw.ed.node(nodeOf(rw.ctx, j).index)));
  const root = [...joins].find((j) => (j.output ?? []).includes(sum.output))!;
  rw.ed.insertBefore(root, { name: `HeadSum_L${r.block}`, opType: 'Sum', input: r.keepQ.map((h) => sum.parts[h]), output: [sum.output] });
  rw.ed.graph.node = rw.ed.graph.node.filter((x) => !joins.has(x)) as typeof rw.ed.graph.node;
  rw.notes.push(`layer ${r.block}: the heads' sum now adds ${r.keepQ.length} of ${r.heads} terms`);
}

function pruneBlock(rw: Rewriter, map: BlockHeadMap, r: BlockRemoval): void {
  const b = map.block;
  const ctx = rw.ctx;
  const H = r.heads;
  // 1. Q/K/V projections (weights and biases), grouped by the tensor they live in.
  const groups = new Map<string, { axis: number; segs: HeadSegment[]; users: OnnxNode[]; size: number }>();
  const add = (name: string, axis: number, seg: HeadSegment, user: OnnxNode, size: number) => {
    const g = groups.get(name) ?? { axis, segs: [], users: [], size };
    if (!g.segs.some((s) => s.offset === seg.offset)) g.segs.push(seg);
    if (!g.users.includes(user)) g.users.push(user);
    groups.set(name, g);
  };
  if (b.form === 'com.microsoft.Attention') {
    const n = nodeOf(ctx, b.nodes.fused!);
    for (const role of ['q', 'k', 'v'] as const) {
      const p = (role === 'q' ? b.weights.query : role === 'k' ? b.weights.key : b.weights.value)!;
      const seg: HeadSegment = {
        role: role === 'q' ? 'q' : 'kv',
        offset: p.weight.range?.[0] ?? 0,
        heads: H,
        inner: role === 'v' ? b.headSizeV! : b.headSizeQK!,
      };
      const w = rw.model.graph.initializers.get(p.weight.name)!;
      add(p.weight.name, 1, seg, n, w.dims[1]);
      if (p.bias) add(p.bias.name, 0, seg, n, rw.model.graph.initializers.get(p.bias.name)!.dims[0]);
    }
  } else {
    for (const pr of map.projections) {
      const p = pr.proj!;
      if (b.form === 'com.microsoft.GroupQueryAttention' && pr.role === 'q' && !nodeOf(ctx, b.nodes.fused!).inputs[1]) {
        // Packed q|k|v from one projection.
        const d = b.headSizeQK!;
        const kvH = r.kvHeads;
        const base = p.weight.range?.[0] ?? 0;
        const segs: HeadSegment[] = [
          { role: 'q', offset: base, heads: H, inner: d },
          { role: 'kv', offset: base + H * d, heads: kvH, inner: d },
          { role: 'kv', offset: base + (H + kvH) * d, heads: kvH, inner: d },
        ];
        const wn = nodeOf(ctx, p.weight.node);
        const w = rw.model.graph.initializers.get(p.weight.name)!;
        for (const s of segs) add(p.weight.name, p.weight.headAxis, s, wn, w.dims[p.weight.headAxis]);
        if (p.bias) {
          const bt = rw.model.graph.initializers.get(p.bias.name)!;
          for (const s of segs) add(p.bias.name, bt.dims.length - 1, s, nodeOf(ctx, p.bias.node), bt.dims[bt.dims.length - 1]);
        }
        continue;
      }
      const seg = weightSegments(b, pr.role, p);
      const w = rw.model.graph.initializers.get(p.weight.name)!;
      add(p.weight.name, p.weight.headAxis, seg, nodeOf(ctx, p.weight.node), w.dims[p.weight.headAxis]);
      if (p.bias) {
        const bt = rw.model.graph.initializers.get(p.bias.name)!;
        add(p.bias.name, bt.dims.length - 1, seg, nodeOf(ctx, p.bias.node), bt.dims[bt.dims.length - 1]);
      }
    }
  }
  // A bias given to a fused MultiHeadAttention: [D + D + Dv].
  if (b.form === 'com.microsoft.MultiHeadAttention') {
    const n = nodeOf(ctx, b.nodes.fused!);
    const bias = n.inputs[3];
    if (bias) {
      const bt = rw.model.graph.initializers.get(bias);
      if (!bt) throw new Error(`layer ${r.block}: the MultiHeadAttention bias '${bias}' is not an initializer`);
      const [d, dv] = [b.headSizeQK!, b.headSizeV!];
      for (const s of [
        { role: 'q' as const, offset: 0, heads: H, inner: d },
        { role: 'kv' as const, offset: H * d, heads: H, inner: d },
        { role: 'kv' as const, offset: 2 * H * d, heads: H, inner: dv },
      ])
        add(bias, 0, s, n, bt.dims[0]);
    }
  }
  for (const [name, g] of groups) {
    const pos: HeadPos = { axis: g.axis, segments: g.segs.sort((a, c) => a.offset - c.offset), size: g.size };
    const covered = pos.segments.reduce((a, s) => Math.max(a, s.offset + s.heads * s.inner), 0);
    if (covered > g.size) throw new Error(`layer ${r.block}: '${name}' has ${g.size} entries along axis ${g.axis}, fewer than its heads need (${covered})`);
    sliceInitializer(rw, name, g.axis, keptIndices(pos, r.keepQ, r.keepKV), g.users);
  }
  // 2. Output projection: input rows (or columns of a transposed weight); rescale the kept heads. Summed heads:
  //    the removed heads' terms leave the sum (every constant of the sum stays).
  if (map.sum) pruneSum(rw, map, map.sum, r);
  else {
    const o = b.weights.output!;
    const ow = rw.model.graph.initializers.get(o.weight.name)!;
    const opos = map.positions.get(map.outputInput!)!;
    const keepO = keptIndices({ axis: o.weight.headAxis, segments: opos.segments, size: ow.dims[o.weight.headAxis] }, r.keepQ, r.keepKV);
    const scaled = new Set(keepO);
    sliceInitializer(rw, o.weight.name, o.weight.headAxis, keepO, [nodeOf(ctx, o.weight.node)], r.scale !== 1 ? { idx: scaled, by: r.scale } : undefined);
  }
  // 3. Layout nodes on the paths.
  for (const s of map.steps) {
    const n = s.node;
    const pi = map.positions.get(s.input)!;
    switch (n.opType) {
      case 'Reshape': {
        const target = reshapeTarget(rw, map, n, s.input, s.output, r);
        if (ctx.opset < 5) setIntsAttr(rw, n, 'shape', target);
        else setIntInput(rw, n, 1, `${label(n)}_shape`, target);
        break;
      }
      case 'Slice': {
        const r0 = shapeOf(ctx, s.input)?.length ?? 0;
        const old = ctx.opset < 10;
        const axesRaw = old
          ? ((n.attributes.axes?.value as number[] | undefined) ?? null)
          : n.inputs[3]
            ? ((ctx.shapes.get(n.inputs[3])?.value as number[] | undefined) ?? null)
            : null;
        const starts = (old ? n.attributes.starts?.value : ctx.shapes.get(n.inputs[1])?.value) as number[];
        const ends = (old ? n.attributes.ends?.value : ctx.shapes.get(n.inputs[2])?.value) as number[];
        const axes = (axesRaw ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + r0 : a));
        const k = axes.indexOf(pi.axis);
        if (k < 0) break;
        const keep = keptIndices(pi, r.keepQ, r.keepKV);
        const size = pi.size as number;
        const clamp = (x: number) => Math.min(Math.max(x < 0 ? x + size : x, 0), size);
        const ns = [...starts];
        const ne = [...ends];
        ns[k] = mapBound(keep, clamp(starts[k]));
        ne[k] = mapBound(keep, clamp(ends[k]));
        if (old) {
          setIntsAttr(rw, n, 'starts', ns);
          setIntsAttr(rw, n, 'ends', ne);
        } else {
          setIntInput(rw, n, 1, `${label(n)}_starts`, ns);
          setIntInput(rw, n, 2, `${label(n)}_ends`, ne);
        }
        break;
      }
      case 'Split': {
        const r0 = shapeOf(ctx, s.input)?.length ?? 0;
        const ax = attrInt(n, 'axis', 0);
        if ((ax < 0 ? ax + r0 : ax) !== pi.axis) break;
        const keep = keptIndices(pi, r.keepQ, r.keepKV);
        const sizes = n.outputs.map((x) => shapeOf(ctx, x)?.[pi.axis] as number);
        let at = 0;
        const ns = sizes.map((sz) => {
          const c = keep.filter((k) => k >= at && k < at + sz).length;
          at += sz;
          return c;
        });
        if (ctx.opset < 13) setIntsAttr(rw, n, 'split', ns);
        else {
          setIntInput(rw, n, 1, `${label(n)}_split`, ns);
          const p = rw.ed.node(n.index);
          p.attribute = (p.attribute ?? []).filter((a) => a.name !== 'num_outputs');
        }
        break;
      }
      case 'Expand': {
        const outS = shapeOf(ctx, s.output);
        const inS = shapeOf(ctx, s.input);
        const po = map.positions.get(s.output)!;
        if (!outS || !inS) throw new Error(`Expand '${label(n)}' has unknown shapes`);
        const off = outS.length - inS.length;
        const target = outS.map((d, i) => {
          if (i === po.axis) return 1;
          const di = i - off >= 0 ? inS[i - off] : 1;
          if (dimEq(d, di) || (isNum(di) && isNum(d) && d === di)) return 1;
          if (isNum(d)) return d;
          throw new Error(`Expand '${label(n)}' expands the dynamic dimension ${String(d)}; cannot rewrite its target`);
        });
        setIntInput(rw, n, 1, `${label(n)}_shape`, target);
        break;
      }
      default:
        break;
    }
  }
  // 4. Per-head masks and biases on the paths.
  for (const h of map.headOperands) sliceOperand(rw, h.node, h.inputIndex, h.axis, h.pos, r, 'operand');
  // 5. Fused operator attributes and per-head inputs.
  if (b.form !== 'unfused') {
    const n = nodeOf(ctx, b.nodes.fused!);
    const nq = r.keepQ.length;
    const nkv = r.keepKV.length;
    if (n.domain === 'ai.onnx') {
      if (n.attributes.q_num_heads) setIntAttr(rw, n, 'q_num_heads', nq);
      if (n.attributes.kv_num_heads) setIntAttr(rw, n, 'kv_num_heads', nkv);
    } else {
      setIntAttr(rw, n, 'num_heads', nq);
      if (n.opType === 'GroupQueryAttention') setIntAttr(rw, n, 'kv_num_heads', nkv);
      const sizes = n.attributes.qkv_hidden_sizes;
      if (sizes && sizes.type === 'INTS') setIntsAttr(rw, n, 'qkv_hidden_sizes', [nq * b.headSizeQK!, nq * b.headSizeQK!, nq * b.headSizeV!]);
    }
    for (const { index, what } of fusedHeadInputs(n)) {
      const t = n.inputs[index];
      if (!t) continue;
      const s = shapeOf(ctx, t);
      if (!s) throw new Error(`layer ${r.block}: the ${what} '${t}' has an unknown shape; cannot tell whether it holds a value per head`);
      if (s.length < 4 || s[s.length - 3] === 1) continue;
      const ax = s.length - 3;
      sliceOperand(rw, n, index, ax, { axis: ax, segments: [{ role: 'q', offset: 0, heads: H, inner: 1 }], size: s[ax] }, r, what);
    }
    if (n.opType === 'GroupQueryAttention' && n.inputs[11]) {
      sliceOperand(rw, n, 11, 0, { axis: 0, segments: [{ role: 'q', offset: 0, heads: H, inner: 1 }], size: H }, r, 'head sink');
    }
  }
  // Declared shapes of the path tensors are stale now.
  const stale = new Set<string>(map.positions.keys());
  rw.ed.clearValueInfo(stale);
  for (const out of rw.ed.graph.output) {
    if (stale.has(out.name ?? '') && out.type?.tensorType) out.type.tensorType.shape = null;
  }
}

/** The result of `pruneModel`. */
export interface PruneResult {
  /** The pruned model, every initializer inline. */
  editor: ModelEditor;
  plan: BlockRemoval[];
  /** Heads per block before and after. */
  before: number[];
  after: number[];
  /** Initializers that were external in the input and should stay external in the output. */
  external: Set<string>;
  /** The head map written into the pruned model's metadata (headOrigins.ts). */
  origins: HeadOrigins;
  notes: string[];
}

/**
 * Removes heads from a model (see module doc).
 * @param plan from `planRemoval`.
 * @throws Error naming the block and the reason when a block cannot be pruned (nothing is written by this call).
 */
export function pruneModel(model: OnnxModel, detection: DetectionResult, plan: BlockRemoval[]): PruneResult {
  const { ctx, maps, errors } = headMaps(model, detection);
  for (const r of plan) {
    const b = detection.blocks[r.block];
    const why = pruneBlocker(b, maps[r.block], errors[r.block]);
    if (why)
      throw new Error(
        `layer ${r.block} (${b.form}${b.nodes.fused ? ` '${b.nodes.fused}'` : b.nodes.softmax ? ` at Softmax '${b.nodes.softmax}'` : ''}) cannot be pruned: ${why}`,
      );
  }
  // Inline: the result must run in ONNX Runtime from memory (verification); `external` says what to write back out.
  const ed = new ModelEditor(model, { inlineExternal: true });
  const rw: Rewriter = { model, ctx, ed, notes: [], done: new Map() };
  for (const r of plan) pruneBlock(rw, maps[r.block]!, r);
  // The head map: the original layer/head of every remaining head, through earlier prunings too.
  const prior = readHeadOrigins(model, detection);
  if (prior.note) rw.notes.push(prior.note);
  const origins = prunedOrigins(prior.origins ?? identityOrigins(model, detection), new Map(plan.map((r) => [r.block, r.keepQ])));
  writeHeadOrigins(ed, origins);
  const removedNodes = ed.removeDeadNodes();
  if (removedNodes) rw.notes.push(`${removedNodes} node${removedNodes === 1 ? '' : 's'} left unused by the new shapes were removed`);
  const before = detection.blocks.map((b) => b.queryHeads ?? 0);
  const after = before.map((h, i) => {
    const r = plan.find((p) => p.block === i);
    return r ? r.keepQ.length : h;
  });
  const external = new Set<string>();
  const names = new Set(ed.graph.initializer.map((t) => t.name ?? ''));
  for (const n of ed.externalNames) if (names.has(n)) external.add(n);
  // Sliced copies of external tensors stay external too.
  for (const t of ed.graph.initializer) {
    const base = (t.name ?? '').replace(/_pruned(_\d+)?$/, '');
    if (t.dataLocation !== 1 && ed.externalNames.has(base)) external.add(t.name ?? '');
    if (t.dataLocation !== 1 && ed.externalNames.has(t.name ?? '')) external.add(t.name ?? '');
  }
  return { editor: ed, plan, before, after, external, origins, notes: rw.notes };
}
