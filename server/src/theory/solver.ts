/**
 * Minimization of the action over the order parameters (docs/theory.md §d, "Reference solver").
 *
 * Phase 1: L-BFGS on Cholesky factors, U_l = L_l L_lᵀ, which keeps every U_l positive semi-definite by
 * construction (a step that makes one singular is rejected by the line search, since S → +∞ there).
 * The line search enforces the strong Wolfe conditions, falling back to Hager–Zhang's approximate Wolfe
 * conditions once function differences are at rounding level (near the minimum S changes by ~|∇S|²,
 * far below 1e-16·|S|, so only the gradient can still be trusted).
 * Phase 2 (small problems): Newton steps in the symmetric entries of the U_l, with the Hessian from
 * central differences of the exact gradient. Newton converges quadratically, which is what reaches
 * max |∂(S/max N)/∂U_l| < 1e-9 and below in a few steps.
 *
 * When that dense Hessian is not cheap (many attention paths, or N0·H_tot > 4096), `method: 'auto'`
 * runs trust-region Newton–CG with exact Hessian–vector products from the start instead
 * (`newtonCg.ts`), which stays second order at any number of paths.
 *
 * The objective is S / max(N_l, N_a), as in the authors' code.
 */
import { Matrix, zeros, maxAbs } from '../linalg/matrix';
import { choleskySync } from '../linalg/cholesky';
import { TheorySettings, gpOrderParameters, orderParameterSizes } from './orderParams';
import { ActionResult, NumericalError, actionWithEnergy, entropy } from './action';
import { EXACT_HESSIAN_MAX_D } from './hessian';
import { type EnergyEvaluator, type EnergySpace, createEnergyEvaluator } from './energySpace';
import type { PathFeatures } from './kernels';
import { type HvpEnergy, sampleSpaceEnergy } from './sampleEnergy';
import { newtonCgMinimize } from './newtonCg';

export interface SolverProgress {
  phase: 'L-BFGS' | 'Newton' | 'Newton-CG';
  iteration: number;
  /** S / max N */
  value: number;
  maxGradNormalized: number;
}

export interface SolverOptions {
  /** Stop when max |∂(S/max N)/∂U_l| < tolerance. Default 1e-9. */
  tolerance?: number;
  /** Cap on iterations (L-BFGS iterations plus Newton steps; Newton–CG: Newton iterations). Default 500. */
  maxIterations?: number;
  /**
   * 'auto' (default): L-BFGS with a dense Newton polish when the dense Hessian is cheap (N0·H_tot ≤ 4096
   * and at most 400 order-parameter entries), else Newton–CG from the start. 'lbfgs' or 'newton-cg' force one.
   */
  method?: 'auto' | 'lbfgs' | 'newton-cg';
  /** Newton polish: 'auto' (when the finite-difference Hessian is affordable), 'always' or 'never'. */
  newton?: 'auto' | 'always' | 'never';
  /** Starting point [U_1, …, U_L]; default the GP values. */
  init?: Matrix[];
  /** Called once per iteration. */
  onProgress?: (p: SolverProgress) => void;
  /** Aborts the solve between evaluations (throws the signal's reason). */
  signal?: AbortSignal;
  /** How the energy is evaluated (sample or feature space, energySpace.ts); default: the cheaper space for train. */
  energy?: EnergyEvaluator;
  /**
   * The energy Newton–CG uses (it needs only values, gradients and Hessian–vector products); default: in sample
   * space its own evaluator (sampleEnergy.ts: float32 products, L⁻¹Φ cached), in feature space `energy`'s.
   */
  newtonCgEnergy?: HvpEnergy;
}

export interface SolverResult {
  /** [U_1, …, U_L] at the returned point. */
  Us: Matrix[];
  /** The action (raw and parts) and gradient there. */
  action: ActionResult;
  iterations: number;
  evaluations: number;
  converged: boolean;
  stopReason: string;
  maxGradNormalized: number;
  method: string;
  /** Newton–CG only: accepted Newton steps, CG iterations and Hessian–vector products. */
  newtonSteps?: number;
  cgIterations?: number;
  hessianProducts?: number;
  /** The space the energy was evaluated in. */
  space: EnergySpace;
}

/** One evaluation of the normalized objective. */
interface Point {
  Us: Matrix[];
  f: number;
  r: ActionResult;
}

