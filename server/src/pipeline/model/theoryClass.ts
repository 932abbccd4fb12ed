/**
 * Relating a model to the theory's network class (docs/theory.md §a): where the theory's input x enters the
 * first attention block, which query token(s) the output reads, whether the model *is* in the class (attention
 * computed from x alone, a linear value path of value and output projections from block to block without
 * residual, normalization, nonlinearity or bias, and a linear readout of one token or the token mean), and, when
 * it is, the value weights of every head in the theory's parametrization (V^l_h = √(H_l N_l)·W_O,h W_V,h times the
 * value path's constant scales, a = √N_a·a_model; for summed heads W_O,h is the identity times the sum's scale), that `theory/weights.ts` turns into U (section f): for the
 * network `attention-paths train` exports they are its own V^l_h and a, so U equals its U_GD.
 *
 * Graph walks go backwards through layout ops only (Transpose, Reshape, Identity, Cast, Dropout, Squeeze,
 * Unsqueeze, Flatten); the value path may also pass constant scalar scales (folded into the weights). Every
 * failed condition becomes one sentence in `reasons`.
 */
import { attrInts, label } from '../../onnx/format/graph';
import { isNum } from '../../onnx/shapes/dims';
import type { AttentionBlock, DetectionResult, ProjectionRef } from '../../onnx/detect/blocks';
import { constNumber, type Ctx, findProjection, scalarLike, shapeOf, traceOperand } from '../../onnx/detect/trace';
import { toFloat64 } from '../../onnx/format/tensor';
import type { OnnxNode } from '../../onnx/format/types';
import type { Readout } from '../../data/types';
import type { ValueWeights } from '../../theory/weights';

const LAYOUT = new Set(['Transpose', 'Reshape', 'Identity', 'Cast', 'Dropout', 'Squeeze', 'Unsqueeze', 'Flatten']);

/** Walks back from `t` through layout ops (and, with `scales`, constant scalar Mul/Div). */
export function walkBack(ctx: Ctx, t: string, scales = false): { tensor: string; path: OnnxNode[]; scale: number; stop: OnnxNode | null } {
  let cur = t;
  let scale = 1;
  const path: OnnxNode[] = [];
  for (let i = 0; i < 64; i++) {
    const p = ctx.index.producer(cur);
    if (!p) return { tensor: cur, path, scale, stop: null };
    if (LAYOUT.has(p.opType) && p.domain === 'ai.onnx') {
      path.push(p);
      cur = p.inputs[0];
      continue;
    }
    if (scales && (p.opType === 'Mul' || p.opType === 'Div')) {
      const sides = p.opType === 'Mul' ? [0, 1] : [0];
      const mine = sides.find((s) => scalarLike(ctx, p.inputs[1 - s]) && constNumber(ctx, p.inputs[1 - s]) !== null);
      if (mine !== undefined) {
        const c = constNumber(ctx, p.inputs[1 - mine])!;
        scale *= p.opType === 'Mul' ? c : 1 / c;
        path.push(p);
        cur = p.inputs[mine];
        continue;
      }
    }
    return { tensor: cur, path, scale, stop: p };
  }
  return { tensor: cur, path, scale, stop: null };
}

/** Where the theory's input x is taken from. */
export interface TheoryInput {
  /** The tensor captured as x (a graph input or an intermediate). */
  tensor: string;
  /** The linear embedding between x and the first block (the theory's V⁰), when there is one. */
  embedding: ProjectionRef | null;
  /** The tensor the first block's projections read (after the embedding and layout ops). */
  blockInput: string;
  /** Axis of `tensor` that holds the batch (from its inferred shape; 0 when it cannot be told). */
  batchAxis: number;
  /**
   * Axis of `tensor` that the first projection (the embedding, else the query projection) reads as features,
   * followed back through the Transposes between them (e.g. 1 for an input [batch, N0, T] transposed to tokens
   * as rows); null when the walk passes an op that changes the rank (then the features are taken to be last).
   */
  featureAxis: number | null;
}

/** The axis of `start`'s walked-back source that ends up as `start`'s last axis, through Transposes only. */
function featureAxisOf(ctx: Ctx, start: string, source: string): number | null {
  const w = walkBack(ctx, start);
  const r = shapeOf(ctx, start)?.length;
  if (w.tensor !== source || r === undefined) return null;
  let ax = r - 1;
  for (const n of w.path) {
    if (n.opType === 'Transpose') {
      const perm = attrInts(n, 'perm');
      ax = perm ? perm[ax] : r - 1 - ax;
    } else if (n.opType !== 'Identity' && n.opType !== 'Cast' && n.opType !== 'Dropout') return null;
  }
  return ax;
}

