/**
 * The head map a pruned model carries: for every head that remains, the layer and head it had in the original model,
 * so that reports, `inspect` and the model view can name heads as the user first knew them, through any number of
 * prunings.
 *
 * Stored in the model's `metadata_props` under `attention_paths.head_map` as JSON:
 * `{"format": 1, "source": "model.onnx", "original_heads": [4, 4], "layers": [{"layer": 0, "heads": [0, 2, 3]}, …]}`
 * — `layers[i]` describes the model's block i (graph order): `layer` is its original layer and `heads[h]` the original
 * number of its current head h. Layers and heads are 0-based. A map that does not fit the model's blocks (the model
 * was edited after pruning) is ignored with a note, and heads keep their current numbers.
 */
import { basename } from 'node:path';
import type { DetectionResult } from '../detect/blocks';
import type { ModelEditor } from './edit';
import type { OnnxModel } from '../format/types';
import type { HeadOrigins, HeadName } from '../../../../shared/model';
export type { HeadOrigins, HeadName };

/** `metadata_props` key of the head map. */
export const HEAD_MAP_KEY = 'attention_paths.head_map';

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Parses the JSON value; null when it is not a well-formed map. */
function parse(text: string): HeadOrigins | null {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (!j || typeof j !== 'object') return null;
  const o = j as { format?: unknown; source?: unknown; original_heads?: unknown; layers?: unknown };
  if (o.format !== 1 || typeof o.source !== 'string' || !Array.isArray(o.original_heads) || !Array.isArray(o.layers)) return null;
  if (!o.original_heads.every((h) => isIndex(h) && h > 0)) return null;
  const orig = o.original_heads as number[];
  const layers: HeadOrigins['layers'] = [];
  for (const l of o.layers as unknown[]) {
    if (!l || typeof l !== 'object') return null;
    const { layer, heads } = l as { layer?: unknown; heads?: unknown };
    if (!isIndex(layer) || layer >= orig.length || !Array.isArray(heads) || heads.length === 0) return null;
    if (!heads.every((h) => isIndex(h) && h < orig[layer]) || new Set(heads).size !== heads.length) return null;
    layers.push({ layer, heads: heads as number[] });
  }
  return { source: o.source, originalHeads: orig, layers };
}

/**
 * The head map stored in a model, checked against its detected blocks.
 * @returns the map (null when there is none or it does not fit) and, when one was present but ignored, why.
 */
export function readHeadOrigins(model: OnnxModel, detection: DetectionResult): { origins: HeadOrigins | null; note?: string } {
  const text = model.metadata[HEAD_MAP_KEY];
  if (text === undefined) return { origins: null };
  const o = parse(text);
  const ignored = (why: string) => ({
    origins: null,
    note: `the head map in the model's metadata (${HEAD_MAP_KEY}) is ignored: ${why}; heads keep their current numbers`,
  });
  if (!o) return ignored('it is not valid');
  const b = detection.blocks;
  if (o.layers.length !== b.length) return ignored(`it describes ${o.layers.length} layers, the model has ${b.length} attention blocks`);
  for (let i = 0; i < b.length; i++) {
    if (b[i].queryHeads !== o.layers[i].heads.length)
      return ignored(`layer ${i} has ${b[i].queryHeads ?? '?'} heads, the map lists ${o.layers[i].heads.length}`);
  }
  return { origins: o };
}

/** Heads per block as the head map records them (for a pruned model whose shapes do not tell them), or null. */
export function mappedHeadCounts(model: OnnxModel): number[] | null {
  const text = model.metadata[HEAD_MAP_KEY];
  const o = text === undefined ? null : parse(text);
  return o ? o.layers.map((l) => l.heads.length) : null;
}

/** The map of a model that was never pruned: every head is itself. */
export function identityOrigins(model: OnnxModel, detection: DetectionResult): HeadOrigins {
  const heads = detection.blocks.map((b) => b.queryHeads ?? 0);
  return { source: basename(model.file), originalHeads: heads, layers: heads.map((H, l) => ({ layer: l, heads: Array.from({ length: H }, (_, h) => h) })) };
}

/**
 * The map after pruning: each block keeps the original numbers of its remaining heads.
 * @param keep per block of the input model, the query heads kept (in order); blocks not listed keep all heads.
 */
export function prunedOrigins(before: HeadOrigins, keep: Map<number, number[]>): HeadOrigins {
  return {
    source: before.source,
    originalHeads: [...before.originalHeads],
    layers: before.layers.map((l, i) => {
      const k = keep.get(i);
      return { layer: l.layer, heads: k ? k.map((h) => l.heads[h]) : [...l.heads] };
    }),
  };
}

/** Writes the map into an edited model's `metadata_props` (replacing an older one). */
export function writeHeadOrigins(ed: ModelEditor, o: HeadOrigins): void {
  const value = JSON.stringify({ format: 1, source: o.source, original_heads: o.originalHeads, layers: o.layers });
  const props = (ed.proto.metadataProps ?? []).filter((p) => p.key !== HEAD_MAP_KEY);
  props.push({ key: HEAD_MAP_KEY, value });
  ed.proto.metadataProps = props as typeof ed.proto.metadataProps;
}

/** The original name of head `head` of block `layer` (itself without a map). */
export function originalHead(o: HeadOrigins | null, layer: number, head: number): HeadName {
  const l = o?.layers[layer];
  return l && l.heads[head] !== undefined ? { layer: l.layer, head: l.heads[head] } : { layer, head };
}

/** True when the map renames some head (a model that was pruned). */
export function renames(o: HeadOrigins | null): boolean {
  return !!o && o.layers.some((l, i) => l.layer !== i || l.heads.some((h, k) => h !== k));
}
