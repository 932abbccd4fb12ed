/**
 * How numbers, heads and warnings are written wherever a person reads them — the CLI summary, the language server's
 * hovers, diagnostics and code lenses, the client's notifications and the webview's pages and chart titles. Pure
 * functions, no Node or editor import (shared/ contract).
 */

/**
 * How heads and layers are written wherever a person reads them (CLI summary, hovers, diagnostics, code lenses,
 * charts, pick lists, the labels in chart data): `L0·H1` — layer and head both 0-based, the same numbers as the
 * CLI's `layer:head` syntax (`prune --heads 0:1`) and the report's `layer`/`head` fields. One notation, one place.
 */

/** "L0·H1": head `head` of layer `layer`, both 0-based. */
export function headName(layer: number, head: number): string {
  return `L${layer}·H${head}`;
}

/** "L0": layer `layer`, 0-based. */
export function layerName(layer: number): string {
  return `L${layer}`;
}

/** "H1": a head within a layer already named (per-layer hints and table columns). */
export function headInLayerName(head: number): string {
  return `H${head}`;
}

/**
 * Heads grouped by layer for short lists: "L0·H1, L0·H3, L1·H0" (in the given order).
 */
export function headList(heads: ReadonlyArray<{ layer: number; head: number }>): string {
  return heads.map((h) => headName(h.layer, h.head)).join(', ');
}

// ---------------------------------------------------------------------------------------------------
// Warnings

/**
 * Warnings as the editor shows them: one line each (the diagnostic's message, the chart banner), the details
 * below (hovers, the CLI summary). A warning is one string in the report (`warnings`); its first line is the
 * headline and the rest, after a newline, the details. A warning written on one long line is cut at its first
 * clause instead, the whole text becoming the details.
 */

/** Headlines longer than this are cut at their first clause (":" or ";"). */
const HEADLINE_MAX = 140;

/**
 * The one-line headline of a warning and its details (undefined when the headline says it all).
 */
export function splitWarning(w: string): { headline: string; details?: string } {
  const nl = w.indexOf('\n');
  if (nl >= 0) return { headline: w.slice(0, nl).trim(), details: w.slice(nl + 1).trim() || undefined };
  if (w.length <= HEADLINE_MAX) return { headline: w };
  const cut = [w.indexOf(': '), w.indexOf('; ')].filter((i) => i > 0 && i < HEADLINE_MAX);
  const at = cut.length ? Math.min(...cut) : w.lastIndexOf(' ', HEADLINE_MAX);
  return { headline: `${w.slice(0, at > 0 ? at : HEADLINE_MAX)} …`, details: w };
}

// ---------------------------------------------------------------------------------------------------
// Numbers

/** A number for titles: up to 4 significant digits, no trailing zeros (0.01, 1e-9, 12.35). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(4)));
}

/** A rank correlation for titles and summaries: "+0.69", "−0.17", or "undefined" when a quantity was constant. */
export function formatCorrelation(r: number | null): string {
  // Spearman's ρ has no value when one side has no spread (e.g. no head's removal changed the measured accuracy).
  if (r === null) return 'undefined (no spread)';
  return `${r >= 0 ? '+' : '−'}${Math.abs(r).toFixed(2)}`;
}

/**
 * "not converged (max|∇| 2.7e-8 > 1e-9)" for a solve that stopped short of its tolerance, else null: every
 * surface that shows a result of such a solve (summary, code lens, hovers, chart titles) carries it.
 */
export function notConvergedNote(solver: { converged: boolean; max_abs_grad_normalized: number; tolerance: number }): string | null {
  if (solver.converged) return null;
  return `not converged (max|∇| ${solver.max_abs_grad_normalized.toExponential(1)} > ${formatNumber(solver.tolerance)})`;
}

/** "N = 10" when every width is equal, else "N = [10, 20, 10]" ([N_1, …, N_L, N_a]). */
export function widthLabel(widths: readonly number[]): string {
  if (widths.length > 0 && widths.every((w) => w === widths[0])) return `N = ${formatNumber(widths[0])}`;
  return `N = [${widths.map(formatNumber).join(', ')}]`;
}

/** A fraction as a percentage with one decimal: 0.9571 → "95.7%". */
export const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** A number to 4 significant digits, without trailing zeros: 0.42750 → "0.4275", 12.0 → "12". */
export const num = (x: number) => String(Number(x.toPrecision(4)));
