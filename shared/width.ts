/**
 * The width rule, one for every place a width N is given: the config's `widths` (the schema and the expanded
 * settings), `attention-paths sweep --widths`, the editor's Sweep Width box and the `attentionPaths/sweep` request.
 * A width is a finite number from 1 to 1e15; it may be fractional (the theory treats N as continuous). Below 1 the
 * theory does not apply (α = P/N with fewer units than one); beyond 1e15 the action's terms overflow double
 * precision (1e308 gives NaN), and 1e15 is already the GP limit.
 */

export const MIN_WIDTH = 1;
export const MAX_WIDTH = 1e15;

/** The range as messages say it: "from 1 to 1e15". */
export const WIDTH_RANGE = 'from 1 to 1e15';

/** Why `n` is not a width — "must be a number ≥ 1" or "must be a number ≤ 1e15" — or undefined when it is one. */
export function widthProblem(n: unknown): string | undefined {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < MIN_WIDTH) return `must be a number ≥ ${MIN_WIDTH}`;
  if (n > MAX_WIDTH) return 'must be a number ≤ 1e15';
  return undefined;
}

/** Whether `n` is a width N (a finite number from 1 to 1e15). */
export function isWidth(n: unknown): n is number {
  return widthProblem(n) === undefined;
}

/** Whether `widths` is a non-empty list of widths (what a sweep solves at). */
export function isWidthList(widths: unknown): widths is number[] {
  return Array.isArray(widths) && widths.length > 0 && widths.every(isWidth);
}
