/**
 * Newton–CG minimization of the action over the order parameters (docs/theory.md §n; the action of
 * section d): a trust-region
 * Newton method whose subproblem is solved by truncated, preconditioned conjugate gradients
 * (Steihaug–Toint), with exact Hessian–vector products — the entropy's analytically
 * (`entropyHessian.ts`), the energy's from an `HvpEnergy` (sample space: `sampleEnergy.ts`; feature space: `energyFeature.ts`).
 * It stays second order when the number of attention paths is large: one CG step costs about one
 * gradient evaluation, where a dense Hessian costs (Q²/2)² entries and a finite-difference one Q²
 * gradient evaluations.
 *
 * Why Newton in U directly rather than in Cholesky factors (as the L-BFGS phase of `solver.ts`):
 *  - the stopping test is on ∂S/∂U_l, which is what Newton in U drives to zero quadratically; in
 *    factors the gradient is 2GL and the Hessian carries an extra term 2G·dL that only vanishes at
 *    the solution;
 *  - the entropy's dominant curvature N_l U_l⁻¹ dU U_l⁻¹ has the exact inverse dU ↦ U_l dU U_l / N_l,
 *    which (in the gauge coordinates of `gaugePreconditioner`) preconditions CG, leaving mostly the
 *    energy's curvature;
 *  - positive definiteness is safeguarded by the trust region in that metric: a step with
 *    ‖U_l^{-1/2} dU_l U_l^{-1/2}‖_F < 1 keeps U_l + dU_l positive definite, and a trial that is not
 *    (the action cannot be evaluated there) is rejected and the step shortened.
 * The iteration works in the space of symmetric matrix tuples with the Frobenius inner product.
 *
 * The objective is S / max(N_l, N_a), as in the authors' code.
 */
import { type Matrix, symmetrizeInPlace } from '../linalg/matrix';
import { gemm } from '../linalg/gemm';
import { TheorySettings, partialTraceSlowest } from './orderParams';
import { ActionResult, NumericalError, OrderParameterInverses, combineAction, entropy, orderParameterInverses } from './action';
import { entropyCurvature } from './entropyHessian';
import type { HvpEnergy } from './sampleEnergy';

export interface NewtonCgOptions {
  /** Stop when max |∂(S/max N)/∂U_l| < tolerance. */
  tolerance: number;
  /** Cap on Newton (outer) iterations. */
  maxIterations: number;
  /** Cap on CG iterations per Newton iteration. Default 250. */
  maxCgIterations?: number;
  signal?: AbortSignal;
  onProgress?: (p: { iteration: number; value: number; maxGradNormalized: number; cgIterations: number }) => void;
}

export interface NewtonCgResult {
  Us: Matrix[];
  action: ActionResult;
  /** Newton (outer) iterations, accepted or not. */
  iterations: number;
  /** Accepted Newton steps. */
  newtonSteps: number;
  cgIterations: number;
  /** Objective evaluations (action and gradient). */
  evaluations: number;
  /** Hessian–vector products. */
  hessianProducts: number;
  converged: boolean;
  stopReason: string;
  maxGradNormalized: number;
}

/** A point with its objective f = S / max N and gradient (raw in `r`). */
interface Point {
  Us: Matrix[];
  f: number;
  r: ActionResult;
  inverses: OrderParameterInverses;
}

/** Tangent vectors: one symmetric matrix per level, U_1 first. */
type Vec = Matrix[];

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let l = 0; l < a.length; l++) {
    const x = a[l].data;
    const y = b[l].data;
    for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  }
  return s;
}

/** a + t·b as a new vector. */
function axpy(a: Vec, t: number, b: Vec): Vec {
  return a.map((m, l) => {
    const out = new Float64Array(m.data.length);
    const x = m.data;
    const y = b[l].data;
    for (let i = 0; i < x.length; i++) out[i] = x[i] + t * y[i];
    return { rows: m.rows, cols: m.cols, data: out };
  });
}

function maxAbsVec(a: Vec): number {
  let m = 0;
  for (const x of a) for (let i = 0; i < x.data.length; i++) m = Math.max(m, Math.abs(x.data[i]));
  return m;
}

function scaled(a: Vec, t: number): Vec {
  return a.map((m) => ({ rows: m.rows, cols: m.cols, data: m.data.map((v) => v * t) }));
}