/**
 * Most symmetric entries (all U_l together) for which `method: 'auto'` uses L-BFGS with the dense Newton
 * polish; above it, or when N0·H_tot > EXACT_HESSIAN_MAX_D, Newton–CG.
 */
export const DENSE_NEWTON_MAX_ENTRIES = 400;

/** Largest estimated cost of one finite-difference Hessian for the automatic Newton polish. */
const NEWTON_BUDGET_MS = 15000;

function lowerTriangleSize(n: number): number {
  return (n * (n + 1)) / 2;
}

/** Cholesky factors → flat parameter vector (lower triangles, U_1 first). */
function packFactors(Ls: Matrix[]): Float64Array {
  const out = new Float64Array(Ls.reduce((a, L) => a + lowerTriangleSize(L.rows), 0));
  let k = 0;
  for (const L of Ls) for (let i = 0; i < L.rows; i++) for (let j = 0; j <= i; j++) out[k++] = L.data[i * L.rows + j];
  return out;
}

function unpackFactors(theta: Float64Array, sizes: number[]): Matrix[] {
  let k = 0;
  return sizes.map((n) => {
    const L = zeros(n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) L.data[i * n + j] = theta[k++];
    return L;
  });
}

function gram(L: Matrix): Matrix {
  const n = L.rows;
  const U = zeros(n, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k <= j; k++) s += L.data[i * n + k] * L.data[j * n + k];
      U.data[i * n + j] = s;
      U.data[j * n + i] = s;
    }
  return U;
}

/** ∂f/∂L = 2 G L (G symmetric), lower triangle, flattened like `packFactors`. */
function factorGradient(grads: Matrix[], Ls: Matrix[], scale: number): Float64Array {
  const out = new Float64Array(Ls.reduce((a, L) => a + lowerTriangleSize(L.rows), 0));
  let k = 0;
  grads.forEach((G, l) => {
    const L = Ls[l];
    const n = L.rows;
    for (let i = 0; i < n; i++)
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let m = j; m < n; m++) s += G.data[i * n + m] * L.data[m * n + j];
        out[k++] = 2 * s * scale;
      }
  });
  return out;
}

/** Symmetric entries (upper triangle incl. diagonal, U_1 first) ↔ matrices. */
function packSymmetric(Us: Matrix[]): Float64Array {
  const out = new Float64Array(Us.reduce((a, U) => a + lowerTriangleSize(U.rows), 0));
  let k = 0;
  for (const U of Us) for (let i = 0; i < U.rows; i++) for (let j = i; j < U.rows; j++) out[k++] = U.data[i * U.rows + j];
  return out;
}

function unpackSymmetric(u: Float64Array, sizes: number[]): Matrix[] {
  let k = 0;
  return sizes.map((n) => {
    const U = zeros(n, n);
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        U.data[i * n + j] = u[k];
        U.data[j * n + i] = u[k++];
      }
    return U;
  });
}

