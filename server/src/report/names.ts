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
