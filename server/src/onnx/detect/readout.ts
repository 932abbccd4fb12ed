/**
 * The token readout of a model (docs/theory.md §a: the network's output reads one token, or the token mean, of
 * the last layer): which selection the model's first output applies to the last block's tokens.
 *
 * Recognized, walking back from the first graph output (breadth-first, stopping at Softmax nodes so that nothing
 * inside an attention block counts):
 * - first token (CLS): `Gather(index 0)` or `Slice(0:1)` on the token axis;
 * - last token: `Gather(index −1 or T−1)` or `Slice(−1:)`;
 * - last non-padding token, from the mask: `GatherND` / `GatherElements` whose indices are computed from a graph
 *   input (the padding mask or the token ids), as Hugging Face's `hidden[arange(B), lengths − 1]` exports it;
 * - mean over tokens: `ReduceMean` on the token axis, or `ReduceSum` on it (the mean times T);
 * - mean over non-padding tokens: `ReduceSum(h · mask)` on the token axis (divided by the mask's sum), with the
 *   mask computed from a graph input.
 * The token axis of a tensor [.., tokens, .., features] is any axis that is neither the last (features) nor the
 * batch axis (the axis holding a graph input's symbolic batch dim, else axis 0), with T tokens when its size is
 * known (a symbolic or unknown size is accepted: exports with dynamic sequence length do not fold it).
 */
import { attrInt, attrInts, label } from '../format/graph';
import { dimEq, isNum, type Dim } from '../shapes/dims';
import { constNumber, type Ctx, shapeOf } from './trace';
import type { OnnxNode } from '../format/types';
import type { Readout } from '../../data/types';

/** A token readout found in a model's graph. */
export interface TokenReadout {
  readout: Readout;
  /** The selection node (Gather/Slice/ReduceMean/ReduceSum/GatherND/…). */
  node: string;
  /** How it was recognized, in words (for reports). */
  how: string;
  /** The graph input the selection is computed from (the padding mask), for last-non-padding and masked-mean readouts. */
  mask?: string;
}

/** Symbolic batch dims of the graph inputs (their first symbolic dim). */
function batchDims(ctx: Ctx): Dim[] {
  const out: Dim[] = [];
  for (const i of ctx.graph.inputs) {
    const s = shapeOf(ctx, i.name);
    const d = s?.find((x) => x !== null && !isNum(x));
    if (d !== undefined && d !== null) out.push(d);
  }
  return out;
}

/** The graph input `t` is computed from through layout, cast, comparison and arithmetic ops (no MatMul), or null. */
function maskInput(ctx: Ctx, t: string): string | null {
  const seen = new Set<string>();
  const queue = [t];
  let found: string | null = null;
  const allowed = new Set([
    'Unsqueeze',
    'Squeeze',
    'Cast',
    'Expand',
    'Reshape',
    'Identity',
    'Transpose',
    'Equal',
    'Not',
    'Sub',
    'Add',
    'Mul',
    'Div',
    'ReduceSum',
    'ArgMax',
    'ArgMin',
    'Clip',
    'Max',
    'Min',
    'Concat',
    'Range',
    'Gather',
    'Shape',
    'Less',
    'Greater',
    'Where',
    'Flatten',
    'ConstantOfShape',
    'CumSum',
    'Neg',
    'Abs',
    'Sign',
  ]);
  while (queue.length && seen.size < 64) {
    const x = queue.shift()!;
    if (!x || seen.has(x)) continue;
    seen.add(x);
    if (ctx.index.isGraphInput(x)) {
      if (found && found !== x) return null;
      found = x;
      continue;
    }
    const p = ctx.index.producer(x);
    if (!p) continue;
    if (!allowed.has(p.opType)) return null;
    // Shape only reads the size of its input: the index arithmetic does not depend on its values.
    if (p.opType === 'Shape') continue;
    queue.push(...p.inputs);
  }
  return found;
}

function axesOf(ctx: Ctx, n: OnnxNode): number[] | null {
  const a = attrInts(n, 'axes');
  if (a) return a;
  const v = n.inputs[1] ? ctx.shapes.get(n.inputs[1])?.value : undefined;
  return v && v.every(isNum) ? (v as number[]) : null;
}

/**
 * Finds the token readout of the model's first output.
 * @param T the number of tokens the last block attends over (from the capture).
 * @returns the readout, or null when none is recognized.
 */
