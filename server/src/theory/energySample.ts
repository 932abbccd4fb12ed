/**
 * The energy and what shares its factorization, in sample space (docs/theory.md §d–e, §m; see energySpace.ts).
 *
 * M = K_U + T_B I with K_U = Φ Ũ Φᵀ (Ũ = I_N0 ⊗ U_1) is never formed: its Cholesky factor L and Z = L⁻¹Φ are
 * computed together, by blocks of 256 rows, from L[j, 0:j0] = Φ_j Ũ Z[0:j0]ᵀ (linalg/gramCholesky.ts: 2·P²·D
 * flops for both, no P³/3 factorization, only L and Z are P × P and P × D). Paths whose rows of U_1 are zero
 * (silenced heads) are dropped from Φ first, which shrinks D. Then
 *   ln det M = 2 Σ ln L_ii,   yᵀM⁻¹y = |z|²,   z = L⁻¹y,   w = Φᵀα = Zᵀz   (α = M⁻¹y),
 *   ∂E/∂U_1 = Tr_i[Zᵀ Z] − Tr_i[w wᵀ],
 * the predictor from L and Z, and the Newton pieces from G_M = ZᵀZ (energyGram.ts). The factorization, Z and G_M
 * of the last U_1 are kept, so a gradient, Hessian–vector products and the predictor at the solver's final point do
 * not refactor.
 */
import { type Matrix, zeros } from '../linalg/matrix';
import { gemm, gemmInto } from '../linalg/gemm';
import { NotPositiveDefiniteError, backSolveTransposed, forwardSolve } from '../linalg/cholesky';
import { type BlockedFactor, type PanelSource, NonFiniteEntryError, gramOfColumns, logDetBlocked, solveLowerBlocked } from '../linalg/blockedCholesky';
import { gramCholeskyWithSolve } from '../linalg/gramCholesky';
import type { PathFeatures } from './kernels';
import { NumericalError } from './errors';
import type { EnergyEvaluator, EnergyResult, Prediction } from './energyEvaluator';
import { type PcOverlap, overlapWithLabelsBlock } from './pcOverlap';
import { kronTimesVector, matTVec, matVec, partialTraceOuter, partialTraceProduct, psdFactor, symmetrizeInPlace, timesKron } from './pathAlgebra';
import { energyHessianFromGram, energyHvpFromGram, pathMajorRows } from './energyGram';

/** Largest D for which G_M = ZᵀZ (D × D) is formed for Hessian–vector products; above, they run through P × P. */
const GRAM_MAX_D = 6000;

/** Test points per block of the predictor (bounds the [P, block] temporaries to ~64 MB). */
function testBlock(P: number): number {
  return Math.max(1, Math.floor(2 ** 23 / Math.max(1, P)));
}

interface SamplePoint {
  U: Float64Array;
  /** Paths with a nonzero row in U_1, and U_1 restricted to them. */
  kept: number[];
  Uk: Matrix;
  /** N0·(number of kept paths) */
  Dk: number;
  fac: BlockedFactor;
  /** L⁻¹Φ restricted to the kept paths [P, Dk] (made with the factor) */
  Zk: Float64Array;
  /** L⁻¹y */
  z: Float64Array;
  /** Φᵀα [D] */
  w?: Float64Array;
  /** L⁻¹Φ [P, D]: Zk itself when every path is kept */
  Z?: Float64Array;
  /** ZᵀZ = ΦᵀM⁻¹Φ [D, D] */
  GM?: Matrix;
  /** `pathMajorRows(G_M)`, for Hessian–vector products */
  Gp?: Float64Array;
}

/** Columns (i, q) of X [n, N0·Q] for q in `kept`, as [n, N0·|kept|]. */
function keepPaths(X: Float64Array, n: number, N0: number, Q: number, kept: number[]): Float64Array {
  const k = kept.length;
  const out = new Float64Array(n * N0 * k);
  for (let r = 0; r < n * N0; r++) for (let a = 0; a < k; a++) out[r * k + a] = X[r * Q + kept[a]];
  return out;
}

/**
 * Column panels of Φ Ũ Φᵀ + shift·I (the lower triangle of K_U, for the kernel PCs and the tests' factorizations by
 * `blockedCholesky`): panel [j0, j1) is Φ[j0:n] (Φ[j0:j1] Ũ)ᵀ, with Φ_j Ũ written into one buffer reused by every
 * panel. Only the diagonal block is checked for NaN/∞: a non-finite feature of row r makes K_U[r, r] non-finite.
 * @throws NonFiniteEntryError at the first NaN/∞ entry of a diagonal block.
 */
