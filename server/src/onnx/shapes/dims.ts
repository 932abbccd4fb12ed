/**
 * Symbolic dimension algebra for static shape inference.
 *
 * A dimension is a number, a monomial `k × s1 × s2 …` over named symbols (graph-input `dim_param`s such as
 * `batch`, or fresh names for anonymous dims), or unknown (`null`). Monomials are closed under the products and
 * exact quotients that head split/merge Reshapes compute (e.g. PyTorch's `nn.MultiheadAttention` folds heads into
 * the batch axis as `batch × 4`), which is what lets the detector read head counts from dynamic-batch graphs.
 * Sums of different monomials are not representable and become unknown.
 */

/** `k × Π s` with `s` sorted (repeats allowed); never has `k = 0` with symbols. */
export interface SymDim {
  k: number;
  s: string[];
}

/** A dimension (or an element of an integer shape tensor): number, symbolic monomial, or unknown. */
export type Dim = number | SymDim | null;

/** Normalizes a monomial: no symbols → plain number; zero coefficient → 0. */
export function sym(k: number, s: string[]): Dim {
  if (!Number.isFinite(k)) return null;
  if (s.length === 0 || k === 0) return k;
  return { k, s: [...s].sort() };
}

/** A named symbol as a dimension. */
export function symbol(name: string): Dim {
  return { k: 1, s: [name] };
}

/** True for a plain numeric dim. */
export function isNum(d: Dim): d is number {
  return typeof d === 'number';
}

/** True for a symbolic monomial. */
export function isSym(d: Dim): d is SymDim {
  return d !== null && typeof d === 'object';
}

/** Structural equality (unknown never equals anything, itself included). */
export function dimEq(a: Dim, b: Dim): boolean {
  if (a === null || b === null) return false;
  if (isNum(a) || isNum(b)) return a === b;
  return a.k === b.k && a.s.length === b.s.length && a.s.every((x, i) => x === b.s[i]);
}

/** Product of two dims (unknown if either is unknown). */
export function dimMul(a: Dim, b: Dim): Dim {
  if (a === null || b === null) return null;
  if (isNum(a) && isNum(b)) return a * b;
  if (isNum(a)) return a === 0 ? 0 : sym(a * (b as SymDim).k, (b as SymDim).s);
  if (isNum(b)) return b === 0 ? 0 : sym(b * a.k, a.s);
  return sym(a.k * b.k, [...a.s, ...b.s]);
}

/** Removes each symbol of `sub` once from `from`; null when `sub` is not a sub-multiset. */
function removeSyms(from: string[], sub: string[]): string[] | null {
  const rest = [...from];
  for (const x of sub) {
    const i = rest.indexOf(x);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return rest;
}

/** Exact quotient `a / b`; null when it is not a monomial with an integer coefficient (or b is 0/unknown). */
export function dimDivExact(a: Dim, b: Dim): Dim {
  if (a === null || b === null) return null;
  if (isNum(b)) {
    if (b === 0) return null;
    if (isNum(a)) return a % b === 0 ? a / b : null;
    return a.k % b === 0 ? sym(a.k / b, a.s) : null;
  }
  if (isNum(a)) return null;
  const rest = removeSyms(a.s, b.s);
  if (!rest || a.k % b.k !== 0) return null;
  return sym(a.k / b.k, rest);
}

/** Sum of two dims: numbers, or monomials over the same symbols; otherwise unknown. */
export function dimAdd(a: Dim, b: Dim): Dim {
  if (a === null || b === null) return null;
  if (isNum(a) && isNum(b)) return a + b;
  if (isNum(a) && a === 0) return b;
  if (isNum(b) && b === 0) return a;
  if (isSym(a) && isSym(b) && a.s.join('*') === b.s.join('*')) return sym(a.k + b.k, a.s);
  return null;
}

/** Difference of two dims (same rules as `dimAdd`). */
export function dimSub(a: Dim, b: Dim): Dim {
  if (b === null) return null;
  return dimAdd(a, isNum(b) ? -b : sym(-b.k, b.s));
}

/** Product of dims (1 for an empty list). */
export function dimProd(ds: Dim[]): Dim {
  return ds.reduce<Dim>((a, b) => dimMul(a, b), 1);
}

/** Human/JSON form: `12`, `batch`, `4*batch`, or null for unknown. */
export function dimToJson(d: Dim): number | string | null {
  if (d === null) return null;
  if (isNum(d)) return d;
  return (d.k === 1 ? '' : d.k === -1 ? '-' : `${d.k}*`) + d.s.join('*');
}

/** Display form of a shape: `[batch, 12, 16]`, `?` for unknown dims, `[?…]` for unknown rank. */
export function shapeToString(s: Dim[] | null): string {
  if (!s) return '[?…]';
  return `[${s.map((d) => (d === null ? '?' : String(dimToJson(d)))).join(', ')}]`;
}
