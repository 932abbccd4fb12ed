/**
 * Head relevance and head silencing (docs/theory.md §g).
 */
import type { Matrix } from '../linalg/matrix';
import { clone } from '../linalg/matrix';
import { pathCount, pathHeads } from './paths';
import type { HeadScore } from '../../../shared/report';

/**
 * Head scores from |U_1|: for head h of layer l, the sum of |U_1| over the union of the rows and the
 * columns of every path through that head (rows + columns − their intersection), divided by the
 * largest score and sorted ascending (lower = less relevant). Works for any L, including L = 1
 * (row sum + column sum − diagonal), where the authors' code crashes.
 * @param U1 [H_tot, H_tot]; heads [H_1, …, H_L].
 * @returns one entry per head (layer, head 0-based), ascending by score; ties keep (layer, head) order.
 * @throws Error when every score is zero or not finite (nothing to normalize by).
 */
export function headScores(U1: Matrix, heads: number[]): HeadScore[] {
  const Q = pathCount(heads);
  if (U1.rows !== Q || U1.cols !== Q) throw new Error(`headScores: U_1 is ${U1.rows}×${U1.cols}, expected ${Q}×${Q} for heads [${heads}]`);
  const paths = Array.from({ length: Q }, (_, i) => pathHeads(i, heads));
  const raw: HeadScore[] = [];
  for (let l = 0; l < heads.length; l++)
    for (let h = 0; h < heads[l]; h++) {
      let s = 0;
      for (let i = 0; i < Q; i++) for (let j = 0; j < Q; j++) if (paths[i][l] === h || paths[j][l] === h) s += Math.abs(U1.data[i * Q + j]);
      raw.push({ layer: l, head: h, score: s });
    }
  const max = Math.max(...raw.map((r) => r.score));
  if (!Number.isFinite(max)) throw new Error('headScores: U_1 has non-finite entries (NaN or Inf); no head scores can be given');
  if (!(max > 0)) throw new Error(`headScores: the largest raw score is ${max}; U_1 has no usable entries`);
  return raw.map((r) => ({ ...r, score: r.score / max })).sort((a, b) => a.score - b.score || a.layer - b.layer || a.head - b.head);
}

/**
 * U_1 with every row and column of the paths through head (layer, head) set to zero — the theory's
 * "silencing" of a head (no re-optimization, the 1/H_tot normalization kept).
 * @param U1 [H_tot, H_tot]. @returns a new [H_tot, H_tot] matrix.
 */
export function silenceHead(U1: Matrix, heads: number[], layer: number, head: number): Matrix {
  const Q = U1.rows;
  const out = clone(U1);
  for (let i = 0; i < Q; i++) {
    if (pathHeads(i, heads)[layer] !== head) continue;
    for (let j = 0; j < Q; j++) {
      out.data[i * Q + j] = 0;
      out.data[j * Q + i] = 0;
    }
  }
  return out;
}