/** The tensor a block's query (or merged QKV) projection reads, walked back through layout ops. */
function blockInput(ctx: Ctx, b: AttentionBlock, role: 'query' | 'key' | 'value'): { tensor: string; proj: ProjectionRef | null } | null {
  const p = b.weights[role];
  if (p && p.input) return { tensor: walkBack(ctx, p.input).tensor, proj: p };
  const op = role === 'query' ? b.q : role === 'key' ? b.k : b.v;
  if (!op) return null;
  const tr = traceOperand(ctx, op.name);
  return { tensor: walkBack(ctx, tr.source).tensor, proj: null };
}

/**
 * Finds the theory's input x: the tensor feeding the first block's Q/K/V projections, walked back through
 * layout ops and at most one linear embedding (MatMul/Gemm by a constant, optional bias), which plays V⁰.
 * @throws Error when the first block has no query input to start from.
 */
export function findTheoryInput(ctx: Ctx, first: AttentionBlock): TheoryInput {
  const q = blockInput(ctx, first, 'query');
  if (!q) throw new Error(`block 0 has no query input to take the theory's input from`);
  const e = q.tensor;
  let x = e;
  const emb = findProjection(ctx, e, 'qkv');
  const embedding = emb && (emb.weight.kind === 'initializer' || emb.weight.kind === 'constant') ? emb : null;
  if (embedding) x = walkBack(ctx, embedding.input).tensor;
  const s = shapeOf(ctx, x);
  let batchAxis = 0;
  if (s) {
    const sym = s.findIndex((d) => d !== null && !isNum(d));
    if (sym >= 0) batchAxis = sym;
  }
  const start = embedding ? embedding.input : first.weights.query?.input;
  const featureAxis = start ? featureAxisOf(ctx, start, x) : null;
  return { tensor: x, embedding, blockInput: e, batchAxis, featureAxis };
}

export { detectReadout } from '../../onnx/detect/readout';

/** Size of the axis a ReduceSum readout sums over (null when unknown). */
function tokensSummed(ctx: Ctx, n: OnnxNode): number | null {
  const s = shapeOf(ctx, n.inputs[0]);
  const axes = attrInts(n, 'axes') ?? (n.inputs[1] ? (ctx.shapes.get(n.inputs[1])?.value as number[] | undefined) : undefined);
  if (!s || !axes || axes.length !== 1) return null;
  const d = s[axes[0] < 0 ? axes[0] + s.length : axes[0]];
  return isNum(d) ? d : null;
}

/** Result of checking a model against the theory's network class. */
export interface ClassCheck {
  inClass: boolean;
  /** Why it is not (one sentence each); empty when in class. */
  reasons: string[];
  /** The model's value weights in the theory's parametrization (docs/theory.md §a), when in class. */
  weights?: ValueWeights;
}

function matrixOf(ctx: Ctx, p: ProjectionRef): { data: Float64Array; rows: number; cols: number; layout: 'in,out' | 'out,in' } | null {
  const t = ctx.index.initializer(p.weight.name);
  if (!t || t.dims.length !== 2) return null;
  return { data: toFloat64(t), rows: t.dims[0], cols: t.dims[1], layout: p.weight.layout };
}

/** W[o, i] of a projection as a function (o: output feature, i: input feature). */
function entry(m: { data: Float64Array; rows: number; cols: number; layout: 'in,out' | 'out,in' }): (o: number, i: number) => number {
  return m.layout === 'in,out' ? (o, i) => m.data[i * m.cols + o] : (o, i) => m.data[o * m.cols + i];
}

function biasIsZero(ctx: Ctx, p: ProjectionRef): boolean {
  if (!p.bias) return true;
  const t = ctx.index.initializer(p.bias.name);
  if (!t) return false;
  const v = toFloat64(t);
  const [a, b] = p.bias.range ?? [0, v.length];
  for (let i = a; i < b; i++) if (v[i] !== 0) return false;
  return true;
}

/**
 * Checks the model against the theory's class and, when it is in it, extracts the effective value weights.
 * @param x where the input enters (`findTheoryInput`); `readout` the token readout found for the output.
 */
