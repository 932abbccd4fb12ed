/**
 * Causal masks: whether the mask applied to a block's scores lets query i see exactly the keys j ≤ i.
 *
 * Two forms are read:
 * - a mask whose values fold at load time (static shapes): its last two axes are checked directly;
 * - a mask computed at run time from a constant square buffer, as PyTorch's `masked_fill(tril[:T, :T] == 0, -inf)`
 *   exports it (GPT-2, nanoGPT): `Slice` of the buffer to the sequence length (starting at 0 on the last two axes),
 *   then elementwise ops with constant scalars (`Equal`, `Not`, `Cast`, `Sub`, `Mul`, …), then `Where` or `Add` on
 *   the scores. The buffer's [S, S] corner is run through the same elementwise ops here; cutting a square mask to
 *   its top-left T × T corner keeps it causal exactly when the whole buffer is causal.
 * Which values mean "attend" depends on how the mask is applied: added (0 attends, very negative masks),
 * multiplied (non-zero attends), or selected by `Where(c, scores, −∞)` (true attends) or `Where(c, −∞, scores)`
 * (true masks, as `masked_fill` exports it).
 */
import { attrInt, attrInts, attrTensor, label } from '../format/graph';
import { isNum } from '../shapes/dims';
import type { MaskRef } from './blocks';
import { constNumber, type Ctx, scalarLike, shapeOf } from './trace';
import { toFloat64 } from '../format/tensor';
import type { OnnxNode, OnnxTensor } from '../format/types';

/** How a mask tensor is applied to the scores. */
export interface MaskUse {
  role: MaskRef['role'];
  /** The node applying it (Add/Where/Mul). */
  node: OnnxNode;
  /** For `where`: the input index (1 or 2) of `Where` that carries the scores. */
  scoreBranch?: number;
}

/** What `causalMask` found. */
export interface CausalMask {
  /** The constant buffer the mask was computed from (its own name when it folds). */
  buffer: string;
  /** Size of the square the check ran on. */
  size: number;
  /** True when the mask was computed at run time (cut to the sequence length). */
  computed: boolean;
}

const VERY_NEGATIVE = -1e3;

/** Element test "this score is attended" for a mask's value, or null when the use is not a masking form. */
function attends(ctx: Ctx, use: MaskUse): ((v: number) => boolean) | null {
  if (use.role === 'additive') return (v) => v > VERY_NEGATIVE;
  if (use.role === 'multiplicative') return (v) => v !== 0;
  if (use.role === 'where') {
    const b = use.scoreBranch ?? 1;
    const other = constNumber(ctx, use.node.inputs[b === 1 ? 2 : 1]);
    // The other branch must mask (a very negative constant); otherwise Where is not a mask on the scores.
    if (other === null || !(other <= VERY_NEGATIVE)) return null;
    return b === 1 ? (v) => v !== 0 : (v) => v === 0;
  }
  return null;
}

/** True when `allowed(i, j)` holds exactly for j ≤ i + (T − S) on every [S, T] slice of `v` (bottom-right aligned). */
function lowerTriangular(v: ArrayLike<number>, S: number, T: number, allowed: (x: number) => boolean): boolean {
  if (S < 2 || v.length % (S * T) !== 0) return false;
  const off = T - S;
  for (let b = 0; b < v.length / (S * T); b++) {
    for (let i = 0; i < S; i++) for (let j = 0; j < T; j++) if (allowed(v[b * S * T + i * T + j]) !== j <= i + off) return false;
  }
  return true;
}

type Fn = (x: number) => number;

function tensorOf(ctx: Ctx, t: string): OnnxTensor | null {
  const init = ctx.index.initializer(t);
  if (init) return init;
  const p = ctx.index.producer(t);
  if (p && p.opType === 'Constant') return attrTensor(p, 'value') ?? null;
  return null;
}

/** The elementwise function a node applies to its path input `inp` with constant scalar operands, or null. */
function elementwise(ctx: Ctx, n: OnnxNode, inp: string): Fn | null {
  const op = n.opType;
  if (op === 'Identity') return (x) => x;
  if (op === 'Cast') return attrInt(n, 'to', 0) === 9 ? (x) => +(x !== 0) : (x) => x;
  if (op === 'Not') return (x) => +(x === 0);
  const mine = n.inputs.indexOf(inp);
  if (op === 'Where') {
    if (mine !== 0) return null;
    const [a, b] = [constNumber(ctx, n.inputs[1]), constNumber(ctx, n.inputs[2])];
    if (a === null || b === null || !scalarLike(ctx, n.inputs[1]) || !scalarLike(ctx, n.inputs[2])) return null;
    return (x) => (x !== 0 ? a : b);
  }
  if (n.inputs.length !== 2 || mine < 0) return null;
  const other = n.inputs[1 - mine];
  const c = constNumber(ctx, other);
  if (c === null || !scalarLike(ctx, other)) return null;
  const left = mine === 0;
  switch (op) {
    case 'Equal':
      return (x) => +(x === c);
    case 'Less':
      return left ? (x) => +(x < c) : (x) => +(c < x);
    case 'Greater':
      return left ? (x) => +(x > c) : (x) => +(c > x);
    case 'LessOrEqual':
      return left ? (x) => +(x <= c) : (x) => +(c <= x);
    case 'GreaterOrEqual':
      return left ? (x) => +(x >= c) : (x) => +(c >= x);
    case 'Add':
      return (x) => x + c;
    case 'Sub':
      return left ? (x) => x - c : (x) => c - x;
    case 'Mul':
      return (x) => x * c;
    case 'Div':
      return left ? (x) => x / c : (x) => c / x;
    case 'And':
      return (x) => +(x !== 0 && c !== 0);
    case 'Or':
      return (x) => +(x !== 0 || c !== 0);
    default:
      return null;
  }
}

