/**
 * Which attention blocks form the layer windows of a windowed analysis (docs/windows.md): pure arithmetic on the
 * heads per block, shared by the pipeline (pipeline/windows.ts) and the path-limit advice (pipeline/limits.ts).
 *
 * A window is a run of consecutive blocks [first, last] (0-based, both included). Its attention paths are
 * H_first···H_last, so splitting L blocks into windows turns Π_l H_l paths into a sum of much smaller products.
 */
import { ConfigValueError } from '../config/types';

/** One window: blocks [first, last], their heads and path count. */
export interface LayerWindow {
  index: number;
  first: number;
  last: number;
  heads: number[];
  paths: number;
}

/** How a config asks for windows (`attention.layers` / `attention.windows`). */
export interface WindowSpec {
  layers?: [number, number];
  windows?: number | 'auto';
}

const product = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** Windows of `size` consecutive blocks over all of `heads` (the last one may be shorter). */
export function tileWindows(heads: number[], size: number): LayerWindow[] {
  const out: LayerWindow[] = [];
  for (let first = 0; first < heads.length; first += size) {
    const last = Math.min(heads.length, first + size) - 1;
    const h = heads.slice(first, last + 1);
    out.push({ index: out.length, first, last, heads: h, paths: product(h) });
  }
  return out;
}

/**
 * The window size `attention.windows: auto` uses: for the fewest windows k = 1, 2, … the size ⌈L/k⌉, the first
 * whose windows each have at most `maxPaths` paths (so windows are near-equal and as few as the limit allows).
 * @returns the size, or null when a single block has more than `maxPaths` heads (no window fits).
 */
export function autoWindowSize(heads: number[], maxPaths: number): number | null {
  const L = heads.length;
  for (let k = 1; k <= L; k++) {
    const size = Math.ceil(L / k);
    if (tileWindows(heads, size).every((w) => w.paths <= maxPaths)) return size;
  }
  return null;
}

/**
 * The windows a config asks for, over a model whose blocks have `heads`.
 * @param maxPaths the path limit `auto` sizes windows for (default 256).
 * @throws ConfigValueError (pointer /attention/layers or /attention/windows) for a window outside the model's blocks,
 *   or `auto` when one block alone exceeds the limit.
 */
export function planWindows(heads: number[], spec: WindowSpec, maxPaths = 256): LayerWindow[] {
  const L = heads.length;
  if (spec.layers) {
    const [a, b] = spec.layers;
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a <= b)) {
      throw new ConfigValueError('/attention/layers', `attention.layers [${a}, ${b}] is not a window [first, last] of 0-based blocks with first ≤ last`);
    }
    if (b >= L)
      throw new ConfigValueError(
        '/attention/layers',
        `attention.layers [${a}, ${b}] goes past the model's last attention block: it has ${L} (blocks 0 to ${L - 1})`,
      );
    const h = heads.slice(a, b + 1);
    return [{ index: 0, first: a, last: b, heads: h, paths: product(h) }];
  }
  const w = spec.windows;
  if (w === undefined) {
    return [{ index: 0, first: 0, last: L - 1, heads: [...heads], paths: product(heads) }];
  }
  if (w === 'auto') {
    const size = autoWindowSize(heads, maxPaths);
    if (size === null) {
      const l = heads.findIndex((h) => h > maxPaths);
      throw new ConfigValueError(
        '/attention/windows',
        `attention.windows auto: block ${l} alone has ${heads[l]} heads, more than the path limit ${maxPaths}; raise the limit`,
      );
    }
    return tileWindows(heads, size);
  }
  if (!(Number.isInteger(w) && w >= 1))
    throw new ConfigValueError('/attention/windows', `attention.windows must be a whole number of blocks ≥ 1 or auto (got ${w})`);
  return tileWindows(heads, Math.min(w, L));
}

/** "blocks 3–4" / "block 2" for messages. */
export function windowLabel(w: Pick<LayerWindow, 'first' | 'last'>): string {
  return w.first === w.last ? `block ${w.first}` : `blocks ${w.first}–${w.last}`;
}

/**
 * The number of attention paths H_1···H_L for messages: "12¹² = 8.9e12" when every layer has the same head count
 * (several layers), "4096" or "8.9e12" otherwise.
 */
export function pathCountText(heads: number[]): string {
  const Q = product(heads);
  const count = Q >= 1e7 ? Q.toExponential(1).replace('e+', 'e') : String(Q);
  if (heads.length < 2 || !heads.every((h) => h === heads[0])) return count;
  const sup = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  return `${heads[0]}${String(heads.length)
    .split('')
    .map((d) => sup[Number(d)])
    .join('')} = ${count}`;
}
