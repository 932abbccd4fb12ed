/**
 * Exact Hessian–vector products of the entropy part of the action (docs/theory.md §n), for the
 * Newton–CG solver. With A_l = U_l⁻¹, T_l = Tr_{h_l}[U_l] and B_l = A_l dU_l A_l, differentiating the
 * gradient
 *   G_l = N_l (J_l − A_l) + [l ≥ 2] N_{l−1} (H_{l−1} A_l − A_l T_{l−1} A_l / σ_{l−1}²)
 * along dU = (dU_1, …, dU_L) gives
 *   dG_l = N_l (B_l + dJ_l)
 *        + [l ≥ 2] N_{l−1} (−H_{l−1} B_l + (B_l T_{l−1} A_l + A_l T_{l−1} B_l − A_l Tr_{h_{l−1}}[dU_{l−1}] A_l) / σ_{l−1}²)
 *   dJ_l = −(I_{H_l} ⊗ B_{l+1}) / σ_l²                         (l < L)
 *   dJ_L = −I · (dU_a/d tr U_L) · tr(dU_L) / (σ_L² U_a²)        (U_a at its closed-form stationary point)
 * Everything lives on the small U_l (sizes n_l = H_l···H_L), so a product costs a few n_l³ GEMMs.
 */
import { Matrix, symmetrizeInPlace, zeros, trace } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';
import { NotPositiveDefiniteError, spdInverseSync } from '../linalg/cholesky';
import { TheorySettings, closedFormUa, closedFormUaDerivative, partialTraceSlowest } from './orderParams';
import { NumericalError } from './errors';

/** The entropy's curvature at one point [U_1, …, U_L]. */
export interface EntropyCurvature {
  /** U_l⁻¹, U_1 first. */
  inverses: Matrix[];
  /**
   * ∇²S_entropy[dU] (raw, not divided by max N) for symmetric directions dUs = [dU_1, …, dU_L] (U_l's sizes).
   * @returns [dG_1, …, dG_L], symmetric.
   */
  apply(dUs: Matrix[]): Promise<Matrix[]>;
}

/**
 * Precomputes the inverses and partial traces of a point for `apply`.
 * @param Us [U_1, …, U_L], each symmetric positive definite.
 * @param inverses U_l⁻¹ when the caller has them; else computed here.
 * @throws NumericalError when some U_l is not positive definite.
 */
export function entropyCurvature(s: TheorySettings, Us: Matrix[], inverses?: Matrix[]): EntropyCurvature {
  const L = s.heads.length;
  const inv =
    inverses ??
    Us.map((U, l) => {
      try {
        return spdInverseSync(U).inv;
      } catch (e) {
        if (e instanceof NotPositiveDefiniteError)
          throw new NumericalError(`order parameter U_${l + 1} is not positive definite (pivot ${e.pivot} = ${e.value})`);
        throw e;
      }
    });
  const trUL = trace(Us[L - 1]);
  const Ua = closedFormUa(s, trUL);
  const dUa = closedFormUaDerivative(s, trUL);
  // X_l = T_{l−1} A_l for l ≥ 2 (0-based l ≥ 1); A_l T_{l−1} = X_lᵀ.
  const X: (Matrix | null)[] = [null];
  return {
    inverses: inv,
    async apply(dUs) {
      for (let l = X.length; l < L; l++) X.push(await gemm(partialTraceSlowest(Us[l - 1], s.heads[l - 1]), inv[l]));
      const B: Matrix[] = [];
      for (let l = 0; l < L; l++) B.push(await gemm(await gemm(inv[l], dUs[l]), inv[l]));
      const out: Matrix[] = [];
      for (let l = 0; l < L; l++) {
        const n = Us[l].rows;
        const Nl = s.widths[l];
        const sl = s.variances[l + 1];
        const G = zeros(n, n);
        for (let i = 0; i < n * n; i++) G.data[i] = Nl * B[l].data[i];
        if (l < L - 1) {
          // −N_l (I_{H_l} ⊗ B_{l+1}) / σ_l²
          const m = Us[l + 1].rows;
          const Bn = B[l + 1].data;
          for (let h = 0; h < s.heads[l]; h++)
            for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) G.data[(h * m + i) * n + h * m + j] -= (Nl / sl) * Bn[i * m + j];
        } else {
          const d = (-Nl * dUa * trace(dUs[l])) / (sl * Ua * Ua);
          for (let i = 0; i < n; i++) G.data[i * n + i] += d;
        }
        if (l >= 1) {
          const Nb = s.widths[l - 1];
          const Hb = s.heads[l - 1];
          const sb = s.variances[l];
          const BX = await gemm(B[l], X[l]!);
          const AdTA = await gemm(await gemm(inv[l], partialTraceSlowest(dUs[l - 1], Hb)), inv[l]);
          for (let i = 0; i < n; i++)
            for (let j = 0; j < n; j++) {
              const k = i * n + j;
              G.data[k] += Nb * (-Hb * B[l].data[k] + (BX.data[k] + BX.data[j * n + i] - AdTA.data[k]) / sb);
            }
        }
        symmetrizeInPlace(G);
        out.push(G);
      }
      return out;
    },
  };
}