/** Gradient w.r.t. the symmetric entries: G_ii on the diagonal, 2 G_ij off it. */
function symmetricGradient(grads: Matrix[], scale: number): Float64Array {
  const out = new Float64Array(grads.reduce((a, G) => a + lowerTriangleSize(G.rows), 0));
  let k = 0;
  for (const G of grads) {
    const n = G.rows;
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) out[k++] = (i === j ? 1 : 2) * G.data[i * n + j] * scale;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(x: Float64Array, a: number, d: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + a * d[i];
  return out;
}

function isPositiveDefinite(U: Matrix): boolean {
  try {
    choleskySync(U);
    return true;
  } catch {
    return false;
  }
}

/**
 * Minimizes S / max N over [U_1, …, U_L] (docs/theory.md §d).
 * @param train Φ [P, N0, H_tot] of the training set; y [P] labels.
 * @returns the minimizer, the action there, and convergence information (never throws for
 *   non-convergence: `converged` is false and `stopReason` says why).
 * @throws NumericalError when even the starting point cannot be evaluated; the abort reason when aborted.
 */
export async function minimizeAction(s: TheorySettings, train: PathFeatures, y: Float64Array, opts: SolverOptions = {}): Promise<SolverResult> {
  const tol = opts.tolerance ?? 1e-9;
  const maxIter = opts.maxIterations ?? 500;
  const sizes = orderParameterSizes(s.heads);
  const maxWidth = Math.max(...s.widths);
  const scale = 1 / maxWidth;
  let evaluations = 0;
  const ev = opts.energy ?? (await createEnergyEvaluator(train, y, s.temperature));
  const p = sizes.reduce((a, n) => a + lowerTriangleSize(n), 0);
  const D = train.features * train.paths;
  const exactHessian = D <= EXACT_HESSIAN_MAX_D;
  const method = opts.method ?? 'auto';
  if (method === 'newton-cg' || (method === 'auto' && !(exactHessian && p <= DENSE_NEWTON_MAX_ENTRIES))) {
    // Newton–CG needs only the energy and its Hessian–vector products. In sample space the dedicated evaluator
    // (sampleEnergy.ts) caches L⁻¹Φ for the products and runs them in float32 while that does not limit the
    // convergence; in feature space the chosen evaluator serves.
    const hvp = opts.newtonCgEnergy ?? (ev.space === 'sample' ? sampleSpaceEnergy(train, y, s.temperature) : ev);
    const r = await newtonCg(s, hvp, opts.init ?? gpOrderParameters(s), {
      tolerance: tol,
      maxIterations: maxIter,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    return { ...r, space: ev.space };
  }

  const evaluate = async (Us: Matrix[]): Promise<Point | null> => {
    opts.signal?.throwIfAborted();
    evaluations++;
    try {
      const r = await actionWithEnergy(s, ev, Us, true);
      if (!Number.isFinite(r.value)) return null;
      return { Us, f: r.value * scale, r };
    } catch (e) {
      if (e instanceof NumericalError) return null; // outside the domain (a singular U_l): the line search shrinks the step
      throw e;
    }
  };

  const init = opts.init ?? gpOrderParameters(s);
  let Ls: Matrix[] = init.map((U, l) => {
    try {
      return choleskySync(U);
    } catch {
      throw new NumericalError(`starting point U_${l + 1} is not positive definite`);
    }
  });
  let theta = packFactors(Ls);
  let cur = await evaluate(Ls.map(gram));
  if (!cur) {
    // Evaluate once more without catching, so the caller sees exactly what failed.
    await actionWithEnergy(s, ev, Ls.map(gram), true);
    throw new NumericalError('the action cannot be evaluated at the starting point');
  }
  let g = factorGradient(cur.r.grads!, Ls, scale);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const memory = 12;
  let iterations = 0;
  let stopReason = '';
  let converged = cur.r.maxGradNormalized! < tol;
  // Newton's Hessian: exact for the energy when Φᵀ M⁻¹ Φ (D×D) is small enough to form (about two
  // evaluations' cost), else central differences of the gradient (2p evaluations) when that is cheap.
  const evalStart = performance.now();
  const evalsAtStart = evaluations;
  const newtonAffordable = () => {
    if (exactHessian) return true;
    const perEval = (performance.now() - evalStart) / Math.max(1, evaluations - evalsAtStart);
    return p <= DENSE_NEWTON_MAX_ENTRIES && 2 * p * perEval <= NEWTON_BUDGET_MS;
  };
  let useNewton = opts.newton === 'always' || (opts.newton !== 'never' && p <= DENSE_NEWTON_MAX_ENTRIES);
  // Hand over to Newton once the gradient is small enough for the quadratic model to be useful. With the exact
  // energy Hessian a Newton step costs about two evaluations, and the damped step (shifted Hessian, halving,
  // fallback to L-BFGS) is safe well before the quadratic region: at P = 2000, D = 3200 (the bench's `large`) a
  // switch at 1e-1 takes 14 evaluations against 29 at 1e-4, to the same U (test metrics equal to 1e-12).
  const newtonSwitch = Math.max(tol, exactHessian ? 1e-1 : 1e-6);
  const hessian = exactHessian ? (pt: Point) => exactActionHessian(s, ev, pt, scale) : (pt: Point) => finiteDifferenceHessian(pt, sizes, scale, evaluate);
  let methodName = 'L-BFGS on Cholesky factors';

  while (!converged && iterations < maxIter) {
    if (useNewton && cur.r.maxGradNormalized! < newtonSwitch) {
      useNewton = false; // one Newton phase at most; if it stalls, L-BFGS takes over again
      if (opts.newton === 'always' || newtonAffordable()) {
        methodName += exactHessian ? ' + Newton (exact energy Hessian)' : ' + Newton (finite-difference Hessian)';
        const res = await newtonPolish(cur, sizes, scale, tol, evaluate, opts, iterations, hessian);
        iterations = res.iterations;
        if (res.pt !== cur) {
          cur = res.pt;
          Ls = cur.Us.map((U) => choleskySync(U));
          theta = packFactors(Ls);
          g = factorGradient(cur.r.grads!, Ls, scale);
          history.length = 0;
        }
        converged = cur.r.maxGradNormalized! < tol;
        continue;
      }
    }
    iterations++;
    // Two-loop recursion for d = −H g.
    const q = Float64Array.from(g);
    const alphas: number[] = [];
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i];
      const a = h.rho * dot(h.s, q);
      alphas.push(a);
      for (let k = 0; k < q.length; k++) q[k] -= a * h.y[k];
    }
    let gammaScale: number;
    if (history.length) {
      const h = history[history.length - 1];
      gammaScale = dot(h.s, h.y) / dot(h.y, h.y);
    } else {
      gammaScale = Math.min(1, 0.1 / Math.max(maxAbs(g), 1e-300)); // a cautious first step
    }
    for (let k = 0; k < q.length; k++) q[k] *= gammaScale;
    for (let i = 0; i < history.length; i++) {
      const h = history[i];
      const b = h.rho * dot(h.y, q);
      const a = alphas[history.length - 1 - i];
      for (let k = 0; k < q.length; k++) q[k] += h.s[k] * (a - b);
    }
    const d = q.map((v) => -v);
    let dphi0 = dot(g, d);
    if (!(dphi0 < 0)) {
      // Not a descent direction (curvature information went stale): restart from steepest descent.
      history.length = 0;
      for (let k = 0; k < d.length; k++) d[k] = -g[k] * Math.min(1, 0.1 / Math.max(maxAbs(g), 1e-300));
      dphi0 = dot(g, d);
    }
    const ls = await lineSearch(theta, d, cur, dphi0, async (th) => {
      const Lc = unpackFactors(th, sizes);
      const pt = await evaluate(Lc.map(gram));
      if (!pt) return null;
      return { pt, g: factorGradient(pt.r.grads!, Lc, scale) };
    });
    if (!ls) {
      if (history.length) {
        history.length = 0; // retry once from steepest descent before giving up
        continue;
      }
      stopReason = 'line search found no acceptable step';
      break;
    }
    const sVec = new Float64Array(theta.length);
    const yVec = new Float64Array(theta.length);
    for (let k = 0; k < theta.length; k++) {
      sVec[k] = ls.theta[k] - theta[k];
      yVec[k] = ls.g[k] - g[k];
    }
    const sy = dot(sVec, yVec);
    if (sy > 1e-18 * Math.sqrt(dot(sVec, sVec) * dot(yVec, yVec))) {
      history.push({ s: sVec, y: yVec, rho: 1 / sy });
      if (history.length > memory) history.shift();
    }
    theta = ls.theta;
    cur = ls.pt;
    g = ls.g;
    converged = cur.r.maxGradNormalized! < tol;
    opts.onProgress?.({ phase: 'L-BFGS', iteration: iterations, value: cur.f, maxGradNormalized: cur.r.maxGradNormalized! });
  }
  if (converged) stopReason = `max |∂(S/max N)/∂U| = ${cur.r.maxGradNormalized!.toExponential(2)} < ${tol}`;
  else if (!stopReason) stopReason = `iteration limit ${maxIter} reached`;
  return {
    Us: cur.Us,
    action: cur.r,
    iterations,
    evaluations,
    converged,
    stopReason,
    maxGradNormalized: cur.r.maxGradNormalized!,
    method: methodName,
    space: ev.space,
  };
}

/** The Newton–CG branch of `minimizeAction`, in its result shape (without `space`). */
async function newtonCg(
  s: TheorySettings,
  energy: HvpEnergy,
  init: Matrix[],
  o: { tolerance: number; maxIterations: number; signal?: AbortSignal; onProgress?: (p: SolverProgress) => void },
): Promise<Omit<SolverResult, 'space'>> {
  init.forEach((U, l) => {
    if (!isPositiveDefinite(U)) throw new NumericalError(`starting point U_${l + 1} is not positive definite`);
  });
  const r = await newtonCgMinimize(s, energy, init, {
    tolerance: o.tolerance,
    maxIterations: o.maxIterations,
    signal: o.signal,
    onProgress: (q) => o.onProgress?.({ phase: 'Newton-CG', iteration: q.iteration, value: q.value, maxGradNormalized: q.maxGradNormalized }),
  });
  return {
    Us: r.Us,
    action: r.action,
    iterations: r.iterations,
    evaluations: r.evaluations,
    converged: r.converged,
    stopReason: r.stopReason,
    maxGradNormalized: r.maxGradNormalized,
    method: `Newton–CG (trust region, exact Hessian–vector products, ${energy.space} space): ${r.newtonSteps} Newton steps, ${r.cgIterations} CG iterations`,
    newtonSteps: r.newtonSteps,
    cgIterations: r.cgIterations,
    hessianProducts: r.hessianProducts,
  };
}

interface LinePoint {
  theta: Float64Array;
  pt: Point;
  g: Float64Array;
}

/**
 * Strong-Wolfe line search (Nocedal & Wright, Alg. 3.5/3.6) along d from theta, with Hager–Zhang's
 * approximate Wolfe test when function values no longer resolve the decrease. Returns null when no
 * acceptable step was found.
 */
export async function lineSearch(
  theta: Float64Array,
  d: Float64Array,
  cur: Point,
  dphi0: number,
  at: (th: Float64Array) => Promise<{ pt: Point; g: Float64Array } | null>,
): Promise<LinePoint | null> {
  const c1 = 1e-4;
  const c2 = 0.9;
  const f0 = cur.f;
  const epsF = 1e-12 * Math.abs(f0);
  const probe = async (a: number) => {
    const th = axpy(theta, a, d);
    const r = await at(th);
    if (!r) return { a, f: Infinity, dphi: NaN, lp: null as LinePoint | null };
    return { a, f: r.pt.f, dphi: dot(r.g, d), lp: { theta: th, pt: r.pt, g: r.g } as LinePoint };
  };
  const acceptable = (x: { f: number; a: number; dphi: number }) => {
    const armijo = x.f <= f0 + c1 * x.a * dphi0;
    const curvature = Math.abs(x.dphi) <= -c2 * dphi0;
    if (armijo && curvature) return true;
    // approximate Wolfe (Hager & Zhang 2005): valid when f is flat to rounding
    return x.f <= f0 + epsF && (2 * c1 - 1) * dphi0 >= x.dphi && x.dphi >= c2 * dphi0;
  };
  let prev = { a: 0, f: f0, dphi: dphi0, lp: null as LinePoint | null };
  let a = 1;
  for (let i = 0; i < 30; i++) {
    const x = await probe(a);
    if (!Number.isFinite(x.f)) {
      // Left the domain (a U_l became singular): shrink towards the last good point.
      a = prev.a + 0.3 * (a - prev.a);
      if (a - prev.a < 1e-14) return prev.lp;
      continue;
    }
    if (acceptable(x)) return x.lp;
    if (x.f > f0 + c1 * x.a * dphi0 + epsF || (i > 0 && x.f >= prev.f && x.f > f0 + epsF)) return zoom(prev, x);
    if (x.dphi >= 0) return zoom(x, prev);
    prev = x;
    a *= 2;
  }
  return null;

  async function zoom(lo: typeof prev, hi: typeof prev): Promise<LinePoint | null> {
    for (let j = 0; j < 40; j++) {
      const a = cubicMin(lo, hi);
      const x = await probe(a);
      if (Number.isFinite(x.f) && acceptable(x)) return x.lp;
      if (!Number.isFinite(x.f) || x.f > f0 + c1 * a * dphi0 + epsF || x.f >= lo.f + (lo.a === 0 ? epsF : 0)) {
        hi = x;
      } else {
        if (x.dphi * (hi.a - lo.a) >= 0) hi = lo;
        lo = x;
      }
      if (Math.abs(hi.a - lo.a) < 1e-16 * Math.max(1, Math.abs(lo.a))) break;
    }
    // Accept the best decreasing point found, if any: progress beats a stall.
    return lo.lp && lo.f < f0 ? lo.lp : null;
  }
}

/** Minimizer of the cubic through (lo, hi) with their slopes, safeguarded into the inner 80% of the bracket. */
function cubicMin(lo: { a: number; f: number; dphi: number }, hi: { a: number; f: number; dphi: number }): number {
  const left = Math.min(lo.a, hi.a);
  const right = Math.max(lo.a, hi.a);
  const w = right - left;
  let a = NaN;
  if (Number.isFinite(hi.f) && Number.isFinite(hi.dphi) && Number.isFinite(lo.f)) {
    const d1 = lo.dphi + hi.dphi - (3 * (lo.f - hi.f)) / (lo.a - hi.a);
    const disc = d1 * d1 - lo.dphi * hi.dphi;
    if (disc >= 0) {
      const d2 = Math.sign(hi.a - lo.a) * Math.sqrt(disc);
      a = hi.a - ((hi.a - lo.a) * (hi.dphi + d2 - d1)) / (hi.dphi - lo.dphi + 2 * d2);
    }
  }
  if (!Number.isFinite(a) || a < left + 0.1 * w || a > right - 0.1 * w) a = left + 0.5 * w;
  return a;
}

/**
 * Jacobian of a gradient in the symmetric entries by central differences, column k from probes at
 * u ± h_k e_k with h_k = rel·max(1, |u_k|). Returns null when `gradient` does (a probe left the domain).
 */
async function differenceColumns(
  u: Float64Array,
  rel: number,
  gradient: (v: Float64Array) => Promise<Float64Array | null> | Float64Array | null,
): Promise<Float64Array | null> {
  const p = u.length;
  const H = new Float64Array(p * p);
  for (let k = 0; k < p; k++) {
    const h = rel * Math.max(1, Math.abs(u[k]));
    const up = Float64Array.from(u);
    const um = Float64Array.from(u);
    up[k] += h;
    um[k] -= h;
    const ga = await gradient(up);
    const gb = await gradient(um);
    if (!ga || !gb) return null;
    for (let j = 0; j < p; j++) H[j * p + k] = (ga[j] - gb[j]) / (2 * h);
  }
  return H;
}

/**
 * Hessian of S/max N w.r.t. the symmetric entries of all U_l by central differences of the exact
 * gradient (2p evaluations). Returns null when a probe leaves the positive-definite domain.
 */
async function finiteDifferenceHessian(
  cur: Point,
  sizes: number[],
  scale: number,
  evaluate: (Us: Matrix[]) => Promise<Point | null>,
): Promise<Float64Array | null> {
  return differenceColumns(packSymmetric(cur.Us), 1e-5, async (v) => {
    const pt = await evaluate(unpackSymmetric(v, sizes));
    return pt ? symmetricGradient(pt.r.grads!, scale) : null;
  });
}

/**
 * Hessian of S/max N w.r.t. the symmetric entries of all U_l: the energy block (U_1 only) exactly
 * (the evaluator's `energyHessian`), the entropy part by central differences of its exact gradient, which is cheap
 * (it involves only the small U_l). Returns null when a probe leaves the positive-definite domain.
 */
async function exactActionHessian(s: TheorySettings, ev: EnergyEvaluator, cur: Point, scale: number): Promise<Float64Array | null> {
  const sizes = cur.Us.map((U) => U.rows);
  const u = packSymmetric(cur.Us);
  const p = u.length;
  const H = await differenceColumns(u, 1e-6, (v) => {
    try {
      return symmetricGradient(entropy(s, unpackSymmetric(v, sizes), true).grads!, scale);
    } catch (e) {
      if (e instanceof NumericalError) return null;
      throw e;
    }
  });
  if (!H) return null;
  const E = await ev.energyHessian(cur.Us[0]);
  const p1 = E.rows;
  for (let i = 0; i < p1; i++) for (let j = 0; j < p1; j++) H[i * p + j] += E.data[i * p1 + j] * scale;
  return H;
}

/**
 * Newton steps in the symmetric entries of the U_l, with the Hessian from `hessian` (symmetrized, and
 * shifted by a multiple of the identity when not positive definite). A step (halved up to 12 times) is
 * accepted when it keeps every U_l positive definite, does not raise S beyond rounding, and lowers the
 * largest gradient entry.
 */
async function newtonPolish(
  start: Point,
  sizes: number[],
  scale: number,
  tol: number,
  evaluate: (Us: Matrix[]) => Promise<Point | null>,
  opts: SolverOptions,
  iterations: number,
  hessian: (pt: Point) => Promise<Float64Array | null>,
): Promise<{ pt: Point; iterations: number; reason: string }> {
  let cur = start;
  let reason = '';
  // The Hessian of the last step and the gradient it was computed at. Once a step has cut the gradient by 10³ or
  // more (the quadratic regime), the Hessian has moved by about the step, i.e. by a relative O(10⁻³) or less, so
  // the next step reuses it (a chord step, converging by that factor per step) instead of forming G_M = ZᵀZ and the
  // Hessian again (at the bench's `large`: 0.55 s of a 1.0 s Newton step). A chord step that is not accepted is
  // retried with a fresh Hessian.
  let kept: { H: Float64Array; grad: number } | null = null;
  for (let it = 0; it < 30; it++) {
    if (cur.r.maxGradNormalized! < tol) return { pt: cur, iterations, reason: '' };
    iterations++;
    const u = packSymmetric(cur.Us);
    const g = symmetricGradient(cur.r.grads!, scale);
    const p = u.length;
    const chord: boolean = kept !== null && cur.r.maxGradNormalized! < 1e-3 * kept.grad;
    const H: Float64Array | null = chord ? kept!.H : await hessian(cur);
    if (!H) return { pt: cur, iterations, reason: 'Hessian probe left the positive-definite domain' };
    // symmetrized in place (a kept one is already symmetric: this rewrites its values unchanged); nothing below
    // writes H again, so a kept H is the symmetrized one itself
    for (let i = 0; i < p; i++)
      for (let j = 0; j < i; j++) {
        const v = 0.5 * (H[i * p + j] + H[j * p + i]);
        H[i * p + j] = v;
        H[j * p + i] = v;
      }
    if (!chord) kept = { H, grad: cur.r.maxGradNormalized! };
    const step = solveShifted(H, g, p);
    if (!step) return { pt: cur, iterations, reason: 'Hessian could not be factored' };
    let accepted: Point | null = null;
    const fTol = 1e-12 * Math.abs(cur.f);
    for (let t = 1, k = 0; k < 12; k++, t *= 0.5) {
      const trial = axpy(u, -t, step);
      const Us = unpackSymmetric(trial, sizes);
      if (!Us.every(isPositiveDefinite)) continue;
      const pt = await evaluate(Us);
      if (pt && pt.f <= cur.f + fTol && pt.r.maxGradNormalized! < cur.r.maxGradNormalized!) {
        accepted = pt;
        break;
      }
    }
    if (!accepted && chord) {
      kept = null; // the stale Hessian did not do: the next iteration forms a fresh one
      iterations--;
      continue;
    }
    if (!accepted) {
      reason = `Newton step did not reduce the gradient below ${cur.r.maxGradNormalized!.toExponential(2)}`;
      break;
    }
    cur = accepted;
    opts.onProgress?.({ phase: 'Newton', iteration: iterations, value: cur.f, maxGradNormalized: cur.r.maxGradNormalized! });
  }
  return { pt: cur, iterations, reason: reason || 'Newton iteration limit reached' };
}

/** Solves (H + λI) x = g with the smallest λ ≥ 0 (from a short ladder) that makes H + λI positive definite. */
function solveShifted(H: Float64Array, g: Float64Array, p: number): Float64Array | null {
  const diagMax = Math.max(...Array.from({ length: p }, (_, i) => Math.abs(H[i * p + i])), 1e-300);
  for (const lam of [0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1]) {
    const M = zeros(p, p);
    for (let i = 0; i < p * p; i++) M.data[i] = H[i];
    for (let i = 0; i < p; i++) M.data[i * p + i] += lam * diagMax;
    let Lf: Matrix;
    try {
      Lf = choleskySync(M);
    } catch {
      continue;
    }
    const x = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      let s = g[i];
      for (let k = 0; k < i; k++) s -= Lf.data[i * p + k] * x[k];
      x[i] = s / Lf.data[i * p + i];
    }
    for (let i = p - 1; i >= 0; i--) {
      x[i] /= Lf.data[i * p + i];
      for (let k = 0; k < i; k++) x[k] -= Lf.data[i * p + k] * x[i];
    }
    return x;
  }
  return null;
}