/** True when a Slice keeps the top-left corner of the last two axes (starts 0, steps 1 there). */
function topLeftSlice(ctx: Ctx, n: OnnxNode, rank: number): boolean {
  const vals = (t: string | undefined) => (t ? (ctx.shapes.get(t)?.value ?? null) : null);
  const old = ctx.opset < 10;
  const starts = old ? attrInts(n, 'starts') : vals(n.inputs[1]);
  const axes = old ? attrInts(n, 'axes') : n.inputs[3] ? vals(n.inputs[3]) : null;
  const steps = old ? null : n.inputs[4] ? vals(n.inputs[4]) : null;
  if (!starts) return false;
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => (isNum(a) ? (a < 0 ? a + rank : a) : -1));
  for (let k = 0; k < ax.length; k++) {
    if (ax[k] < rank - 2) continue;
    if (ax[k] < 0 || starts[k] !== 0) return false;
    if (steps && steps[k] !== 1) return false;
  }
  return true;
}

/**
 * The mask's values on one [S, S] square when it is computed from a constant buffer (see module doc), or null.
 * Walks back at most 16 nodes.
 */
function bufferValues(ctx: Ctx, t: string): { values: Float64Array; size: number; buffer: string; computed: boolean } | null {
  const fns: Fn[] = [];
  let cur = t;
  let computed = false;
  for (let step = 0; step < 16; step++) {
    const buf = tensorOf(ctx, cur);
    if (buf) {
      const d = buf.dims;
      const r = d.length;
      if (r < 2 || d[r - 1] !== d[r - 2] || d.slice(0, -2).some((x) => x !== 1)) return null;
      const S = d[r - 1];
      if (S < 2 || S * S > 1 << 22) return null;
      let v: Float64Array;
      try {
        v = toFloat64(buf).slice(0, S * S);
      } catch {
        return null;
      }
      for (const f of fns.reverse()) for (let i = 0; i < v.length; i++) v[i] = f(v[i]);
      return { values: v, size: S, buffer: buf.name || cur, computed };
    }
    const p = ctx.index.producer(cur);
    if (!p) return null;
    const rank = shapeOf(ctx, cur)?.length ?? 0;
    if (p.opType === 'Slice') {
      if (rank < 2 || !topLeftSlice(ctx, p, rank)) return null;
      computed = true;
      cur = p.inputs[0];
      continue;
    }
    if (p.opType === 'Unsqueeze' || p.opType === 'Expand') {
      // Leading axes only: the last two stay the [query, key] square.
      if (p.opType === 'Unsqueeze') {
        const axes = attrInts(p, 'axes') ?? (ctx.shapes.get(p.inputs[1] ?? '')?.value as number[] | undefined);
        if (!axes || axes.some((a) => (a < 0 ? a + rank : a) >= rank - 2)) return null;
      }
      cur = p.inputs[0];
      continue;
    }
    const inp = firstPathInput(ctx, p);
    const f = elementwise(ctx, p, inp);
    if (!f) return null;
    fns.push(f);
    cur = inp;
  }
  return null;
}

/** The input of an elementwise node that is not a constant scalar (the one the mask flows through). */
function firstPathInput(ctx: Ctx, n: OnnxNode): string {
  if (n.opType === 'Where') return n.inputs[0];
  const i = n.inputs.findIndex((x) => x && !(scalarLike(ctx, x) && constNumber(ctx, x) !== null));
  return n.inputs[i < 0 ? 0 : i];
}

/**
 * Checks whether a mask applied to the scores is causal (lower triangular in [query, key]).
 * @param t the mask tensor (the Add/Mul operand, or Where's condition).
 * @returns what was found, or null when the mask is not recognizably causal.
 */
export function causalMask(ctx: Ctx, t: string, use: MaskUse): CausalMask | null {
  const allowed = attends(ctx, use);
  if (!allowed) return null;
  const folded = ctx.shapes.get(t)?.value;
  const s = shapeOf(ctx, t);
  if (folded && folded.every(isNum) && s && s.length >= 2) {
    const [S, T] = [s[s.length - 2], s[s.length - 1]];
    if (isNum(S) && isNum(T) && lowerTriangular(folded as number[], S, T, allowed)) return { buffer: t, size: S, computed: false };
    return null;
  }
  const b = bufferValues(ctx, t);
  if (!b || !lowerTriangular(b.values, b.size, b.size, allowed)) return null;
  return { buffer: b.buffer, size: b.size, computed: b.computed };
}

/** A note for `inspect` on a causal mask. */
export function causalNote(name: string, c: CausalMask, node: OnnxNode): string {
  return c.computed
    ? `the mask '${name}' (applied by ${node.opType} '${label(node)}') is causal: the lower-triangular buffer '${c.buffer}' [${c.size}, ${c.size}] cut to the sequence length`
    : `the constant mask '${name}' is causal (lower triangular)`;
}