const zerosLike = (a: Vec): Vec => a.map((m) => ({ rows: m.rows, cols: m.cols, data: new Float64Array(m.data.length) }));

/**
 * The preconditioner M⁻¹ = T D⁻¹ Tᵀ of the Newton system (applied to a gradient-like r).
 *
 * The entropy of level l, N_l (tr(J_l U_l) − ln det(J_l U_l)) with J_l⁻¹ = σ_l²(I_{H_l} ⊗ U_{l+1}), is
 * invariant when U_{l+1} and U_l change together by the congruence U_{l+1} → S U_{l+1} Sᵀ,
 * U_l → (I⊗S) U_l (I⊗S)ᵀ. So the hierarchy has soft "gauge" directions in which U_1 moves a lot while
 * only one level's term resists, and a block-diagonal preconditioner (U_l dU U_l per level) leaves
 * them badly scaled (condition numbers ~10² at three layers). Instead the step is written in gauge
 * coordinates δ = (δ_1, …, δ_L): level l's own change δ_l acts as the congruence generator
 * E = ½ δ_l U_l⁻¹ on itself and every level below, i.e.
 *   E_L = ½ δ_L U_L⁻¹,  E_l = (I_{H_l} ⊗ E_{l+1}) + ½ δ_l U_l⁻¹,  dU_l = E_l U_l + U_l E_lᵀ  (T: δ ↦ dU),
 * and in δ the entropy's curvature is nearly block diagonal, D = ⊕_l c_l U_l⁻¹ ⊗ U_l⁻¹ with
 * c_l = N_l / max N (the objective's scaling). With L = 1 this is dU ↦ U dU U / c_1. What is left
 * for CG is the energy's curvature (the data) and the top level's coupling to U_a.
 * Cost: a few n_l×n_l products per level.
 */
export function gaugePreconditioner(s: TheorySettings, Us: Matrix[], inverses: Matrix[]): (r: Vec) => Promise<Vec> {
  const L = Us.length;
  const maxN = Math.max(...s.widths);
  const c = s.heads.map((_, l) => s.widths[l] / maxN);
  return async (r) => {
    // δ̄ = Tᵀ r. The cotangent of E_l is F_l = 2 r_l U_l + Φ_l with Φ_l = Tr_{h_{l−1}}[F_{l−1}] (Φ_1 = 0),
    // and δ̄_l = sym(½ F_l U_l⁻¹) = r_l + ½ sym(Φ_l U_l⁻¹); only partial traces of F are needed.
    // Then δ_l = U_l δ̄_l U_l / c_l, kept as Y_l = U_l δ̄_l (E_l's own part is ½ Y_l / c_l).
    const Y: Matrix[] = [];
    const delta: Matrix[] = [];
    let Phi: Matrix | null = null;
    for (let l = 0; l < L; l++) {
      const n = Us[l].rows;
      const dbar: Matrix = { rows: n, cols: n, data: r[l].data.slice() };
      if (Phi) {
        const PA = await gemm(Phi, inverses[l]);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dbar.data[i * n + j] += 0.25 * (PA.data[i * n + j] + PA.data[j * n + i]);
      }
      if (l < L - 1) {
        // Φ_{l+1} = Tr_{h_l}[2 r_l U_l + Φ_l]
        const next = await partialTraceOfProduct(r[l], Us[l], s.heads[l]);
        for (let i = 0; i < next.data.length; i++) next.data[i] *= 2;
        if (Phi) {
          const T = partialTraceSlowest(Phi, s.heads[l]);
          for (let i = 0; i < next.data.length; i++) next.data[i] += T.data[i];
        }
        Phi = next;
      }
      const Yl = await gemm(Us[l], dbar);
      for (let i = 0; i < Yl.data.length; i++) Yl.data[i] /= c[l];
      Y.push(Yl);
      const d = await gemm(Yl, Us[l]);
      symmetrizeInPlace(d);
      delta.push(d);
    }
    // dU = T δ from the top down: dU_l = δ_l + (I⊗E_{l+1}) U_l + U_l (I⊗E_{l+1})ᵀ, E_l = ½ Y_l / c_l + I⊗E_{l+1}.
    const out: Vec = new Array(L);
    let E: Matrix | null = null;
    for (let l = L - 1; l >= 0; l--) {
      const n = Us[l].rows;
      const dU = delta[l];
      if (E) {
        const EU = await kronIdentityTimes(s.heads[l], E, Us[l]);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dU.data[i * n + j] += EU.data[i * n + j] + EU.data[j * n + i];
      }
      out[l] = dU;
      if (l > 0) {
        const El: Matrix = { rows: n, cols: n, data: Y[l].data.map((v) => 0.5 * v) };
        if (E) {
          const m = E.rows;
          for (let h = 0; h < s.heads[l]; h++)
            for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) El.data[(h * m + i) * n + h * m + j] += E.data[i * m + j];
        }
        E = El;
      }
    }
    return out;
  };
}

