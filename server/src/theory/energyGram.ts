/**
 * Second derivatives of the energy E(U_1) = ln det(K + T_B I) + yᵀ(K + T_B I)⁻¹y (docs/theory.md §d), from
 * two objects that both the sample and the feature space can produce:
 *
 *   G_M = Φᵀ M⁻¹ Φ   [D, D], M = K_U + T_B I, Φ the [P, D] path features (D = N0·Q, index (i, q)),
 *   w   = Φᵀ α       [D],    α = M⁻¹ y.
 *
 * The gradient is g = Tr_i[G_M] − Tr_i[w wᵀ] (pathAlgebra.ts). Its directional derivative along a symmetric
 * dU (dŨ = I_N0 ⊗ dU, dK = Φ dŨ Φᵀ, dG_M = −G_M dŨ G_M, dw = −G_M dŨ w) is
 *
 *   (∂²E)[dU] = Tr_i[ −G_M dŨ G_M + G_M dŨ w wᵀ + w wᵀ dŨ G_M ],
 *
 * about 3·Q·D² flops once G_M is known, against 4·P²·D for the same product through P × P matrices. The full
 * Hessian over the Q(Q+1)/2 symmetric entries (the Newton polish) is the same expression on a basis:
 * −Σ_ij G_M[(i,r),(j,s)] G_M[(i,q),(j,t)] + 2 Σ_ij w_(i,r) G_M[(i,q),(j,s)] w_(j,t).
 */
import { type Matrix, zeros } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';
import { symmetricIndex } from './hessian';
import { matVec } from './pathAlgebra';

/**
 * G_M's rows regrouped by path: Gp[q, (i, k)] = G_M[(i, q), k], [Q, N0·D]. With it the block sum of a product,
 * Σ_i Σ_k X[(i,q),k] G_M[(i,r),k], is one GEMM over the inner index (i, k), and X = G_M (I ⊗ dU) can be formed
 * directly in the same layout (`energyHvpFromGram`). Keep it with G_M: every product at that point reuses it.
 */
export function pathMajorRows(GM: Matrix, N0: number, Q: number): Float64Array {
  const D = N0 * Q;
  const out = new Float64Array(D * D);
  for (let i = 0; i < N0; i++) for (let q = 0; q < Q; q++) out.set(GM.data.subarray((i * Q + q) * D, (i * Q + q + 1) * D), (q * N0 + i) * D);
  return out;
}

/**
 * (∂²E/∂U_1²)[dU] from G_M and w (see module doc): two memory-bound GEMMs over Gp = `pathMajorRows(G_M)` (about
 * 4·Q·D² flops) and one D × D matrix–vector product.
 * @param GM [D, D] symmetric; w [D]; dU [Q, Q] symmetric; D = N0·Q; Gp `pathMajorRows(GM)` when at hand.
 * @returns [Q, Q] symmetric, raw (not divided by max N).
 */
export async function energyHvpFromGram(GM: Matrix, w: Float64Array, dU: Matrix, N0: number, Q: number, Gp?: Float64Array): Promise<Matrix> {
  const D = N0 * Q;
  if (GM.rows !== D || GM.cols !== D || w.length !== D || dU.rows !== Q) throw new Error(`energyHvpFromGram: shapes do not fit N0 = ${N0}, Q = ${Q}`);
  const G = Gp ?? pathMajorRows(GM, N0, Q);
  // Xp[q, (i, j, t)] = Σ_s G_M[(i,q),(j,s)] dU[s,t] = (G_M (I ⊗ dU))[(i,q),(j,t)]: Gp as [Q·N0·N0, Q] times dU.
  const Xp = await gemm({ rows: Q * N0 * N0, cols: Q, data: G }, dU);
  // −Tr_i[X G_M]_{qr} = −Σ_(i,k) Xp[q,(i,k)] Gp[r,(i,k)]
  const out = await gemm({ rows: Q, cols: N0 * D, data: Xp.data }, { rows: Q, cols: N0 * D, data: G }, { transB: true });
  for (let i = 0; i < Q * Q; i++) out.data[i] = -out.data[i];
  // + Tr_i[(G_M dŨ w) wᵀ] + its transpose.
  const s = new Float64Array(D);
  for (let i = 0; i < N0; i++)
    for (let t = 0; t < Q; t++) {
      let v = 0;
      for (let u = 0; u < Q; u++) v += dU.data[t * Q + u] * w[i * Q + u];
      s[i * Q + t] = v;
    }
  const gs = matVec(GM.data, D, D, s);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const a = gs[i * Q + q];
      for (let r = 0; r < Q; r++) {
        const c = a * w[i * Q + r];
        out.data[q * Q + r] += c;
        out.data[r * Q + q] += c;
      }
    }
  for (let q = 0; q < Q; q++)
    for (let r = 0; r < q; r++) {
      const v = 0.5 * (out.data[q * Q + r] + out.data[r * Q + q]);
      out.data[q * Q + r] = v;
      out.data[r * Q + q] = v;
    }
  return out;
}

