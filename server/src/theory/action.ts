/**
 * The action S(U_L, …, U_1) with U_a eliminated in closed form, and its exact gradient
 * (docs/theory.md §d).
 *
 *   S = N_a (U_a/σa² − ln U_a)
 *     + Σ_{l=1}^{L} N_l ( tr(U_{l+1}⁻¹ Tr_{h_l}[U_l]) / σl² − ln det U_l + H_l ln det U_{l+1} )   ("entropy")
 *     + ln det(K_{U_1} + T_B I_P) + yᵀ (K_{U_1} + T_B I_P)⁻¹ y                                    ("energy")
 *
 * with U_{L+1} ≡ U_a (a 1×1 matrix), so the l = L line reads N_L(tr U_L/(σL² U_a) − ln det U_L + H_L ln U_a).
 * Raw S; the authors' code minimizes S / max(N_l, N_a) (same minimum).
 */
import { Matrix, zeros, trace, maxAbs, symmetrizeInPlace } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';
import { NotPositiveDefiniteError, logDetFromCholesky, solveLower, spdInverse, spdInverseSync, backSolveTransposed, forwardSolve } from '../linalg/cholesky';
import { TheorySettings, closedFormUa, kronIdentity, partialTraceSlowest } from './orderParams';
import { PathFeatures, factorTrainingKernel } from './kernels';
import { NumericalError } from './errors';

export { NumericalError };

export interface EntropyResult {
  value: number;
  Ua: number;
  /** ∂S_entropy/∂U_l, U_1 first (symmetric), when asked for. */
  grads?: Matrix[];
}

/** U_l⁻¹ and ln det U_l of each level, U_1 first. */
export type OrderParameterInverses = { inv: Matrix; logDet: number }[];

/**
 * Entropy part of S and its gradient w.r.t. each U_l (U_a at its stationary point: envelope theorem).
 * @param Us [U_1, …, U_L], U_l of size [n_l, n_l].
 * @param inverses U_l⁻¹ and ln det U_l when the caller has them (`orderParameterInverses`); else computed here.
 * @throws NumericalError when some U_l is not positive definite (names l and the pivot).
 */
export function entropy(s: TheorySettings, Us: Matrix[], wantGrad: boolean, inverses?: OrderParameterInverses): EntropyResult {
  const L = s.heads.length;
  const inv: Matrix[] = [];
  const logDet: number[] = [];
  for (let l = 0; l < L; l++) {
    try {
      const r = inverses ? inverses[l] : spdInverseSync(Us[l]);
      inv.push(r.inv);
      logDet.push(r.logDet);
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) {
        throw new NumericalError(`order parameter U_${l + 1} is not positive definite (pivot ${e.pivot} = ${e.value})`);
      }
      throw e;
    }
  }
  const Ua = closedFormUa(s, trace(Us[L - 1]));
  if (!(Ua > 0)) throw new NumericalError(`U_a = ${Ua} is not positive (tr U_L = ${trace(Us[L - 1])})`);
  const Na = s.widths[L];
  const sa = s.variances[L + 1];
  let value = Na * (Ua / sa - Math.log(Ua));
  // Tr_{h_l}[U_l] for every l (for l = L this is the 1×1 trace).
  const partial: Matrix[] = [];
  for (let l = 0; l < L; l++) {
    const Nl = s.widths[l];
    const Hl = s.heads[l];
    const sl = s.variances[l + 1];
    const T = partialTraceSlowest(Us[l], Hl);
    partial.push(T);
    let trAboveInvT: number;
    let logDetAbove: number;
    if (l === L - 1) {
      trAboveInvT = T.data[0] / Ua;
      logDetAbove = Math.log(Ua);
    } else {
      const A = inv[l + 1];
      let t = 0;
      for (let i = 0; i < A.data.length; i++) t += A.data[i] * T.data[i]; // tr(A T) for symmetric A, T
      trAboveInvT = t;
      logDetAbove = logDet[l + 1];
    }
    value += Nl * (trAboveInvT / sl - logDet[l] + Hl * logDetAbove);
  }
  if (!wantGrad) return { value, Ua };
  const grads: Matrix[] = [];
  for (let l = 0; l < L; l++) {
    const Nl = s.widths[l];
    const sl = s.variances[l + 1];
    const n = Us[l].rows;
    const G = zeros(n, n);
    const J = l === L - 1 ? null : kronIdentity(s.heads[l], inv[l + 1]);
    for (let i = 0; i < n * n; i++) {
      const j = J ? J.data[i] / sl : i % (n + 1) === 0 ? 1 / (sl * Ua) : 0;
      G.data[i] = Nl * (j - inv[l].data[i]);
    }
    if (l >= 1) {
      // N_{l−1} ( H_{l−1} U_l⁻¹ − U_l⁻¹ Tr_{h_{l−1}}[U_{l−1}] U_l⁻¹ / σ_{l−1}² )
      const Nb = s.widths[l - 1];
      const Hb = s.heads[l - 1];
      const sb = s.variances[l];
      const W = mul(mul(inv[l], partial[l - 1]), inv[l]);
      for (let i = 0; i < n * n; i++) G.data[i] += Nb * (Hb * inv[l].data[i] - W.data[i] / sb);
    }
    grads.push(G);
  }
  return { value, Ua, grads };
}