/**
 * Tr_h[A B] for A, B [H·m, H·m] without forming A B: Σ_h A[(h,·), :] B[:, (h,·)] → [m, m], as one product
 * [m, H·n] × [H·n, m] of the rearranged blocks (n = H·m).
 */
async function partialTraceOfProduct(A: Matrix, B: Matrix, H: number): Promise<Matrix> {
  const n = A.rows;
  const m = n / H;
  const Ar = new Float64Array(m * H * n);
  const Br = new Float64Array(H * n * m);
  for (let h = 0; h < H; h++) for (let i = 0; i < m; i++) Ar.set(A.data.subarray((h * m + i) * n, (h * m + i + 1) * n), i * H * n + h * n);
  for (let h = 0; h < H; h++) for (let k = 0; k < n; k++) Br.set(B.data.subarray(k * n + h * m, k * n + h * m + m), (h * n + k) * m);
  return gemm({ rows: m, cols: H * n, data: Ar }, { rows: H * n, cols: m, data: Br });
}

/** (I_H ⊗ E) U for E [m, m], U [H·m, n], without forming I ⊗ E: E times the block rows of U side by side. */
async function kronIdentityTimes(H: number, E: Matrix, U: Matrix): Promise<Matrix> {
  const m = E.rows;
  const n = U.cols;
  const Ur = new Float64Array(m * H * n);
  for (let h = 0; h < H; h++) for (let k = 0; k < m; k++) Ur.set(U.data.subarray((h * m + k) * n, (h * m + k + 1) * n), k * H * n + h * n);
  const R = await gemm(E, { rows: m, cols: H * n, data: Ur });
  const out = new Float64Array(U.rows * n);
  for (let h = 0; h < H; h++) for (let i = 0; i < m; i++) out.set(R.data.subarray(i * H * n + h * n, i * H * n + (h + 1) * n), (h * m + i) * n);
  return { rows: U.rows, cols: n, data: out };
}

/**
 * Minimizes S / max N from `start` by trust-region Newton–CG (see the module doc; docs/theory.md §d).
 * @param energy the energy part on the training set (its cache follows the last evaluated U_1).
 * @param start [U_1, …, U_L], symmetric positive definite.
 * @returns the last accepted point with convergence information; never throws for non-convergence.
 * @throws NumericalError when the start cannot be evaluated; the abort reason when aborted.
 */
