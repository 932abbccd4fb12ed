/**
 * The energy and what shares its factorization, in sample space (THEORY.md sections d–e; see energySpace.ts).
 *
 * At U_1 = F Fᵀ (psdFactor; F [Q, r]) the kernel is K_U = A Aᵀ with A = Φ(I_N0 ⊗ F) [P, d], d = N0·r, and
 * M = K_U + T_B I is factored panel by panel straight from A (linalg/blockedCholesky.ts: P²·d + P³/3 flops, only
 * the factor L is P × P). Then
 *   ln det M = 2 Σ ln L_ii,   yᵀM⁻¹y = |L⁻¹y|²,   α = M⁻¹y,   w = Φᵀα,
 *   ∂E/∂U_1 = Tr_i[Zᵀ Z] − Tr_i[w wᵀ],   Z = L⁻¹Φ (P²·D flops),
 * the predictor from L and Z (or L⁻¹k* when Z is not at hand), and the Newton pieces from G_M = ZᵀZ
 * (energyGram.ts). The factorization, Z and G_M of the last U_1 are kept, so a gradient, Hessian–vector products
 * and the predictor at the solver's final point do not refactor.
 */
import { type Matrix, zeros } from '../linalg/matrix';
import { gemm, gemmInto } from '../linalg/gemm';
import { NotPositiveDefiniteError, backSolveTransposed, forwardSolve } from '../linalg/cholesky';
import { type BlockedFactor, NonFiniteEntryError, blockedCholesky, gramPanels, logDetBlocked, solveLowerBlocked } from '../linalg/blockedCholesky';
import type { PathFeatures } from './kernels';
import { NumericalError } from './errors';
import type { EnergyEvaluator, EnergyResult } from './energySpace';
import type { Prediction } from './predictor';
import { type PcOverlap, overlapWithLabels } from './pcOverlap';
import { kronTimesVector, kronTransposeTimesVector, matTVec, partialTraceOuter, partialTraceProduct, psdFactor, symmetrizeInPlace, timesKron } from './pathAlgebra';
import { energyHessianFromGram, energyHvpFromGram } from './energyGram';

/** Largest D for which G_M = ZᵀZ (D × D) is formed for Hessian–vector products; above, they run through P × P. */
const GRAM_MAX_D = 6000;

/** Test points per block of the predictor (bounds the [P, block] temporaries to ~64 MB). */
function testBlock(P: number): number {
  return Math.max(1, Math.floor(2 ** 23 / Math.max(1, P)));
}

interface SamplePoint {
  U: Float64Array;
  F: Matrix;
  /** A = Φ(I⊗F) [P, d] */
  A: Float64Array;
  d: number;
  fac: BlockedFactor;
  /** L⁻¹y */
  z: Float64Array;
  alpha: Float64Array;
  /** Φᵀα [D] */
  w?: Float64Array;
  /** L⁻¹Φ [P, D] */
  Z?: Float64Array;
  /** ZᵀZ = ΦᵀM⁻¹Φ [D, D] */
  GM?: Matrix;
}

