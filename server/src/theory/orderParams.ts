/**
 * The hierarchy of order parameters (docs/theory.md §d): a scalar U_a and symmetric positive-definite
 * matrices U_L, …, U_1. U_l has linear size n_l = H_l·H_{l+1}···H_L with multi-index (h_l, …, h_L),
 * h_l slowest; U_1 is the H_tot × H_tot path-by-path matrix that enters the kernel.
 *
 * Arrays of order parameters are always U_1 first: `Us[l − 1]` is U_l.
 */
import { Matrix, identity, zeros } from '../linalg/matrix';

/**
 * Hyperparameters of the theory. Widths and variances are fully expanded.
 */
export interface TheorySettings {
  /** [H_1, …, H_L] */
  heads: number[];
  /** [N_1, …, N_L, N_a] */
  widths: number[];
  /** [σ0², σ1², …, σL², σa²] (variances, not standard deviations) */
  variances: number[];
  /** T_B, the likelihood variance (> 0). */
  temperature: number;
}

/**
 * Checks that settings are complete and sensible.
 * @throws Error naming the field and what was expected.
 */
export function checkSettings(s: TheorySettings): void {
  const L = s.heads.length;
  if (L < 1) throw new Error('heads: at least one layer is needed');
  if (!s.heads.every((h) => Number.isInteger(h) && h >= 1)) throw new Error(`heads: every H_l must be an integer ≥ 1, got [${s.heads}]`);
  if (s.widths.length !== L + 1) throw new Error(`widths: expected L + 1 = ${L + 1} values [N_1..N_L, N_a], got ${s.widths.length}`);
  if (s.variances.length !== L + 2) throw new Error(`variances: expected L + 2 = ${L + 2} values [σ0², σ1²..σL², σa²], got ${s.variances.length}`);
  if (!s.widths.every((n) => Number.isFinite(n) && n > 0)) throw new Error(`widths: every width must be a positive number, got [${s.widths}]`);
  if (!s.variances.every((v) => Number.isFinite(v) && v > 0)) throw new Error(`variances: every variance must be positive, got [${s.variances}]`);
  if (!(Number.isFinite(s.temperature) && s.temperature > 0)) throw new Error(`temperature: T_B must be a positive number, got ${s.temperature}`);
}

/** Linear sizes [n_1, …, n_L] of U_1..U_L, n_l = Π_{k≥l} H_k. */
export function orderParameterSizes(heads: number[]): number[] {
  const n = new Array<number>(heads.length);
  let prod = 1;
  for (let l = heads.length - 1; l >= 0; l--) {
    prod *= heads[l];
    n[l] = prod;
  }
  return n;
}

/** σa² Π_{k=l}^{L} σk² — the GP value of U_l (l = 1..L, 1-based), or σa² for l = L + 1. */
export function gpScale(s: TheorySettings, l = 1): number {
  const L = s.heads.length;
  let g = s.variances[L + 1];
  for (let k = l; k <= L; k++) g *= s.variances[k];
  return g;
}

/** GP-limit order parameters [U_1, …, U_L], U_l = σa² Π_{k≥l} σk² · I (docs/theory.md §h.1). */
export function gpOrderParameters(s: TheorySettings): Matrix[] {
  return orderParameterSizes(s.heads).map((n, i) => identity(n, gpScale(s, i + 1)));
}

/**
 * Partial trace over the slowest index: (Tr_h U)_{ij} = Σ_h U[(h,i),(h,j)].
 * @param U [H·m, H·m]. @returns [m, m].
 */
export function partialTraceSlowest(U: Matrix, H: number): Matrix {
  const m = U.rows / H;
  const out = zeros(m, m);
  const n = U.rows;
  for (let h = 0; h < H; h++) for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) out.data[i * m + j] += U.data[(h * m + i) * n + h * m + j];
  return out;
}

/** I_H ⊗ A: block-diagonal [H·m, H·m] with A [m, m] repeated. */
export function kronIdentity(H: number, A: Matrix): Matrix {
  const m = A.rows;
  const n = H * m;
  const out = zeros(n, n);
  for (let h = 0; h < H; h++) for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) out.data[(h * m + i) * n + h * m + j] = A.data[i * m + j];
  return out;
}

/**
 * U_a at its own stationary point given U_L (closed form, docs/theory.md §d):
 * U_a = (−β + √(β² + 4γ))/2, β = σa²(H_L N_L/N_a − 1), γ = tr(U_L) N_L σa² / (N_a σL²).
 * @param traceUL tr U_L. @returns U_a > 0 (for tr U_L > 0).
 */
export function closedFormUa(s: TheorySettings, traceUL: number): number {
  const L = s.heads.length;
  const HL = s.heads[L - 1];
  const NL = s.widths[L - 1];
  const Na = s.widths[L];
  const sa = s.variances[L + 1];
  const sL = s.variances[L];
  const beta = sa * ((HL * NL) / Na - 1);
  const gamma = (traceUL * NL * sa) / (Na * sL);
  // Written to avoid cancellation when β > 0 and γ is small: (−β + √(β²+4γ))/2 = 2γ / (β + √(β²+4γ)).
  const root = Math.sqrt(beta * beta + 4 * gamma);
  return beta > 0 ? (2 * gamma) / (beta + root) : (root - beta) / 2;
}

/**
 * dU_a/d(tr U_L) of the closed form above (docs/theory.md §d), for second derivatives of the action:
 * from U_a² + β U_a − γ = 0, dU_a/dt = c / (2U_a + β) = c / √(β² + 4γ), c = N_L σa² / (N_a σL²).
 * @param traceUL tr U_L (> 0).
 */
export function closedFormUaDerivative(s: TheorySettings, traceUL: number): number {
  const L = s.heads.length;
  const NL = s.widths[L - 1];
  const Na = s.widths[L];
  const sa = s.variances[L + 1];
  const sL = s.variances[L];
  const beta = sa * ((s.heads[L - 1] * NL) / Na - 1);
  const c = (NL * sa) / (Na * sL);
  return c / Math.sqrt(beta * beta + 4 * c * traceUL);
}