export async function newtonCgMinimize(s: TheorySettings, energy: HvpEnergy, start: Matrix[], opts: NewtonCgOptions): Promise<NewtonCgResult> {
  const maxWidth = Math.max(...s.widths);
  const scale = 1 / maxWidth;
  const tol = opts.tolerance;
  const maxCg = opts.maxCgIterations ?? 250;
  const minWeight = Math.min(...s.widths.slice(0, s.heads.length)) / maxWidth;
  let evaluations = 0;
  let hessianProducts = 0;
  let cgTotal = 0;
  let newtonSteps = 0;

  const evaluate = async (Us: Matrix[]): Promise<Point | null> => {
    opts.signal?.throwIfAborted();
    evaluations++;
    try {
      const inverses = await orderParameterInverses(Us);
      const ent = entropy(s, Us, true, inverses);
      const en = await energy.evaluate(Us[0], true);
      const r = combineAction(s, ent, en, true);
      if (!Number.isFinite(r.value) || !Number.isFinite(r.maxGradNormalized!)) return null;
      return { Us, f: r.value * scale, r, inverses };
    } catch (e) {
      if (e instanceof NumericalError) return null; // outside the positive-definite domain
      throw e;
    }
  };

  let cur = await evaluate(start);
  if (!cur) {
    // Evaluate once more without catching, so the caller sees exactly what failed.
    combineAction(s, entropy(s, start, true), await energy.evaluate(start[0], true), true);
    throw new NumericalError('the action cannot be evaluated at the starting point');
  }
  // Trust radius in the preconditioner's norm (Σ_l c_l ‖U_l^{-1/2} δ_l U_l^{-1/2}‖²_F); 0.5·min √c_l
  // bounds each level's own step by 0.5 in the affine metric, well inside the positive-definite domain.
  const radius0 = 0.5 * Math.sqrt(minWeight);
  let radius = radius0;
  const radiusMax = 1e6 * radius0;
  let iterations = 0;
  let stopReason = '';
  let converged = cur.r.maxGradNormalized! < tol;
  let rejectedInARow = 0;

  while (!converged && iterations < opts.maxIterations) {
    iterations++;
    const here: Point = cur;
    const g: Vec = here.r.grads!.map((G) => ({ rows: G.rows, cols: G.cols, data: G.data.map((v) => v * scale) }));
    const curvature = entropyCurvature(
      s,
      here.Us,
      here.inverses.map((x) => x.inv),
    );
    const hess = async (d: Vec): Promise<Vec> => {
      opts.signal?.throwIfAborted();
      hessianProducts++;
      const out = await curvature.apply(d);
      const e = await energy.hessianVectorProduct(here.Us[0], d[0]);
      for (let i = 0; i < e.data.length; i++) out[0].data[i] += e.data[i];
      return scaled(out, scale);
    };
    const precondition = gaugePreconditioner(s, here.Us, curvature.inverses);
    const sub = await steihaug(g, hess, precondition, radius, maxCg, 0.3 * tol);
    cgTotal += sub.iterations;
    const pNorm = Math.sqrt(sub.pMp);
    // Try the step, shortening it (t = 1, 1/4, 1/16, …) when the trial leaves the domain or the
    // decrease falls short of the model's; the last evaluated trial is the accepted point, so the
    // energy's cache is already there.
    let accepted: Point | null = null;
    let rho = 0;
    let t = 1;
    for (let k = 0; k < 8; k++, t *= 0.25) {
      const trialUs = axpy(here.Us, t, sub.p);
      const pt = await evaluate(trialUs);
      if (!pt) continue;
      const pred = -(t * sub.gp + 0.5 * t * t * sub.pHp);
      const gNew: Vec = pt.r.grads!.map((G) => ({ rows: G.rows, cols: G.cols, data: G.data.map((v) => v * scale) }));
      let ared = here.f - pt.f;
      // Near the minimum f changes by far less than its rounding (~1e-16·|f|): estimate the decrease
      // from the gradients instead (trapezoid rule along the step, exact for a quadratic).
      if (pred < 1e-10 * Math.max(1, Math.abs(here.f))) ared = -0.5 * t * (dot(g, sub.p) + dot(gNew, sub.p));
      rho = pred > 0 ? ared / pred : -1;
      if (rho > 1e-4) {
        accepted = pt;
        break;
      }
    }
    if (!accepted) {
      radius = 0.25 * t * pNorm;
      rejectedInARow++;
      if (rejectedInARow >= 3 || radius < 1e-12 * radius0) {
        stopReason = `trust region collapsed at max |∂(S/max N)/∂U| = ${cur.r.maxGradNormalized!.toExponential(2)} (no step lowered the action)`;
        break;
      }
      continue;
    }
    rejectedInARow = 0;
    newtonSteps++;
    if (t < 1) radius = t * pNorm;
    else if (rho < 0.25) radius = 0.25 * pNorm;
    else if (rho > 0.75 && sub.hitBoundary) radius = Math.min(2 * radius, radiusMax);
    // In the local phase (interior step, model exact, CG asked for ≥ 20× less residual) the gradient
    // must fall by a good factor; if it does not, float32 rounding in the Hessian–vector products is
    // what limits the step: continue in float64.
    const ratio = accepted.r.maxGradNormalized! / cur.r.maxGradNormalized!;
    if (energy.hessianPrecision === 'float32' && !sub.hitBoundary && sub.forcing < 0.05 && Math.abs(rho - 1) < 0.1 && ratio > 0.5) {
      energy.hessianPrecision = 'float64';
    }
    cur = accepted;
    converged = cur.r.maxGradNormalized! < tol;
    opts.onProgress?.({ iteration: iterations, value: cur.f, maxGradNormalized: cur.r.maxGradNormalized!, cgIterations: sub.iterations });
  }
  if (converged) stopReason = `max |∂(S/max N)/∂U| = ${cur.r.maxGradNormalized!.toExponential(2)} < ${tol}`;
  else if (!stopReason) stopReason = `Newton iteration limit ${opts.maxIterations} reached`;
  return {
    Us: cur.Us,
    action: cur.r,
    iterations,
    newtonSteps,
    cgIterations: cgTotal,
    evaluations,
    hessianProducts,
    converged,
    stopReason,
    maxGradNormalized: cur.r.maxGradNormalized!,
  };
}

