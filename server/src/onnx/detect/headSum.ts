/**
 * Summed heads: blocks whose heads are added together instead of concatenated and projected, as in the theory's
 * own network (docs/theory.md §a: z^l = (1/√(H_l N_l)) Σ_h V^l_h z^{l−1} A^l_h, no output projection).
 *
 * From the context (the per-head P·V products, heads on one axis) the walk goes forward through layout ops
 * (Transpose, Reshape, Identity, Cast, Unsqueeze, Squeeze) and constant scalar scales (Mul/Div) to either
 * - `ReduceSum` over exactly the head axis (any keepdims), or
 * - `Split` along the head axis into one part per head, each part (after optional Squeeze/Reshape/Identity/Cast)
 *   joined by a tree of `Add` nodes or one `Sum`.
 * Heads are followed with the head-map rules of `headMap.ts` (`stepPos`), so a head axis folded into the batch
 * (PyTorch's [batch·H, T, d]) is recognized once a Reshape unfolds it.
 */
import { attrInt, attrInts, label } from '../format/graph';
import { isNum } from '../shapes/dims';
import { type HeadPos, isExact, stepPos } from '../edit/headMap';
import { constNumber, type Ctx, scalarLike, shapeOf } from './trace';
import type { OnnxNode } from '../format/types';
import type { HeadSumRef } from '../../../../shared/model';
export type { HeadSumRef };

const LAYOUT = new Set(['Transpose', 'Reshape', 'Identity', 'Cast', 'Unsqueeze', 'Squeeze', 'Dropout']);

/** The consumers of `t` that use its values (Shape only reads its size). */
function valueConsumers(ctx: Ctx, t: string): OnnxNode[] {
  return ctx.index.consumers(t).filter((c) => c.opType !== 'Shape' && c.opType !== 'Size');
}

function reduceAxes(ctx: Ctx, n: OnnxNode): number[] | null {
  const a = attrInts(n, 'axes');
  if (a) return a;
  const v = n.inputs[1] ? ctx.shapes.get(n.inputs[1])?.value : undefined;
  return v && v.every(isNum) ? (v as number[]) : null;
}

/** True when the position holds `heads` heads of one element each, exactly filling its axis. */
function oneElementPerHead(p: HeadPos, heads: number): boolean {
  return isExact(p) && p.segments.length === 1 && p.segments[0].inner === 1 && p.segments[0].heads === heads && p.segments[0].offset === 0;
}

/** Follows a Split part through single-consumer layout ops to the tensor that enters the join. */
function partEnd(ctx: Ctx, t: string): string {
  let cur = t;
  for (let i = 0; i < 4; i++) {
    const cons = valueConsumers(ctx, cur);
    if (cons.length !== 1 || !LAYOUT.has(cons[0].opType)) return cur;
    cur = cons[0].outputs[0];
  }
  return cur;
}

/** The Add tree (or one Sum) joining exactly `parts`, each used once: its nodes and root output, or null. */
function joinTree(ctx: Ctx, parts: string[]): { joins: OnnxNode[]; root: string } | null {
  const available = new Set(parts);
  const joins: OnnxNode[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const t of [...available]) {
      for (const c of valueConsumers(ctx, t)) {
        if ((c.opType !== 'Add' && c.opType !== 'Sum') || c.domain !== 'ai.onnx' || joins.includes(c)) continue;
        if (!c.inputs.every((i) => available.has(i))) continue;
        joins.push(c);
        available.add(c.outputs[0]);
        grew = true;
      }
    }
  }
  if (joins.length === 0) return null;
  const inner = new Set(joins.flatMap((j) => j.inputs));
  const roots = [...available].filter((t) => !inner.has(t));
  if (roots.length !== 1) return null;
  // Every part and every partial sum is read by exactly one join, once.
  for (const t of available) {
    if (t === roots[0]) continue;
    const cons = valueConsumers(ctx, t);
    if (cons.length !== 1 || !joins.includes(cons[0]) || cons[0].inputs.filter((i) => i === t).length !== 1) return null;
  }
  return { joins, root: roots[0] };
}

/**
 * Finds how the heads of a block without an output projection are summed.
 * @param context the per-head context tensor; `pos` the position of its heads (one element per head).
 * @param heads the block's query-head count.
 * @returns the head sum, or null when the context does not reach one (it is then not a summed-head block).
 */
export function findHeadSum(ctx: Ctx, context: string, pos: HeadPos, heads: number): HeadSumRef | null {
  let cur = context;
  let p = pos;
  let scale = 1;
  for (let step = 0; step < 12; step++) {
    const cons = valueConsumers(ctx, cur);
    if (cons.length !== 1) return null;
    const c = cons[0];
    if (c.domain !== 'ai.onnx') return null;
    if (c.opType === 'ReduceSum') {
      const axes = reduceAxes(ctx, c);
      const r = shapeOf(ctx, cur)?.length;
      if (!axes || r === undefined || axes.length !== 1 || (axes[0] < 0 ? axes[0] + r : axes[0]) !== p.axis || !oneElementPerHead(p, heads)) return null;
      return { form: 'ReduceSum', node: label(c), input: cur, axis: p.axis, output: c.outputs[0], scale, parts: [], joins: [] };
    }
    if (c.opType === 'Split') {
      const r = shapeOf(ctx, cur)?.length ?? 0;
      const ax = attrInt(c, 'axis', 0);
      if ((ax < 0 ? ax + r : ax) !== p.axis || !oneElementPerHead(p, heads) || c.outputs.length !== heads) return null;
      const parts = c.outputs.map((o) => partEnd(ctx, o));
      const tree = joinTree(ctx, parts);
      if (!tree) return null;
      return { form: 'Split+Add', node: label(c), input: cur, axis: p.axis, output: tree.root, scale, parts, joins: tree.joins.map(label) };
    }
    if (c.opType === 'Mul' || c.opType === 'Div') {
      const other = c.inputs[c.inputs[0] === cur ? 1 : 0];
      const k = constNumber(ctx, other);
      if (k === null || !scalarLike(ctx, other) || (c.opType === 'Div' && c.inputs[0] !== cur)) return null;
      scale *= c.opType === 'Mul' ? k : 1 / k;
      p = stepPos(ctx, c, cur, c.outputs[0], p);
      cur = c.outputs[0];
      continue;
    }
    if (!LAYOUT.has(c.opType)) return null;
    try {
      p = stepPos(ctx, c, cur, c.outputs[0], p);
    } catch {
      return null;
    }
    cur = c.outputs[0];
  }
  return null;
}