function kernelPanels(Phi: Float64Array, n: number, N0: number, U: Matrix, shift: number): PanelSource {
  const D = N0 * U.rows;
  let kron: Float64Array | null = null;
  return async (j0, j1, out) => {
    const w = j1 - j0;
    if (!kron || kron.length < w * D) kron = new Float64Array(w * D);
    const B = await timesKron(Phi.subarray(j0 * D, j1 * D), w, N0, U, kron.subarray(0, w * D)); // Φ_j Ũ [w, D]
    const C = await gemmInto({ rows: n - j0, cols: D, data: Phi.subarray(j0 * D) }, { rows: w, cols: D, data: B }, { transB: true, out });
    for (let i = 0; i < w; i++) C[i * w + i] += shift;
    for (let i = 0; i < w * w; i++) if (!Number.isFinite(C[i])) throw new NonFiniteEntryError(j0 + Math.floor(i / w), j0 + (i % w));
    return C;
  };
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
  /** Arrays of a discarded point, written over by the next factorization, L⁻¹Φ and G_M. */
  private spare: { L?: Float64Array; Z?: Float64Array; GM?: Float64Array } | null = null;

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

  /** Paths with a nonzero row of U1 and Φ, U1 restricted to them (after checking U1 is positive semi-definite). */
  private restrict(U1: Matrix): { kept: number[]; Phi: Float64Array; Uk: Matrix; Dk: number } {
    const { P, N0, Q } = this;
    psdFactor(U1); // throws for a U_1 that is not positive semi-definite
    const kept = Array.from({ length: Q }, (_, q) => q).filter((q) => U1.data[q * Q + q] > 0);
    const all = kept.length === Q;
    const Phi = all ? this.train.data : keepPaths(this.train.data, P, N0, Q, kept);
    const Uk = all ? U1 : { rows: kept.length, cols: kept.length, data: Float64Array.from(kept.flatMap((a) => kept.map((b) => U1.data[a * Q + b]))) };
    return { kept, Phi, Uk, Dk: N0 * kept.length };
  }

  /** The factorization and L⁻¹Φ at U1 (reused when U1 equals the last one entry by entry). */
  private async at(U1: Matrix): Promise<SamplePoint> {
    if (this.last && sameMatrix(this.last.U, U1.data)) return this.last;
    // The previous point's L and L⁻¹Φ are written over by this one (nothing outside keeps them): the solver's
    // evaluations then touch no fresh P × P or P × D memory.
    const full = this.P * this.D;
    if (this.last) {
      const Zfull = this.last.Z ?? (this.last.Zk.length === full ? this.last.Zk : undefined);
      this.spare = { L: this.last.fac.L.data, Z: Zfull ?? this.spare?.Z, GM: this.last.GM?.data ?? this.spare?.GM };
    }
    this.last = null;
    const { P, N0 } = this;
    const { kept, Phi, Uk, Dk } = this.restrict(U1);
    const reuseL = this.spare?.L;
    const reuseX = Dk === this.D ? this.spare?.Z : undefined;
    if (this.spare) {
      this.spare.L = undefined;
      if (reuseX) this.spare.Z = undefined;
    }
    let fac: BlockedFactor;
    let Zk: Float64Array;
    try {
      const timesU = (r0: number, r1: number, out: Float64Array) => timesKron(Phi.subarray(r0 * Dk, r1 * Dk), r1 - r0, N0, Uk, out);
      const r = await gramCholeskyWithSolve({ rows: P, cols: Dk, data: Phi }, timesU, this.temperature, { reuseL, reuseX });
      fac = r.factor;
      Zk = r.X.data;
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError && !Number.isFinite(e.value)) {
        throw new NumericalError(`training kernel K_U has a non-finite entry in row ${e.pivot} (or overflows there): its pivot is ${e.value}`);
      }
      if (e instanceof NotPositiveDefiniteError) {
        throw new NumericalError(`K_U + T_B·I (the ${P}×${P} training kernel) is not positive definite: pivot ${e.pivot} = ${e.value}`);
      }
      if (e instanceof NonFiniteEntryError) throw new NumericalError(`training kernel K_U has a non-finite entry at (${e.row}, ${e.col})`);
      throw e;
    }
    const z = forwardSolve(fac.L, this.y);
    this.last = { U: U1.data.slice(), kept, Uk, Dk, fac, Zk, z };
    return this.last;
  }

  /**
   * w = Φᵀα: Zᵀz when Z = L⁻¹Φ is at hand (every path kept), else Φᵀ(L⁻ᵀz); one [1, P]·[P, D] product in ONNX
   * Runtime either way (the JS loop over a P × D array took ~20 ms at P = 2000, D = 3200).
   */
  private async wOf(pt: SamplePoint): Promise<Float64Array> {
    if (!pt.w) {
      const all = pt.kept.length === this.Q;
      const left = all ? pt.Zk : this.train.data;
      const v = all ? pt.z : backSolveTransposed(pt.fac.L, pt.z);
      pt.w = (await gemm({ rows: 1, cols: this.P, data: v }, { rows: this.P, cols: this.D, data: left })).data;
    }
    return pt.w;
  }

  /** Z = L⁻¹Φ over every path (for the gradient at a U_1 with silenced paths, a solve with the factor). */
  private async ZOf(pt: SamplePoint): Promise<Float64Array> {
    if (!pt.Z) {
      if (pt.kept.length === this.Q) pt.Z = pt.Zk;
      else {
        const reuse = this.spare?.Z;
        if (this.spare) this.spare.Z = undefined;
        pt.Z = (await solveLowerBlocked(pt.fac, { rows: this.P, cols: this.D, data: this.train.data }, reuse)).data;
      }
    }
    return pt.Z;
  }

  private async GMOf(pt: SamplePoint): Promise<Matrix> {
    if (!pt.GM) {
      const Z = await this.ZOf(pt);
      const reuse = this.spare?.GM;
      if (this.spare) this.spare.GM = undefined;
      pt.GM = await gramOfColumns({ rows: this.P, cols: this.D, data: Z }, undefined, reuse);
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
    const ww = partialTraceOuter(await this.wOf(pt), this.N0, this.Q);
    for (let i = 0; i < grad.data.length; i++) grad.data[i] -= ww.data[i];
    return { value, logDet, quad, grad: symmetrizeInPlace(grad) };
  }

  release(): void {
    this.last = null;
    this.spare = null;
  }

  async hessianVectorProduct(U1: Matrix, dU1: Matrix): Promise<Matrix> {
    const pt = await this.at(U1);
    const w = await this.wOf(pt);
    if (this.D <= GRAM_MAX_D) {
      const GM = await this.GMOf(pt);
      pt.Gp ??= pathMajorRows(GM, this.N0, this.Q);
      return energyHvpFromGram(GM, w, dU1, this.N0, this.Q, pt.Gp);
    }
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
    return energyHessianFromGram(await this.GMOf(pt), await this.wOf(pt), this.N0, this.Q);
  }

  /**
   * Mean = Φ_* Ũ w (P_test·D flops); variance = K_U(x*,x*) − |L⁻¹k*|² with L⁻¹k* = Z_k (Φ_* Ũ)ᵀ (Z_k = L⁻¹Φ over
   * the kept paths, made with the factor); test points in blocks of ≤ 2²³/P.
   */
  async predict(test: PathFeatures, U1: Matrix): Promise<Prediction> {
    const { P, N0, D, Q } = this;
    if (test.features !== N0 || test.paths !== Q)
      throw new Error(`predict: test features [${test.features}, ${test.paths}] do not match the training set's [${N0}, ${Q}]`);
    const pt = await this.at(U1);
    const Pt = test.count;
    const Uw = kronTimesVector(U1, await this.wOf(pt), N0); // (I⊗U) w
    const mean = matVec(test.data, Pt, D, Uw);
    const variance = new Float64Array(Pt);
    const { Dk, kept } = pt;
    if (Dk > 0) {
      const all = kept.length === Q;
      const testPhi = all ? test.data : keepPaths(test.data, Pt, N0, Q, kept);
      const left = pt.Zk; // [P, Dk] with L⁻¹k* = left · (Φ_* Ũ)ᵀ
      const block = testBlock(P);
      for (let t0 = 0; t0 < Pt; t0 += block) {
        const t1 = Math.min(Pt, t0 + block);
        const c = t1 - t0;
        const Xc = testPhi.subarray(t0 * Dk, t1 * Dk);
        const Bc = await timesKron(Xc, c, N0, pt.Uk); // Φ_* Ũ [c, Dk]
        const V = await gemmInto({ rows: P, cols: Dk, data: left }, { rows: c, cols: Dk, data: Bc }, { transB: true });
        for (let t = 0; t < c; t++) {
          let s = 0;
          const o = t * Dk;
          for (let j = 0; j < Dk; j++) s += Xc[o + j] * Bc[o + j];
          variance[t0 + t] = s;
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

  /** K_U (P × P, from the panels the factorization uses, P²·D flops), its leading eigenpairs and their overlaps with y. */
  async kernelPcOverlap(U1: Matrix, k: number): Promise<PcOverlap> {
    const pt = this.restrict(U1); // no factorization: only K_U's panels are needed
    const { P, N0 } = this;
    const K = zeros(P, P);
    if (pt.Dk > 0) {
      const panels = kernelPanels(pt.Phi, P, N0, pt.Uk, 0);
      const nb = 256;
      for (let j0 = 0; j0 < P; j0 += nb) {
        const j1 = Math.min(P, j0 + nb);
        const w = j1 - j0;
        const C = await panels(j0, j1);
        for (let i = j0; i < P; i++)
          for (let j = j0; j < j1; j++) {
            const v = C[(i - j0) * w + (j - j0)];
            K.data[i * P + j] = v;
            K.data[j * P + i] = v;
          }
      }
    }
    return overlapWithLabelsBlock(K, this.y, k);
  }
}