export function detectReadout(ctx: Ctx, T: number): TokenReadout | null {
  const out = ctx.graph.outputs[0]?.name;
  if (!out) return null;
  const batch = batchDims(ctx);
  const seen = new Set<string>();
  const queue = [out];
  while (queue.length && seen.size < 400) {
    const t = queue.shift()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const p = ctx.index.producer(t);
    if (!p || p.opType === 'Softmax') continue;
    const found = selection(ctx, p, T, batch);
    if (found) return found;
    for (const i of p.inputs) if (i && !ctx.graph.initializers.has(i)) queue.push(i);
  }
  return null;
}

function selection(ctx: Ctx, p: OnnxNode, T: number, batch: Dim[]): TokenReadout | null {
  const inS = shapeOf(ctx, p.inputs[0]);
  const r = inS?.length ?? 0;
  const norm = (a: number) => (a < 0 ? a + r : a);
  let batchAxis = inS ? inS.findIndex((d) => batch.some((b) => dimEq(d, b))) : -1;
  if (batchAxis < 0) batchAxis = 0;
  const tokenAxis = (a: number) => {
    if (r < 3) return false;
    const ax = norm(a);
    if (ax < 0 || ax >= r || ax === r - 1 || ax === batchAxis) return false;
    const d = inS![ax];
    return !isNum(d) || d === T;
  };
  const where = label(p);
  switch (p.opType) {
    case 'ReduceMean':
    case 'ReduceSum': {
      const axes = axesOf(ctx, p);
      if (!axes || axes.length !== 1 || !tokenAxis(axes[0])) return null;
      // A sum of the mask itself (the count of a masked mean) reads no tokens.
      if (maskInput(ctx, p.inputs[0])) return null;
      if (p.opType === 'ReduceMean') return { readout: 'mean', node: where, how: `ReduceMean over the token axis` };
      // A sum of masked tokens (divided by the mask's sum) is the mean over non-padding tokens.
      const mul = ctx.index.producer(p.inputs[0]);
      if (mul && mul.opType === 'Mul') {
        for (const m of mul.inputs) {
          const mask = maskInput(ctx, m);
          if (mask) return { readout: 'mean', node: where, how: `ReduceSum of the tokens times the mask '${mask}' (mean over non-padding tokens)`, mask };
        }
      }
      return { readout: 'mean', node: where, how: `ReduceSum over the token axis (T times the mean)` };
    }
    case 'Gather': {
      const ax = attrInt(p, 'axis', 0);
      if (!tokenAxis(ax)) return null;
      const c = constNumber(ctx, p.inputs[1]);
      const idxRank = shapeOf(ctx, p.inputs[1])?.length;
      if (c === null || idxRank !== 0) return null;
      if (c === 0) return { readout: 'first', node: where, how: `Gather index 0 on the token axis (first token)` };
      if (c === -1 || c === T - 1) return { readout: 'last', node: where, how: `Gather index ${c} on the token axis (last token)` };
      return null;
    }
    case 'Slice': {
      const v = (i: number) => (p.inputs[i] ? (ctx.shapes.get(p.inputs[i])?.value ?? null) : null);
      const old = ctx.opset < 10;
      const starts = old ? attrInts(p, 'starts') : v(1);
      const ends = old ? attrInts(p, 'ends') : v(2);
      const axes = old ? attrInts(p, 'axes') : p.inputs[3] ? v(3) : null;
      if (!starts || !ends || starts.length !== 1 || ends.length !== 1) return null;
      const ax = axes ? axes[0] : 0;
      if (!isNum(ax) || !tokenAxis(ax) || !isNum(starts[0]) || !isNum(ends[0])) return null;
      const [s0, e0] = [starts[0], ends[0]];
      if (s0 === 0 && e0 === 1) return { readout: 'first', node: where, how: `Slice 0:1 on the token axis (first token)` };
      if ((s0 === -1 || s0 === T - 1) && (e0 >= T || e0 > 1e15)) return { readout: 'last', node: where, how: `Slice ${s0}: on the token axis (last token)` };
      return null;
    }
    case 'GatherND':
    case 'GatherElements': {
      if (r < 3) return null;
      const mask = maskInput(ctx, p.inputs[1]);
      if (!mask) return null;
      if (p.opType === 'GatherElements' && !tokenAxis(attrInt(p, 'axis', 0))) return null;
      return { readout: 'last', node: where, how: `${p.opType} at positions computed from '${mask}' (last non-padding token)`, mask };
    }
    default:
      return null;
  }
}