function sameMatrix(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SampleSpaceEnergy implements EnergyEvaluator {
  readonly space = 'sample' as const;
  readonly P: number;
  readonly D: number;
  private readonly N0: number;
  private readonly Q: number;
  private last: SamplePoint | null = null;

  /** @param train Φ [P, N0, Q]; y [P]; temperature T_B > 0. */
  constructor(
    private readonly train: PathFeatures,
    private readonly y: Float64Array,
    private readonly temperature: number,
  ) {
    this.P = train.count;
    this.N0 = train.features;
    this.Q = train.paths;
    this.D = this.N0 * this.Q;
  }

  /** The factorization at U1 (reused when U1 equals the last one entry by entry). */
  private async at(U1: Matrix): Promise<SamplePoint> {
    if (this.last && sameMatrix(this.last.U, U1.data)) return this.last;
    this.last = null; // release the previous point's arrays before allocating new ones
    const { P, N0 } = this;
    const F = psdFactor(U1);
    const d = N0 * F.cols;
    const A = await timesKron(this.train.data, P, N0, F);
    let fac: BlockedFactor;
    try {
      fac = await blockedCholesky(P, gramPanels({ rows: P, cols: d, data: A }, this.temperature));
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) {
        throw new NumericalError(`K_U + T_B·I (the ${P}×${P} training kernel) is not positive definite: pivot ${e.pivot} = ${e.value}`);
      }
      if (e instanceof NonFiniteEntryError) throw new NumericalError(`training kernel K_U has a non-finite entry at (${e.row}, ${e.col})`);
      throw e;
    }
    const z = forwardSolve(fac.L, this.y);
    const alpha = backSolveTransposed(fac.L, z);
    this.last = { U: U1.data.slice(), F, A, d, fac, z, alpha };
    return this.last;
  }

  private wOf(pt: SamplePoint): Float64Array {
    pt.w ??= matTVec(this.train.data, this.P, this.D, pt.alpha);
    return pt.w;
  }

  private async ZOf(pt: SamplePoint): Promise<Float64Array> {
    pt.Z ??= (await solveLowerBlocked(pt.fac, { rows: this.P, cols: this.D, data: this.train.data })).data;
    return pt.Z;
  }

  private async GMOf(pt: SamplePoint): Promise<Matrix> {
    if (!pt.GM) {
      const Z = await this.ZOf(pt);
      pt.GM = symmetrizeInPlace(await gemm({ rows: this.P, cols: this.D, data: Z }, { rows: this.P, cols: this.D, data: Z }, { transA: true }));
    }
    return pt.GM;
  }

  async evaluate(U1: Matrix, wantGrad: boolean): Promise<EnergyResult> {
    const pt = await this.at(U1);
    const logDet = logDetBlocked(pt.fac);
    let quad = 0;
    for (let i = 0; i < this.P; i++) quad += pt.z[i] * pt.z[i];
    const value = logDet + quad;
    if (!Number.isFinite(value)) throw new NumericalError(`energy is not finite (ln det = ${logDet}, yᵀ(K+T_B I)⁻¹y = ${quad})`);
    if (!wantGrad) return { value, logDet, quad };
    const Z = await this.ZOf(pt);
    const grad = await partialTraceProduct(Z, Z, this.Q);
    const ww = partialTraceOuter(this.wOf(pt), this.N0, this.Q);
    for (let i = 0; i < grad.data.length; i++) grad.data[i] -= ww.data[i];
    return { value, logDet, quad, grad: symmetrizeInPlace(grad) };
  }

  async hessianVectorProduct(U1: Matrix, dU1: Matrix): Promise<Matrix> {
    const pt = await this.at(U1);
    const w = this.wOf(pt);
    if (this.D <= GRAM_MAX_D) return energyHvpFromGram(await this.GMOf(pt), w, dU1, this.N0, this.Q);
    return this.hvpThroughSamples(pt, w, dU1);
  }

  /**
   * (∂²E)[dU] through P × P matrices (for D too large for G_M): with Z = L⁻¹Φ,
   * Tr_i[G_M dŨ G_M] = Tr_i[Zᵀ (Z dŨ Zᵀ) Z] and G_M dŨ w = Zᵀ(Z (dŨ w)); about 4·P²·D flops.
   */
  private async hvpThroughSamples(pt: SamplePoint, w: Float64Array, dU: Matrix): Promise<Matrix> {
    const { P, D, N0, Q } = this;
    const Z = await this.ZOf(pt);
    const Zd = await timesKron(Z, P, N0, dU); // Z dŨ [P, D]
    const W = await gemm({ rows: P, cols: D, data: Zd }, { rows: P, cols: D, data: Z }, { transB: true }); // [P, P]
    const Y = await gemm(W, { rows: P, cols: D, data: Z }); // [P, D]
    const out = await partialTraceProduct(Z, Y.data, Q);
    for (let i = 0; i < out.data.length; i++) out.data[i] = -out.data[i];
    const s = new Float64Array(D);
    for (let i = 0; i < N0; i++)
      for (let t = 0; t < Q; t++) {
        let v = 0;
        for (let u = 0; u < Q; u++) v += dU.data[t * Q + u] * w[i * Q + u];
        s[i * Q + t] = v;
      }
    const Zs = new Float64Array(P);
    for (let m = 0; m < P; m++) {
      let v = 0;
      for (let j = 0; j < D; j++) v += Z[m * D + j] * s[j];
      Zs[m] = v;
    }
    const gs = matTVec(Z, P, D, Zs);
    for (let i = 0; i < N0; i++)
      for (let q = 0; q < Q; q++)
        for (let r = 0; r < Q; r++) {
          const c = gs[i * Q + q] * w[i * Q + r];
          out.data[q * Q + r] += c;
          out.data[r * Q + q] += c;
        }
    return symmetrizeInPlace(out);
  }

  async energyHessian(U1: Matrix): Promise<Matrix> {
    const pt = await this.at(U1);
    return energyHessianFromGram(await this.GMOf(pt), this.wOf(pt), this.N0, this.Q);
  }

  /**
   * Mean = Φ_* (I⊗U) w (P_test·D flops); variance = K_U(x*,x*) − |L⁻¹k*|² with L⁻¹k* = (Z(I⊗F)) A*ᵀ when Z is at
   * hand, else (P_test < d) L⁻¹(A A*ᵀ) or (L⁻¹A) A*ᵀ — whichever is cheaper; test points in blocks.
   */
  async predict(test: PathFeatures, U1: Matrix): Promise<Prediction> {
    const { P, N0, D } = this;
    if (test.features !== N0 || test.paths !== this.Q) throw new Error(`predict: test features [${test.features}, ${test.paths}] do not match the training set's [${N0}, ${this.Q}]`);
    const pt = await this.at(U1);
    const Pt = test.count;
    const { F, d } = pt;
    const w = this.wOf(pt);
    // (I⊗U) w = (I⊗F)(I⊗F)ᵀ w
    const Uw = kronTimesVector(F, kronTransposeTimesVector(F, w, N0), N0);
    const mean = new Float64Array(Pt);
    for (let t = 0; t < Pt; t++) {
      let s = 0;
      const o = t * D;
      for (let j = 0; j < D; j++) s += test.data[o + j] * Uw[j];
      mean[t] = s;
    }
    const variance = new Float64Array(Pt);
    if (d > 0) {
      const As = await timesKron(test.data, Pt, N0, F); // [P_t, d]
      let left: Float64Array | null = null; // [P, d] with L⁻¹k* = left · A*ᵀ
      if (pt.Z) left = await timesKron(pt.Z, P, N0, F);
      else if (Pt >= d) left = (await solveLowerBlocked(pt.fac, { rows: P, cols: d, data: pt.A })).data;
      const block = testBlock(P);
      for (let t0 = 0; t0 < Pt; t0 += block) {
        const t1 = Math.min(Pt, t0 + block);
        const c = t1 - t0;
        const Ac = { rows: c, cols: d, data: As.subarray(t0 * d, t1 * d) };
        let V: Float64Array;
        if (left) V = await gemmInto({ rows: P, cols: d, data: left }, Ac, { transB: true });
        else {
          const k = await gemmInto({ rows: P, cols: d, data: pt.A }, Ac, { transB: true });
          V = (await solveLowerBlocked(pt.fac, { rows: P, cols: c, data: k })).data;
        }
        for (let t = t0; t < t1; t++) {
          let s = 0;
          const o = t * d;
          for (let j = 0; j < d; j++) s += As[o + j] * As[o + j];
          variance[t] = s;
        }
        for (let m = 0; m < P; m++) {
          const row = m * c;
          for (let t = 0; t < c; t++) variance[t0 + t] -= V[row + t] * V[row + t];
        }
      }
    }
    for (let t = 0; t < Pt; t++) {
      if (!Number.isFinite(mean[t]) || !Number.isFinite(variance[t])) {
        throw new NumericalError(`predictor is not finite at test point ${t} (mean ${mean[t]}, variance ${variance[t]})`);
      }
    }
    return { mean, variance };
  }

  /** K_U = A Aᵀ (P × P), its leading eigenpairs (dense or Lanczos) and their overlaps with y. */
  async kernelPcOverlap(U1: Matrix, k: number): Promise<PcOverlap> {
    const pt = await this.at(U1);
    const { P } = this;
    const K = pt.d > 0 ? await gemm({ rows: P, cols: pt.d, data: pt.A }, { rows: P, cols: pt.d, data: pt.A }, { transB: true }) : zeros(P, P);
    return overlapWithLabels(symmetrizeInPlace(K), this.y, k);
  }
}
