/**
 * The energy and what shares its factorization, in feature space (docs/theory.md §d–e, §i; see energySpace.ts).
 *
 * With Φ the [P, D] path features, G = ΦᵀΦ and b = Φᵀy (computed once, by row blocks of Φ), and U_1 = F Fᵀ
 * (psdFactor, F [Q, r], F̃ = I_N0 ⊗ F, d = N0·r), the training matrix is M = T I_P + A Aᵀ with A = ΦF̃, and
 *
 *   S = T I_d + F̃ᵀ G F̃ = R Rᵀ                         (d × d; no U⁻¹, so U_1 may be singular)
 *   ln det M   = (P − d) ln T + ln det S               (matrix determinant lemma)
 *   M⁻¹        = (I − A S⁻¹ Aᵀ) / T                      (Woodbury)
 *   v = S⁻¹ F̃ᵀ b,  u = F̃ v,  ρ = y − Φ u = T α
 *   yᵀM⁻¹y     = |ρ|²/T + |v|²                          (a sum of positive terms: no cancellation)
 *   w = Φᵀα = Φᵀρ / T
 *   ΦᵀM⁻¹Φ     = G_M = (G − XᵀX) / T,  X = R⁻¹ F̃ᵀ G    (d × D)
 *   ∂E/∂U_1    = Tr_i[G_M] − Tr_i[w wᵀ]
 *   ⟨f(x*)⟩     = φ*ᵀ u,   Var f(x*) = T |R⁻¹ F̃ᵀ φ*|²      (Ũ − Ũ G_M Ũ = T F̃ S⁻¹ F̃ᵀ)
 *   K_U's nonzero eigenpairs: those of AᵀA = F̃ᵀGF̃ (λ_i, u_i), with (v_iᵀy)² = (u_iᵀ F̃ᵀ b)²/λ_i.
 *
 * ρ and w are two passes over Φ (P·D flops each), which keeps them exact where y is nearly in the span of
 * Φ's columns (where b − G u would cancel). Nothing P × P or P_test × P is ever allocated.
 */
import { type Matrix, zeros } from '../linalg/matrix';
import { NotPositiveDefiniteError, backSolveTransposed, forwardSolve } from '../linalg/cholesky';
import { type BlockedFactor, blockedCholesky, gramOfColumns, matrixPanels, solveLowerBlocked, transposeTiled } from '../linalg/blockedCholesky';
import { largestEigenpairs } from '../linalg/topEigen';
import { largestEigenpairsBlock } from '../linalg/blockLanczos';
import type { PathFeatures } from './kernels';
import { NumericalError } from './errors';
import type { EnergyEvaluator, EnergyResult, Prediction } from './energyEvaluator';
import type { PcOverlap } from './pcOverlap';
import {
  kronTimesVector,
  kronTransposeTimesVector,
  matTVec,
  matVec,
  partialTraceFeatures,
  partialTraceOuter,
  partialTraceProduct,
  psdFactor,
  symmetrizeInPlace,
  timesKron,
} from './pathAlgebra';
import { energyHessianFromGram, energyHvpFromGram, pathMajorRows } from './energyGram';

/** Rows of Φ per block when forming G = ΦᵀΦ (bounds ORT's temporaries). */
const GRAM_ROWS = 8192;

interface FeaturePoint {
  U: Float64Array;
  F: Matrix;
  d: number;
  /** F̃ᵀ G [d, D] */
  FG: Float64Array;
  /** S = T I + F̃ᵀ G F̃ [d, d] */
  S: Matrix;
  fac: BlockedFactor;
  v: Float64Array;
  u: Float64Array;
  rho: Float64Array;
  w?: Float64Array;
  /** R⁻¹ F̃ᵀ G [d, D] */
  X?: Float64Array;
  GM?: Matrix;
  /** `pathMajorRows(G_M)`, for Hessian–vector products */
  Gp?: Float64Array;
}

/** The diagonal of a square F [Q, Q] that has nothing else (a psdFactor of a diagonal U_1), else null. */
function diagonalOf(F: Matrix): Float64Array | null {
  const Q = F.rows;
  if (F.cols !== Q) return null;
  for (let a = 0; a < Q; a++) for (let b = 0; b < Q; b++) if (a !== b && F.data[a * Q + b] !== 0) return null;
  return Float64Array.from({ length: Q }, (_, q) => F.data[q * Q + q]);
}