/**
 * The energy Hessian w.r.t. the Q(Q+1)/2 symmetric entries of U_1 (upper triangle, row order, as
 * `symmetricIndex`), from G_M and w (see module doc): one [Q², N0²]·[N0², Q²] product for the trace term and
 * D²·Q flops for the α term.
 * @returns [p, p], p = Q(Q+1)/2, raw.
 */
export async function energyHessianFromGram(GM: Matrix, w: Float64Array, N0: number, Q: number): Promise<Matrix> {
  const D = N0 * Q;
  const G = GM.data;
  // Ĝ[(i,j),(a,b)] = G_M[(i,a),(j,b)]
  const Gh = new Float64Array(N0 * N0 * Q * Q);
  for (let i = 0; i < N0; i++)
    for (let a = 0; a < Q; a++) {
      const row = (i * Q + a) * D;
      for (let j = 0; j < N0; j++) {
        const dst = (i * N0 + j) * Q * Q + a * Q;
        for (let b = 0; b < Q; b++) Gh[dst + b] = G[row + j * Q + b];
      }
    }
  const GhM = { rows: N0 * N0, cols: Q * Q, data: Gh };
  const W = await gemm(GhM, GhM, { transA: true }); // W[(r,s),(q,t)] = Σ_ij Ĝ[ij,(r,s)] Ĝ[ij,(q,t)]
  // T1[(i,q),(s,t)] = Σ_j G_M[(i,q),(j,s)] w_(j,t) = Σ_j w_(j,t) G_M[(j,s),(i,q)] (G_M symmetric): one product
  // wᵀ [Q, N0] · G_M viewed as [N0, Q·D] (row j holds (s, (i, q))), giving T1t[t, (s, i, q)] without regrouping G_M
  // (the regrouped copy of G_M cost ~55 ms at D = 3200); then regrouped (Q²·D entries) to T1[i, (q, s, t)].
  const QQ = Q * Q;
  const W3 = { rows: N0, cols: Q, data: w };
  const T1t = (await gemm(W3, { rows: N0, cols: Q * D, data: G }, { transA: true })).data;
  const T1 = new Float64Array(Q * Q * D);
  for (let t = 0; t < Q; t++)
    for (let s = 0; s < Q; s++) {
      const src = (t * Q + s) * D;
      for (let i = 0; i < N0; i++) for (let q = 0; q < Q; q++) T1[i * Q * QQ + q * QQ + s * Q + t] = T1t[src + i * Q + q];
    }
  // YY[(q,r),(s,t)] = Σ_i w_(i,r) T1[(i,q),(s,t)]: wᵀ [Q, N0] · T1 as [N0, Q³] → YYr[r, (q,s,t)]
  const YYr = (await gemm(W3, { rows: N0, cols: Q * QQ, data: T1 }, { transA: true })).data;
  const YY = new Float64Array(QQ * QQ);
  for (let r = 0; r < Q; r++) for (let q = 0; q < Q; q++) YY.set(YYr.subarray(r * Q * QQ + q * QQ, r * Q * QQ + (q + 1) * QQ), (q * Q + r) * QQ);
  const idx = symmetricIndex(Q);
  const p = (Q * (Q + 1)) / 2;
  const H = zeros(p, p);
  for (let q = 0; q < Q; q++)
    for (let r = 0; r < Q; r++) {
      const a = idx[q * Q + r];
      for (let s = 0; s < Q; s++)
        for (let t = 0; t < Q; t++) {
          const b = idx[s * Q + t];
          H.data[a * p + b] += -W.data[(r * Q + s) * QQ + q * Q + t] + 2 * YY[(q * Q + r) * QQ + s * Q + t];
        }
    }
  return H;
}
