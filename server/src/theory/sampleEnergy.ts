/**
 * The energy E(U_1) = ln det M + yᵀM⁻¹y, M = K_{U_1} + T_B I_P, with its gradient and its exact
 * Hessian–vector product, evaluated in sample space (P×P) — docs/theory.md §d; the product: section n.
 *
 * With Φ_i = Φ[:, i, :] ([P, Q], one slice per input feature i), K = Σ_i Φ_i U_1 Φ_iᵀ, α = M⁻¹y:
 *   ∇E      = Σ_i Φ_iᵀ (M⁻¹ − ααᵀ) Φ_i
 *   ∇²E[dU] = Σ_i Φ_iᵀ (−M⁻¹ dK M⁻¹ + v αᵀ + α vᵀ) Φ_i,   dK = Σ_i Φ_i dU Φ_iᵀ,  v = M⁻¹ dK α.
 * In terms of the Cholesky factor M = L Lᵀ and Z = L⁻¹Φ (which the gradient already needs), the
 * trace term is −Σ_i Z_iᵀ K̃ Z_i with K̃ = L⁻¹ dK L⁻ᵀ = Σ_j Z_j dU Z_jᵀ, so one product costs
 * four large GEMMs — Z·dU and the contraction back (P·N0·Q² each), K̃ and K̃·Z (P²·N0·Q each) — about
 * one gradient evaluation, and reuses the factorization and Z of the point (cached here).
 *
 * Newton–CG sees the energy only through `HvpEnergy` (a part of energySpace.ts's `EnergyEvaluator`, which
 * the feature-space evaluator, D×D through Woodbury, also provides when N0·H_tot < P); this sample-space one
 * is Newton–CG's own for its float32 products and its cache of L⁻¹Φ.
 */
import { Matrix, Matrix32, symmetrizeInPlace } from '../linalg/matrix';
import { gemm, gemm32 } from '../linalg/gemm';
import { backSolveTransposed, forwardSolve, logDetFromCholesky, solveLower } from '../linalg/cholesky';
import { PathFeatures, factorTrainingKernel } from './kernels';
import type { EnergyResult } from './action';
import { NumericalError } from './errors';

/**
 * The energy part of the action as the solver needs it (docs/theory.md §d). Implementations may cache
 * the factorization of the last point they evaluated; `hessianVectorProduct` at that point is then cheap.
 */
export interface HvpEnergy {
  /** Where the P×P (sample) or D×D (feature, D = N0·H_tot) linear algebra happens. */
  readonly space: 'sample' | 'feature';
  /**
   * E(U_1) and, when asked, ∇E = Σ_i Φ_iᵀ(M⁻¹ − ααᵀ)Φ_i [Q, Q] (raw, not divided by max N).
   * @throws NumericalError when M is not positive definite or a value is not finite.
   */
  evaluate(U1: Matrix, wantGrad: boolean): Promise<Pick<EnergyResult, 'value' | 'grad'>>;
  /**
   * ∇²E[dU_1] [Q, Q] at U_1 (raw, symmetric) for a symmetric direction dU_1 [Q, Q].
   * @throws NumericalError as `evaluate`.
   */
  hessianVectorProduct(U1: Matrix, dU1: Matrix): Promise<Matrix>;
  /**
   * Optional: the precision of `hessianVectorProduct`'s large products. 'float32' halves their cost and
   * is accurate to ~1e-6 relative, which truncated Newton tolerates; the solver sets 'float64' when that
   * rounding starts to limit its convergence. Gradients are always float64.
   */
  hessianPrecision?: 'float32' | 'float64';
}

export interface SampleEnergyOptions {
  /**
   * Precision of the Hessian–vector products' four large GEMMs. Default: 'float32' when they are large
   * (P·N0·Q·(P + Q) > 1e8 multiply-adds), else 'float64'.
   */
  hessianPrecision?: 'float32' | 'float64';
}