/**
 * U_l⁻¹ and ln det U_l for every level, with the blocked (GEMM-speed) inverse for large U_l.
 * @throws NumericalError when some U_l is not positive definite.
 */
export async function orderParameterInverses(Us: Matrix[]): Promise<OrderParameterInverses> {
  const out: OrderParameterInverses = [];
  for (const [l, U] of Us.entries()) {
    try {
      out.push(await spdInverse(U));
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError)
        throw new NumericalError(`order parameter U_${l + 1} is not positive definite (pivot ${e.pivot} = ${e.value})`);
      throw e;
    }
  }
  return out;
}

function mul(A: Matrix, B: Matrix): Matrix {
  const n = A.rows;
  const m = B.cols;
  const k = A.cols;
  const C = zeros(n, m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const a = A.data[i * k + p];
      for (let j = 0; j < m; j++) C.data[i * m + j] += a * B.data[p * m + j];
    }
  return C;
}

export interface EnergyResult {
  value: number;
  /** ln det(K + T_B I) */
  logDet: number;
  /** yᵀ (K + T_B I)⁻¹ y */
  quad: number;
  /** α = (K + T_B I)⁻¹ y, [P] */
  alpha: Float64Array;
  /** ∂S_energy/∂U_1 = Σ_{μν} B_{μν} C(x_μ, x_ν), B = (K+T_B I)⁻¹ − ααᵀ, [Q, Q] */
  grad?: Matrix;
}

/**
 * Energy part of S on the training set and its gradient w.r.t. U_1.
 * The gradient is Σ_i Z_iᵀ Z_i − wᵀw with Z = L⁻¹ Φ (L the Cholesky factor of K + T_B I) and
 * w = Φᵀ α reshaped [N0, Q], i.e. einsum('miq,mn,nir->qr', Φ, B, Φ) without forming B.
 * @param train Φ [P, N0, Q]; y [P]; U1 [Q, Q].
 * @throws NumericalError when K + T_B I is not positive definite or a value is not finite.
 */
