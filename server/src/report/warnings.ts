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