/** The factorization of one point, kept for Hessian–vector products there. */
interface Point {
  U1: Float64Array;
  L: Matrix;
  alpha: Float64Array;
  /** w = Φᵀα as [N0, Q] */
  w: Float64Array;
  /** Z = L⁻¹Φ, [P, N0·Q] */
  Z: Matrix;
  /** Z in float32, made on the first float32 Hessian–vector product at this point */
  Z32?: Matrix32;
  result: EnergyResult;
}

/**
 * Sample-space energy evaluator on the training path features (docs/theory.md §d).
 * Memory: besides Φ, one P×(N0·Q) array Z for the cached point and two more transiently per
 * Hessian–vector product.
 * @param train Φ [P, N0, Q]; y [P] labels; temperature T_B > 0.
 */
export function sampleSpaceEnergy(train: PathFeatures, y: Float64Array, temperature: number, opts: SampleEnergyOptions = {}): HvpEnergy {
  const P = train.count;
  const N0 = train.features;
  const Q = train.paths;
  const D = N0 * Q;
  const precision = opts.hessianPrecision ?? (P * D * (P + Q) > 1e8 ? 'float32' : 'float64');
  const Phi: Matrix = { rows: P, cols: D, data: train.data };
  let cached: Point | null = null;

  const sameU = (a: Float64Array, b: Float64Array) => {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };

  async function factor(U1: Matrix, wantGrad: boolean): Promise<Point | EnergyResult> {
    const L = await factorTrainingKernel(train, U1, temperature);
    const logDet = logDetFromCholesky(L);
    const z = forwardSolve(L, y);
    const alpha = backSolveTransposed(L, z);
    let quad = 0;
    for (let i = 0; i < P; i++) quad += z[i] * z[i];
    const value = logDet + quad;
    if (!Number.isFinite(value)) throw new NumericalError(`energy is not finite (ln det = ${logDet}, yᵀ(K+T_B I)⁻¹y = ${quad})`);
    if (!wantGrad) return { value, logDet, quad, alpha };
    const Z = await solveLower(L, Phi);
    // ∇E = Σ_i Z_iᵀZ_i − Σ_i w_i w_iᵀ: Z as [P·N0, Q] contracted with itself over (P, N0).
    const grad = await gemm({ rows: P * N0, cols: Q, data: Z.data }, { rows: P * N0, cols: Q, data: Z.data }, { transA: true });
    const w = (await gemm({ rows: 1, cols: P, data: alpha }, Phi)).data; // Φᵀα as one product in ONNX Runtime
    const ww = await gemm({ rows: N0, cols: Q, data: w }, { rows: N0, cols: Q, data: w }, { transA: true }); // Σ_i w_i w_iᵀ
    for (let i = 0; i < grad.data.length; i++) grad.data[i] -= ww.data[i];
    symmetrizeInPlace(grad);
    const result: EnergyResult = { value, logDet, quad, alpha, grad };
    return { U1: U1.data.slice(), L, alpha, w, Z, result };
  }

  async function pointAt(U1: Matrix): Promise<Point> {
    if (cached && sameU(cached.U1, U1.data)) return cached;
    cached = null; // release the old Z before allocating the new one
    cached = (await factor(U1, true)) as Point;
    return cached;
  }

  /** −Σ_i Z_iᵀ K̃ Z_i with K̃ = Σ_j Z_j dU Z_jᵀ, in float64. */
  async function traceTerm64(Z: Matrix, dU1: Matrix): Promise<Matrix> {
    const ZdU = await gemm({ rows: P * N0, cols: Q, data: Z.data }, dU1); // [P·N0, Q]
    const Kt = await gemm({ rows: P, cols: D, data: ZdU.data }, Z, { transB: true }); // [P, P]
    const KtZ = await gemm(Kt, Z); // [P, D]
    return gemm({ rows: P * N0, cols: Q, data: Z.data }, { rows: P * N0, cols: Q, data: KtZ.data }, { transA: true });
  }

  /**
   * The float32 products' outputs, kept across Hessian–vector products (CG makes hundreds of them, all of one
   * shape): a fresh [P, D] array per product costs its first touch, ~0.35 ms per MB on the bench machine.
   */
  let buffers32: { ZdU: Float32Array; Kt: Float32Array; KtZ: Float32Array } | null = null;

  /** The same in float32 (inputs rounded once, products in SGEMM). */
  async function traceTerm32(pt: Point, dU1: Matrix): Promise<Matrix> {
    const Z32 = (pt.Z32 ??= { rows: P, cols: D, data: Float32Array.from(pt.Z.data) });
    const b = (buffers32 ??= { ZdU: new Float32Array(P * D), Kt: new Float32Array(P * P), KtZ: new Float32Array(P * D) });
    const ZdU = await gemm32({ rows: P * N0, cols: Q, data: Z32.data }, { rows: Q, cols: Q, data: Float32Array.from(dU1.data) }, { out: b.ZdU });
    const Kt = await gemm32({ rows: P, cols: D, data: ZdU.data }, Z32, { transB: true, out: b.Kt });
    const KtZ = await gemm32(Kt, Z32, { out: b.KtZ });
    const out = await gemm32({ rows: P * N0, cols: Q, data: Z32.data }, { rows: P * N0, cols: Q, data: KtZ.data }, { transA: true });
    return { rows: Q, cols: Q, data: Float64Array.from(out.data) };
  }

  const evaluator: HvpEnergy = {
    space: 'sample',
    hessianPrecision: precision,
    async evaluate(U1, wantGrad) {
      if (!wantGrad) {
        if (cached && sameU(cached.U1, U1.data)) return { ...cached.result, grad: undefined };
        return (await factor(U1, false)) as EnergyResult;
      }
      const pt = await pointAt(U1);
      return { ...pt.result, grad: { rows: Q, cols: Q, data: pt.result.grad!.data.slice() } };
    },
    async hessianVectorProduct(U1, dU1) {
      const pt = await pointAt(U1);
      const { Z, w } = pt;
      const f32 = evaluator.hessianPrecision === 'float32';
      const out = f32 ? await traceTerm32(pt, dU1) : await traceTerm64(Z, dU1);
      for (let i = 0; i < out.data.length; i++) out.data[i] = -out.data[i];
      // Rank-two term Σ_i (a_i w_iᵀ + w_i a_iᵀ), a = Φᵀv, v = M⁻¹ dK α = L⁻ᵀ (Z · vec(w dU)); since
      // Φᵀ L⁻ᵀ = Zᵀ, a = Zᵀ (Z u) with u = vec(w dU): two matrix–vector products with Z, in the trace term's
      // precision and in ONNX Runtime (the same two in JS loops took ~23 ms per product at P = 500, D = 8192).
      const u = await gemm({ rows: N0, cols: Q, data: w }, dU1); // [N0, Q]
      let a: Float64Array;
      if (f32) {
        const Z32 = pt.Z32!;
        const Zu = await gemm32(Z32, { rows: D, cols: 1, data: Float32Array.from(u.data) });
        a = Float64Array.from((await gemm32({ rows: 1, cols: P, data: Zu.data }, Z32)).data);
      } else {
        const Zu = await gemm(Z, { rows: D, cols: 1, data: u.data });
        a = (await gemm({ rows: 1, cols: P, data: Zu.data }, Z)).data;
      }
      const aw = await gemm({ rows: N0, cols: Q, data: a }, { rows: N0, cols: Q, data: w }, { transA: true }); // Σ_i a_i w_iᵀ
      for (let q = 0; q < Q; q++) for (let r = 0; r < Q; r++) out.data[q * Q + r] += aw.data[q * Q + r] + aw.data[r * Q + q];
      symmetrizeInPlace(out);
      return out;
    },
  };
  return evaluator;
}