export function checkTheoryClass(ctx: Ctx, det: DetectionResult, x: TheoryInput, readout: { readout: Readout; node: string } | null): ClassCheck {
  const reasons: string[] = [];
  const blocks = det.blocks;
  const fromInput = new Set([x.tensor, x.blockInput]);
  if (x.embedding && !biasIsZero(ctx, x.embedding)) reasons.push(`the embedding '${x.embedding.weight.node}' (the theory's V⁰) adds a bias`);
  // Attention from the input; linear value path from block to block.
  let prevOut: string | null = null;
  // Constant scalar factors on each block's value path (from the previous block's output or the input).
  const valueScale = new Map<number, number>();
  for (const b of blocks) {
    const where = `block ${b.index}`;
    if (b.graph !== '') {
      reasons.push(`${where} lies in a subgraph`);
      continue;
    }
    if (b.form === 'com.microsoft.Attention') {
      reasons.push(`${where} is a com.microsoft Attention operator, whose Q, K and V come from one merged projection of the same tensor`);
    }
    for (const role of ['query', 'key'] as const) {
      const inp = blockInput(ctx, b, role);
      if (!inp || !fromInput.has(inp.tensor)) {
        reasons.push(
          `${where}'s ${role === 'query' ? 'queries' : 'keys'} are computed from '${inp?.tensor ?? '?'}', not from the input x (the theory's attention depends on x alone)`,
        );
      }
    }
    const v = b.weights.value;
    if (!v) {
      reasons.push(`${where} has no value projection in the graph`);
      continue;
    }
    if (!biasIsZero(ctx, v)) reasons.push(`${where}'s value projection adds a bias`);
    const src = walkBack(ctx, v.input, true);
    valueScale.set(b.index, src.scale);
    if (prevOut === null) {
      // The values may read x itself, the embedding the queries read too, or a linear embedding of x on the value
      // path only (the theory's own network: attention from the raw x, values from V⁰x, as `train` exports it).
      const valueEmb = fromInput.has(src.tensor) || x.embedding ? null : findProjection(ctx, src.tensor, 'qkv');
      const viaEmb =
        !!valueEmb && (valueEmb.weight.kind === 'initializer' || valueEmb.weight.kind === 'constant') && fromInput.has(walkBack(ctx, valueEmb.input).tensor);
      if (!fromInput.has(src.tensor) && !viaEmb) reasons.push(`${where}'s values are computed from '${src.tensor}', not from the (embedded) input`);
      if (viaEmb && !biasIsZero(ctx, valueEmb!)) reasons.push(`the value embedding '${valueEmb!.weight.node}' (the theory's V⁰) adds a bias`);
    } else if (src.tensor !== prevOut) {
      const stop = src.stop ? `${src.stop.opType} '${label(src.stop)}'` : `'${src.tensor}'`;
      reasons.push(
        `${where}'s values do not come from block ${b.index - 1}'s output through linear ops: the path stops at ${stop} (residual, normalization or nonlinearity)`,
      );
    }
    const o = b.weights.output;
    if (!o) {
      if (b.headSum) {
        // Summed heads (the theory's own form): the block's output is the sum; scales before it belong to V^l_h.
        prevOut = b.headSum.output;
        continue;
      }
      reasons.push(`${where} has no output projection and does not sum its heads`);
      prevOut = null;
      continue;
    }
    if (!biasIsZero(ctx, o)) reasons.push(`${where}'s output projection adds a bias`);
    const on = ctx.graph.nodes.find((n) => label(n) === o.weight.node);
    prevOut = on ? on.outputs[0] : null;
    if (on && o.bias && o.bias.node !== o.weight.node) {
      const add = ctx.graph.nodes.find((n) => label(n) === o.bias!.node);
      if (add) prevOut = add.outputs[0];
    }
  }
  // Readout: graph output ← linear map ← token selection ← last block's output.
  const out = ctx.graph.outputs[0]?.name;
  if (!readout) reasons.push(`no token readout (first token, last token or mean over tokens) was recognized before the output`);
  let a: Float64Array | null = null;
  // Constant factors between the last block and the output (scalar scales; T for a token sum read as the mean).
  let readoutScale = 1;
  if (out && prevOut) {
    const w = walkBack(ctx, out, true);
    readoutScale *= w.scale;
    const ro = findProjection(ctx, w.tensor, 'qkv');
    if (!ro) reasons.push(`the output '${out}' is not a linear readout (MatMul/Gemm by a constant) of the tokens`);
    else {
      if (!biasIsZero(ctx, ro)) reasons.push(`the readout '${ro.weight.node}' adds a bias`);
      const m = matrixOf(ctx, ro);
      const outW = m ? (ro.weight.layout === 'in,out' ? m.cols : m.rows) : 0;
      if (!m || outW !== 1) reasons.push(`the readout '${ro.weight.node}' does not map to one output value`);
      else {
        const inW = ro.weight.layout === 'in,out' ? m.rows : m.cols;
        const e = entry(m);
        a = Float64Array.from({ length: inW }, (_, i) => e(0, i));
      }
      const sel = ctx.index.producer(walkBack(ctx, ro.input).tensor);
      if (!sel || !readout || label(sel) !== readout.node)
        reasons.push(`the readout does not read the tokens through one selection (first, last or mean) right after the last block`);
      else {
        const back = walkBack(ctx, sel.inputs[0], true);
        readoutScale *= back.scale;
        if (sel.opType === 'ReduceSum') readoutScale *= tokensSummed(ctx, sel) ?? NaN;
        if (back.tensor !== prevOut) {
          reasons.push(`the token readout '${label(sel)}' does not read the last block's output directly (something nonlinear or residual lies between)`);
        }
      }
    }
  }
  if (reasons.length) return { inClass: false, reasons };
  // Value weights in the theory's parametrization (docs/theory.md §a): the model computes
  // z^l = Σ_h c_l W_O,h W_V,h z^{l−1} A_h (c_l: scalar factors on the value path) and f = c_a a_modelᵀ r, where the
  // theory has z^l = (1/√(H_l N_l)) Σ_h V^l_h z^{l−1} A_h and f = aᵀ r/√N_a; so V^l_h = √(H_l N_l) c_l W_O,h W_V,h
  // and a = √N_a c_a a_model (query head h uses key/value head ⌊h·H_kv/H⌋).
  const V: Float64Array[][] = [];
  const widths: number[] = [];
  for (const b of blocks) {
    const H = b.queryHeads!;
    const kvH = b.kvHeads ?? H;
    const dv = b.headSizeV!;
    const vp = b.weights.value!;
    const op = b.weights.output;
    const mv = matrixOf(ctx, vp);
    const mo = op ? matrixOf(ctx, op) : null;
    if (!mv || (op && !mo)) return { inClass: false, reasons: [`block ${b.index}: the value or output weight is not a 2-D initializer`] };
    const ev = entry(mv);
    // Summed heads act as an output projection of identity blocks, scaled by the constants before the sum.
    const sumScale = b.headSum?.scale ?? 1;
    const eo = mo ? entry(mo) : (o: number, k: number) => (k % dv === o ? sumScale : 0);
    const nIn = vp.weight.layout === 'in,out' ? mv.rows : mv.cols;
    const nOut = op && mo ? (op.weight.layout === 'in,out' ? mo.cols : mo.rows) : dv;
    const vOff = vp.weight.range?.[0] ?? 0;
    widths.push(nIn);
    const c = Math.sqrt(H * nIn) * (valueScale.get(b.index) ?? 1);
    const layer: Float64Array[] = [];
    for (let h = 0; h < H; h++) {
      const kh = Math.floor((h * kvH) / H);
      const Vh = new Float64Array(nOut * nIn);
      for (let o = 0; o < nOut; o++)
        for (let i = 0; i < nIn; i++) {
          let s = 0;
          for (let j = 0; j < dv; j++) s += eo(o, h * dv + j) * ev(vOff + kh * dv + j, i);
          Vh[o * nIn + i] = c * s;
        }
      layer.push(Vh);
    }
    V.push(layer);
    if (b.index === blocks.length - 1) widths.push(nOut);
  }
  if (!a || a.length !== widths[widths.length - 1]) {
    return { inClass: false, reasons: [`the readout has ${a?.length ?? 0} inputs but the last block outputs ${widths[widths.length - 1]} features`] };
  }
  const ca = Math.sqrt(a.length) * readoutScale;
  if (!Number.isFinite(ca)) return { inClass: false, reasons: [`the token sum '${readout!.node}' runs over an axis of unknown size`] };
  return { inClass: true, reasons: [], weights: { widths, V, a: a.map((v) => v * ca) } };
}
