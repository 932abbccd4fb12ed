/**
 * Second derivatives of the energy E(U_1) = ln det(K + T_B I) + yᵀ(K + T_B I)⁻¹y (THEORY.md section d), from
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

/**
 * (∂²E/∂U_1²)[dU] from G_M and w (see module doc).
 * @param GM [D, D] symmetric; w [D]; dU [Q, Q] symmetric; D = N0·Q.
 * @returns [Q, Q] symmetric, raw (not divided by max N).
 */
export async function energyHvpFromGram(GM: Matrix, w: Float64Array, dU: Matrix, N0: number, Q: number): Promise<Matrix> {
  const D = N0 * Q;
  if (GM.rows !== D || GM.cols !== D || w.length !== D || dU.rows !== Q) throw new Error(`energyHvpFromGram: shapes do not fit N0 = ${N0}, Q = ${Q}`);
  // X = G_M (I ⊗ dU): one [D·N0, Q] × [Q, Q] product.
  const X = (await gemm({ rows: D * N0, cols: Q, data: GM.data }, dU)).data;
  const out = zeros(Q, Q);
  // −Tr_i[X G_M]_{qr} = −Σ_i Σ_k X[(i,q),k] G_M[(i,r),k] (G_M symmetric): dot products of contiguous rows.
  const g = GM.data;
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const xr = (i * Q + q) * D;
      for (let r = 0; r < Q; r++) {
        const gr = (i * Q + r) * D;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let k = 0;
        for (; k + 3 < D; k += 4) {
          s0 += X[xr + k] * g[gr + k];
          s1 += X[xr + k + 1] * g[gr + k + 1];
          s2 += X[xr + k + 2] * g[gr + k + 2];
          s3 += X[xr + k + 3] * g[gr + k + 3];
        }
        for (; k < D; k++) s0 += X[xr + k] * g[gr + k];
        out.data[q * Q + r] -= s0 + s1 + (s2 + s3);
      }
    }
  // + Tr_i[(G_M dŨ w) wᵀ] + its transpose.
  const s = new Float64Array(D);
  for (let i = 0; i < N0; i++)
    for (let t = 0; t < Q; t++) {
      let v = 0;
      for (let u = 0; u < Q; u++) v += dU.data[t * Q + u] * w[i * Q + u];
      s[i * Q + t] = v;
    }
  const gs = new Float64Array(D);
  for (let a = 0; a < D; a++) {
    let v = 0;
    const row = a * D;
    for (let b = 0; b < D; b++) v += g[row + b] * s[b];
    gs[a] = v;
  }
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
  // T1[(i,q),(s,t)] = Σ_j G_M[(i,q),(j,s)] w_(j,t);  YY[(q,r),(s,t)] = Σ_i w_(i,r) T1[(i,q),(s,t)]
  const QQ = Q * Q;
  const T1 = new Float64Array(D * QQ);
  for (let row = 0; row < D; row++) {
    const gr = row * D;
    const dst = row * QQ;
    for (let j = 0; j < N0; j++)
      for (let s = 0; s < Q; s++) {
        const gv = G[gr + j * Q + s];
        if (gv === 0) continue;
        for (let t = 0; t < Q; t++) T1[dst + s * Q + t] += gv * w[j * Q + t];
      }
  }
  const YY = new Float64Array(QQ * QQ);
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const src = (i * Q + q) * QQ;
      for (let r = 0; r < Q; r++) {
        const wr = w[i * Q + r];
        if (wr === 0) continue;
        const dst = (q * Q + r) * QQ;
        for (let st = 0; st < QQ; st++) YY[dst + st] += wr * T1[src + st];
      }
    }
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