function sameMatrix(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class FeatureSpaceEnergy implements EnergyEvaluator {
  readonly space = 'feature' as const;
  readonly P: number;
  readonly D: number;
  private readonly N0: number;
  private readonly Q: number;
  private last: FeaturePoint | null = null;
  /** Tr_i[G] [Q, Q] */
  private readonly trG: Matrix;

  private constructor(
    private readonly train: PathFeatures,
    private readonly y: Float64Array,
    private readonly temperature: number,
    /** G = ΦᵀΦ [D, D] */
    private readonly G: Matrix,
    /** b = Φᵀy [D] */
    private readonly b: Float64Array,
    private readonly yy: number,
  ) {
    this.P = train.count;
    this.N0 = train.features;
    this.Q = train.paths;
    this.D = this.N0 * this.Q;
    this.trG = partialTraceFeatures(G, this.N0, this.Q);
  }

  /**
   * Precomputes G = ΦᵀΦ (2·P·D² flops, by blocks of rows) and b = Φᵀy.
   * @throws NumericalError when Φ or y has a non-finite entry.
   */
  static async create(train: PathFeatures, y: Float64Array, temperature: number): Promise<FeatureSpaceEnergy> {
    const P = train.count;
    const D = train.features * train.paths;
    const G = new Float64Array(D * D);
    for (let r0 = 0; r0 < P; r0 += GRAM_ROWS) {
      const r1 = Math.min(P, r0 + GRAM_ROWS);
      const part = await gramOfColumns({ rows: r1 - r0, cols: D, data: train.data.subarray(r0 * D, r1 * D) });
      for (let i = 0; i < D * D; i++) G[i] += part.data[i];
    }
    for (let i = 0; i < G.length; i++) if (!Number.isFinite(G[i])) throw new NumericalError('path features Φ have a non-finite entry (G = ΦᵀΦ is not finite)');
    const b = matTVec(train.data, P, D, y);
    let yy = 0;
    for (let i = 0; i < P; i++) yy += y[i] * y[i];
    if (!Number.isFinite(yy)) throw new NumericalError('training labels y have a non-finite entry');
    return new FeatureSpaceEnergy(train, y, temperature, symmetrizeInPlace({ rows: D, cols: D, data: G }), b, yy);
  }

  private async at(U1: Matrix): Promise<FeaturePoint> {
    if (this.last && sameMatrix(this.last.U, U1.data)) return this.last;
    this.last = null;
    const { N0, D, temperature: T } = this;
    const F = psdFactor(U1);
    const d = N0 * F.cols;
    let FG: Float64Array;
    let S: Matrix;
    const f = diagonalOf(F);
    if (f) {
      // F = diag(f) (the GP limit's U_1 = c·I, and any diagonal U_1): F̃ᵀG and F̃ᵀGF̃ are G with its rows (and
      // columns) scaled, one pass over G instead of two memory-bound products and a transpose (~0.7 s at D = 3200).
      const Q = F.rows;
      const G = this.G.data;
      FG = new Float64Array(D * D);
      const H = new Float64Array(D * D);
      for (let r = 0; r < D; r++) {
        const fr = f[r % Q];
        const o = r * D;
        for (let c = 0; c < D; c++) {
          const v = fr * G[o + c];
          FG[o + c] = v;
          H[o + c] = v * f[c % Q];
        }
      }
      S = symmetrizeInPlace({ rows: d, cols: d, data: H });
    } else {
      // F̃ᵀG = (G F̃)ᵀ (G symmetric): [D·N0, Q]·F → [D, d], transposed to [d, D]
      const GF = await timesKron(this.G.data, D, N0, F);
      FG = transposeTiled({ rows: D, cols: d, data: GF }).data;
      const H = await timesKron(FG, d, N0, F); // F̃ᵀ G F̃ [d, d]
      S = symmetrizeInPlace({ rows: d, cols: d, data: H });
    }
    // tr(F̃ᵀGF̃) = tr K_U ≥ λ_max(K_U): when T_B is below its rounding level, K_U + T_B I is singular to working
    // precision (the sample space's Cholesky fails there) and the Woodbury differences would be noise.
    let trK = 0;
    for (let i = 0; i < d; i++) trK += S.data[i * d + i];
    if (!(T > 1e-14 * trK)) {
      throw new NumericalError(
        `K_U + T_B·I (the ${this.P}×${this.P} training kernel) is numerically singular: T_B = ${T} is below the rounding level of tr K_U = ${trK.toExponential(3)}`,
      );
    }
    for (let i = 0; i < d; i++) S.data[i * d + i] += T;
    let fac: BlockedFactor;
    try {
      fac = await blockedCholesky(d, matrixPanels(S));
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError)
        throw new NumericalError(`T_B·I + (I⊗F)ᵀ G (I⊗F) (the ${d}×${d} feature-space matrix) is not positive definite: pivot ${e.pivot} = ${e.value}`);
      throw e;
    }
    const c = kronTransposeTimesVector(F, this.b, N0);
    const v = backSolveTransposed(fac.L, forwardSolve(fac.L, c));
    const u = kronTimesVector(F, v, N0);
    const Phiu = matVec(this.train.data, this.P, D, u);
    const rho = new Float64Array(this.P);
    for (let m = 0; m < this.P; m++) rho[m] = this.y[m] - Phiu[m];
    this.last = { U: U1.data.slice(), F, d, FG, S, fac, v, u, rho };
    return this.last;
  }

  private wOf(pt: FeaturePoint): Float64Array {
    if (!pt.w) {
      pt.w = matTVec(this.train.data, this.P, this.D, pt.rho);
      for (let j = 0; j < this.D; j++) pt.w[j] /= this.temperature;
    }
    return pt.w;
  }

  private async XOf(pt: FeaturePoint): Promise<Float64Array> {
    pt.X ??= (await solveLowerBlocked(pt.fac, { rows: pt.d, cols: this.D, data: pt.FG })).data;
    return pt.X;
  }

  private async GMOf(pt: FeaturePoint): Promise<Matrix> {
    if (!pt.GM) {
      const { D } = this;
      const X = await this.XOf(pt);
      const XX = await gramOfColumns({ rows: pt.d, cols: D, data: X });
      const GM = zeros(D, D);
      for (let i = 0; i < D * D; i++) GM.data[i] = (this.G.data[i] - XX.data[i]) / this.temperature;
      pt.GM = symmetrizeInPlace(GM);
    }
    return pt.GM;
  }

  async evaluate(U1: Matrix, wantGrad: boolean): Promise<EnergyResult> {
    const pt = await this.at(U1);
    const { P, temperature: T } = this;
    let logDetS = 0;
    for (let i = 0; i < pt.d; i++) logDetS += Math.log(pt.fac.L.data[i * pt.d + i]);
    const logDet = (P - pt.d) * Math.log(T) + 2 * logDetS;
    let rr = 0;
    for (let m = 0; m < P; m++) rr += pt.rho[m] * pt.rho[m];
    let vv = 0;
    for (let i = 0; i < pt.d; i++) vv += pt.v[i] * pt.v[i];
    const quad = rr / T + vv;
    const value = logDet + quad;
    if (!Number.isFinite(value)) throw new NumericalError(`energy is not finite (ln det = ${logDet}, yᵀ(K+T_B I)⁻¹y = ${quad})`);
    if (!wantGrad) return { value, logDet, quad };
    const X = await this.XOf(pt);
    const grad = zeros(this.Q, this.Q);
    if (pt.d > 0) {
      const trX = await partialTraceProduct(X, X, this.Q);
      for (let i = 0; i < grad.data.length; i++) grad.data[i] = (this.trG.data[i] - trX.data[i]) / T;
    } else for (let i = 0; i < grad.data.length; i++) grad.data[i] = this.trG.data[i] / T;
    const ww = partialTraceOuter(this.wOf(pt), this.N0, this.Q);
    for (let i = 0; i < grad.data.length; i++) grad.data[i] -= ww.data[i];
    return { value, logDet, quad, grad: symmetrizeInPlace(grad) };
  }

  release(): void {
    this.last = null;
  }

  async hessianVectorProduct(U1: Matrix, dU1: Matrix): Promise<Matrix> {
    const pt = await this.at(U1);
    const GM = await this.GMOf(pt);
    pt.Gp ??= pathMajorRows(GM, this.N0, this.Q);
    return energyHvpFromGram(GM, this.wOf(pt), dU1, this.N0, this.Q, pt.Gp);
  }

  async energyHessian(U1: Matrix): Promise<Matrix> {
    const pt = await this.at(U1);
    return energyHessianFromGram(await this.GMOf(pt), this.wOf(pt), this.N0, this.Q);
  }

  async predict(test: PathFeatures, U1: Matrix): Promise<Prediction> {
    const { N0, D, temperature: T } = this;
    if (test.features !== N0 || test.paths !== this.Q)
      throw new Error(`predict: test features [${test.features}, ${test.paths}] do not match the training set's [${N0}, ${this.Q}]`);
    const pt = await this.at(U1);
    const Pt = test.count;
    const mean = matVec(test.data, Pt, D, pt.u);
    const variance = new Float64Array(Pt);
    const d = pt.d;
    if (d > 0) {
      const block = Math.max(1, Math.floor(2 ** 22 / d));
      for (let t0 = 0; t0 < Pt; t0 += block) {
        const t1 = Math.min(Pt, t0 + block);
        const c = t1 - t0;
        const As = await timesKron(test.data.subarray(t0 * D, t1 * D), c, N0, pt.F); // [c, d]
        const At = transposeTiled({ rows: c, cols: d, data: As }).data;
        const Y = (await solveLowerBlocked(pt.fac, { rows: d, cols: c, data: At })).data;
        for (let j = 0; j < d; j++) {
          const row = j * c;
          for (let t = 0; t < c; t++) variance[t0 + t] += Y[row + t] * Y[row + t];
        }
      }
      for (let t = 0; t < Pt; t++) variance[t] *= T;
    }
    for (let t = 0; t < Pt; t++) {
      if (!Number.isFinite(mean[t]) || !Number.isFinite(variance[t])) {
        throw new NumericalError(`predictor is not finite at test point ${t} (mean ${mean[t]}, variance ${variance[t]})`);
      }
    }
    return { mean, variance };
  }

  /**
   * K_U = A Aᵀ has the nonzero eigenvalues of AᵀA = S − T I (d × d); eigenvector v_i = A u_i/√λ_i has
   * (v_iᵀy)² = (u_iᵀ F̃ᵀb)²/λ_i. Components beyond the rank lie in K_U's null space, whose eigenbasis is not
   * unique: one unit vector of it is taken along y's part outside the span, so that component carries the
   * remaining overlap 1 − Σ and the others 0. Residuals are bounded by ‖A r‖ ≤ √λ_1 ‖r‖ for the residual r of u_i.
   */
  async kernelPcOverlap(U1: Matrix, k: number): Promise<PcOverlap> {
    const pt = await this.at(U1);
    const { P, temperature: T } = this;
    if (!(Number.isInteger(k) && k >= 1 && k <= P)) throw new Error(`kernelPcOverlap: k must be an integer in [1, ${P}] (got ${k})`);
    if (!(this.yy > 0)) throw new Error('overlapWithLabels: the label vector is zero');
    const d = pt.d;
    const kk = Math.min(k, d);
    const eigenvalues: number[] = [];
    const overlap: number[] = [];
    let residual = 0;
    if (kk > 0) {
      const H = zeros(d, d);
      for (let i = 0; i < d * d; i++) H.data[i] = pt.S.data[i];
      for (let i = 0; i < d; i++) H.data[i * d + i] -= T;
      const eig = d <= 200 ? largestEigenpairs(H, kk) : await largestEigenpairsBlock(H, kk);
      const c = kronTransposeTimesVector(pt.F, this.b, this.N0);
      const l1 = Math.max(eig.values[0], Number.MIN_VALUE);
      for (let i = 0; i < kk; i++) {
        const lam = eig.values[i];
        // eigenvalues at rounding level of λ_1 belong to the null space of K_U
        if (!(lam > 1e-13 * l1)) break;
        let s = 0;
        for (let j = 0; j < d; j++) s += eig.vectors[i][j] * c[j];
        eigenvalues.push(lam);
        overlap.push((s * s) / (lam * this.yy));
        residual = Math.max(residual, eig.maxRelativeResidual * Math.sqrt(l1 / lam));
      }
    }
    let sum = 0;
    for (const o of overlap) sum += o;
    if (eigenvalues.length < k) {
      eigenvalues.push(0);
      overlap.push(Math.max(0, 1 - sum));
    }
    while (eigenvalues.length < k) {
      eigenvalues.push(0);
      overlap.push(0);
    }
    const cumulative: number[] = [];
    let acc = 0;
    for (const o of overlap) cumulative.push((acc += o));
    return { eigenvalues, overlap, cumulative, method: d <= 200 ? 'dense' : 'lanczos', max_relative_residual: residual };
  }
}
