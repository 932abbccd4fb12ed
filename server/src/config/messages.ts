/**
 * Wording of config messages: display names of keys (with their docs/theory.md symbol), short descriptions of
 * what a schema node accepts, "did you mean" suggestions, and the width/variance length messages shared
 * by `load.ts` and `expand.ts`.
 */
import type { JsonSchema } from './schema';

/** Theory symbols shown next to a key in messages. */
const SYMBOLS: Record<string, string> = {
  temperature: 'T_B',
  widths: 'N',
  variances: 'σ²',
  heads: 'H',
};

/** Names users plausibly write for a key (checked before edit distance). Keys are lower case. */
const ALIASES: Record<string, string> = {
  t_b: 'temperature',
  tb: 'temperature',
  temp: 'temperature',
  n: 'widths',
  width: 'widths',
  sigma2: 'variances',
  variance: 'variances',
  h: 'heads',
  head: 'heads',
  tol: 'tolerance',
  maxiter: 'maxIterations',
  iterations: 'maxIterations',
  p_train: 'P',
};

/** "solver.tolerance", "widths[1]", "temperature (T_B)" for a JSON pointer; "the config" for the root. */
export function displayName(pointer: string): string {
  if (pointer === '') return 'the config';
  const segs = pointer.slice(1).split('/');
  let out = '';
  for (const s of segs) out += /^\d+$/.test(s) ? `[${s}]` : (out ? '.' : '') + s;
  const sym = segs.length === 1 ? SYMBOLS[segs[0]] : undefined;
  return sym ? `${out} (${sym})` : out;
}

/** A value as it appears in a message: strings quoted, arrays/objects as compact JSON, mappings as "a mapping". */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return JSON.stringify(v).replace(/,/g, ', ');
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** Edit distance with adjacent transpositions (optimal string alignment): insert, delete, substitute, swap each cost 1. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate closest to `word`, or undefined when none is close: an alias, a case/underscore-insensitive
 * match, or an edit distance of 0 for words of 1–2 characters, ≤ 1 for 3–4 characters, else ≤ max(2, ⌊len/3⌋)
 * (ties: the first candidate).
 */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_\-\s]/g, '');
  const alias = ALIASES[word.toLowerCase()];
  if (alias && candidates.includes(alias)) return alias;
  const exact = candidates.find((c) => norm(c) === norm(word));
  if (exact) return exact;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(norm(word), norm(c));
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const n = norm(word).length;
  const limit = n <= 2 ? 0 : n <= 4 ? 1 : Math.max(2, Math.floor(n / 3));
  return bestD <= limit ? best : undefined;
}

/** A bound as people write it: 1e15 rather than 1000000000000000. */
function num(x: number): string {
  return Math.abs(x) >= 1e6 ? x.toExponential().replace('e+', 'e') : String(x);
}

function bounds(s: JsonSchema): string {
  const parts: string[] = [];
  if (typeof s.exclusiveMinimum === 'number') parts.push(`> ${num(s.exclusiveMinimum)}`);
  if (typeof s.minimum === 'number') parts.push(`≥ ${num(s.minimum)}`);
  if (typeof s.exclusiveMaximum === 'number') parts.push(`< ${num(s.exclusiveMaximum)}`);
  if (typeof s.maximum === 'number') parts.push(`≤ ${num(s.maximum)}`);
  return parts.length ? ' ' + parts.join(' and ') : '';
}

/**
 * What a schema node accepts, in words: "a number > 0", "an integer ≥ 1 or an array of integers ≥ 1",
 * "one of \"first\", \"last\", \"mean\"", "a mapping". `plural` gives "numbers > 0" (for array items).
 */
export function describeSchema(s: JsonSchema, plural = false): string {
  const alts = (s.anyOf ?? (s.type === undefined ? s.oneOf : undefined)) as JsonSchema[] | undefined;
  if (alts) return alts.map((a) => describeSchema(a, plural)).join(' or ');
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  switch (s.type) {
    case 'integer':
      return (plural ? 'integers' : 'an integer') + bounds(s);
    case 'number':
      return (plural ? 'numbers' : 'a number') + bounds(s);
    case 'string':
      return plural ? 'strings' : 'a string';
    case 'boolean':
      return plural ? 'booleans' : 'true or false';
    case 'object':
      return plural ? 'mappings' : 'a mapping';
    case 'array': {
      const items = s.items as JsonSchema | undefined;
      const min = typeof s.minItems === 'number' && s.minItems > 1 ? ` (at least ${s.minItems} entries)` : '';
      return (plural ? 'arrays' : 'an array') + (items ? ' of ' + describeSchema(items, true) : '') + min;
    }
    default:
      return 'a value';
  }
}

/** "[N_1, N_2, N_a]" for L = 2; "[N_1, …, N_5, N_a]" when L > 4. */
export function widthSymbols(L: number): string {
  if (L > 4) return `[N_1, …, N_${L}, N_a]`;
  return '[' + [...Array.from({ length: L }, (_, i) => `N_${i + 1}`), 'N_a'].join(', ') + ']';
}

/** "[σ0², σ1², σ2², σa²]" for L = 2; "[σ0², σ1², …, σ5², σa²]" when L > 4. */
export function varianceSymbols(L: number): string {
  if (L > 4) return `[σ0², σ1², …, σ${L}², σa²]`;
  return '[' + [...Array.from({ length: L + 1 }, (_, i) => `σ${i}²`), 'σa²'].join(', ') + ']';
}

/**
 * "widths has 2 entries; with heads [2, 2] (L = 2) expected 3: [N_1, N_2, N_a]" (and the same for variances,
 * L + 2 entries). `heads` is what fixes L: the per-layer head counts [H_1, …, H_L].
 */
export function lengthMessage(key: 'widths' | 'variances', got: number, heads: readonly number[]): string {
  const L = heads.length;
  const expected = key === 'widths' ? L + 1 : L + 2;
  const symbols = key === 'widths' ? widthSymbols(L) : varianceSymbols(L);
  return `${key} has ${got} ${got === 1 ? 'entry' : 'entries'}; with heads ${showValue([...heads])} (L = ${L}) expected ${expected}: ${symbols}`;
}