interface SubproblemStep {
  p: Vec;
  /** gᵀp and pᵀHp (for the model value at t·p) */
  gp: number;
  pHp: number;
  /** ‖p‖²_M */
  pMp: number;
  iterations: number;
  hitBoundary: boolean;
  /** The forcing term η of this solve (relative residual CG aimed at). */
  forcing: number;
}

/**
 * Steihaug–Toint truncated preconditioned CG for min_p gᵀp + ½pᵀHp subject to ‖p‖_M ≤ radius
 * (Nocedal & Wright, Alg. 7.2, with the M-norms of the iterates by the recurrences of Gould et al. 1999).
 * Stops at the boundary, on negative curvature, when ‖r‖_{M⁻¹} ≤ η‖g‖_{M⁻¹} with the forcing
 * term η = min(0.5, √‖g‖_{M⁻¹}) (superlinear local convergence), or when max |r| < `enough`.
 */
async function steihaug(
  g: Vec,
  hess: (d: Vec) => Promise<Vec>,
  precondition: (r: Vec) => Promise<Vec>,
  radius: number,
  maxIterations: number,
  enough: number,
): Promise<SubproblemStep> {
  let z = zerosLike(g);
  let r = g;
  let y = await precondition(r);
  let ry = dot(r, y);
  if (!(ry > 0)) return { p: zerosLike(g), gp: 0, pHp: 0, pMp: 0, iterations: 0, hitBoundary: false, forcing: 0 };
  const gNorm = Math.sqrt(Math.max(ry, 0));
  const forcing = Math.min(0.5, Math.sqrt(gNorm));
  const target = forcing * gNorm;
  let d = scaled(y, -1);
  let zMz = 0;
  let zMd = 0;
  let dMd = ry;
  let gz = 0;
  let model = 0; // gᵀz + ½zᵀHz
  const finish = (p: Vec, gp: number, m: number, pMp: number, iterations: number, hitBoundary: boolean): SubproblemStep => ({
    p,
    gp,
    pHp: 2 * (m - gp),
    pMp,
    iterations,
    hitBoundary,
    forcing,
  });
  const toBoundary = (Hd: number, rd: number, gd: number, iterations: number): SubproblemStep => {
    const tau = (-zMd + Math.sqrt(Math.max(zMd * zMd + dMd * (radius * radius - zMz), 0))) / dMd;
    return finish(axpy(z, tau, d), gz + tau * gd, model + tau * rd + 0.5 * tau * tau * Hd, radius * radius, iterations, true);
  };
  for (let j = 0; j < maxIterations; j++) {
    const Hd = await hess(d);
    const kappa = dot(d, Hd);
    const rd = dot(r, d);
    const gd = dot(g, d);
    if (!(kappa > 0)) return toBoundary(kappa, rd, gd, j + 1);
    const alpha = ry / kappa;
    const zMzNext = zMz + 2 * alpha * zMd + alpha * alpha * dMd;
    if (zMzNext >= radius * radius) return toBoundary(kappa, rd, gd, j + 1);
    z = axpy(z, alpha, d);
    gz += alpha * gd;
    model += alpha * rd + 0.5 * alpha * alpha * kappa;
    zMz = zMzNext;
    r = axpy(r, alpha, Hd);
    y = await precondition(r);
    const ryNext = dot(r, y);
    // r is the model's gradient at z: once its largest entry is well below the tolerance (0.3 of it,
    // margin for the model's error), solving further buys nothing.
    if (Math.sqrt(Math.max(ryNext, 0)) <= target || maxAbsVec(r) < enough) return finish(z, gz, model, zMz, j + 1, false);
    const beta = ryNext / ry;
    zMd = beta * (zMd + alpha * dMd);
    dMd = ryNext + beta * beta * dMd;
    ry = ryNext;
    d = axpy(scaled(y, -1), beta, d);
  }
  return finish(z, gz, model, zMz, maxIterations, false);
}