export async function energy(train: PathFeatures, y: Float64Array, temperature: number, U1: Matrix, wantGrad: boolean): Promise<EnergyResult> {
  const P = train.count;
  const L = await factorTrainingKernel(train, U1, temperature);
  const logDet = logDetFromCholesky(L);
  // α = L⁻ᵀ L⁻¹ y
  const z = forwardSolve(L, y);
  const alpha = backSolveTransposed(L, z);
  let quad = 0;
  for (let i = 0; i < P; i++) quad += z[i] * z[i];
  const value = logDet + quad;
  if (!Number.isFinite(value)) throw new NumericalError(`energy is not finite (ln det = ${logDet}, yᵀ(K+T_B I)⁻¹y = ${quad})`);
  if (!wantGrad) return { value, logDet, quad, alpha };
  const N0 = train.features;
  const Q = train.paths;
  const D = N0 * Q;
  const Z = await solveLower(L, { rows: P, cols: D, data: train.data });
  const E = await gemm({ rows: P * N0, cols: Q, data: Z.data }, { rows: P * N0, cols: Q, data: Z.data }, { transA: true });
  const w = new Float64Array(D);
  for (let m = 0; m < P; m++) {
    const a = alpha[m];
    const row = m * D;
    for (let j = 0; j < D; j++) w[j] += a * train.data[row + j];
  }
  for (let i = 0; i < N0; i++)
    for (let q = 0; q < Q; q++) {
      const wq = w[i * Q + q];
      for (let r = 0; r < Q; r++) E.data[q * Q + r] -= wq * w[i * Q + r];
    }
  return { value, logDet, quad, alpha, grad: E };
}

export interface ActionResult {
  /** Raw S. */
  value: number;
  entropy: number;
  energy: number;
  /** max(N_1, …, N_L, N_a) */
  maxWidth: number;
  Ua: number;
  /** ∂S/∂U_l (raw, symmetric), U_1 first. */
  grads?: Matrix[];
  /** max_l max |∂(S/max N)/∂U_l| */
  maxGradNormalized?: number;
}

/**
 * The full action at [U_1, …, U_L] and, when asked, its gradient (docs/theory.md §d), with the energy from
 * the direct sample-space `energy` (the reference the faster evaluators of energySpace.ts are tested against).
 * @throws NumericalError for a non-PD U_l or training kernel, or non-finite values.
 */
export async function action(s: TheorySettings, train: PathFeatures, y: Float64Array, Us: Matrix[], wantGrad: boolean): Promise<ActionResult> {
  return actionWithEnergy(s, { evaluate: (U1, g) => energy(train, y, s.temperature, U1, g) }, Us, wantGrad);
}

/**
 * The full action with the energy from an evaluator (energySpace.ts: sample or feature space).
 * @throws NumericalError for a non-PD U_l or training kernel, or non-finite values.
 */
export async function actionWithEnergy(
  s: TheorySettings,
  ev: { evaluate(U1: Matrix, wantGrad: boolean): Promise<{ value: number; grad?: Matrix }> },
  Us: Matrix[],
  wantGrad: boolean,
): Promise<ActionResult> {
  const ent = entropy(s, Us, wantGrad);
  const en = await ev.evaluate(Us[0], wantGrad);
  return combineAction(s, ent, en, wantGrad);
}

/**
 * S = entropy + energy and, when asked, ∂S/∂U_l (the energy only adds to U_1), from the two parts
 * (docs/theory.md §d). Takes ownership of `ent.grads`.
 */
export function combineAction(s: TheorySettings, ent: EntropyResult, en: { value: number; grad?: Matrix }, wantGrad: boolean): ActionResult {
  const maxWidth = Math.max(...s.widths);
  const out: ActionResult = { value: ent.value + en.value, entropy: ent.value, energy: en.value, maxWidth, Ua: ent.Ua };
  if (wantGrad) {
    const grads = ent.grads!;
    const G1 = grads[0];
    for (let i = 0; i < G1.data.length; i++) G1.data[i] += en.grad!.data[i];
    // Symmetrize away rounding so the reported gradient is exactly symmetric.
    for (const G of grads) symmetrizeInPlace(G);
    out.grads = grads;
    out.maxGradNormalized = Math.max(...grads.map((G) => maxAbs(G.data))) / maxWidth;
  }
  return out;
}
