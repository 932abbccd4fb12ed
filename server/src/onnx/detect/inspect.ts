/**
 * `attention-paths inspect MODEL.onnx [--json]`: what the model is (IR, opsets, producer, inputs/outputs) and its
 * attention blocks as `detect.ts` finds them. `inspectModel` gives the JSON form, `formatInspect` the text table.
 */
import { basename } from 'node:path';
import { detectAttention } from './detect';
import type { AttentionBlock, DetectOptions, JsonDim, MaskRef, ProjectionRef } from './blocks';
import { readModel, type ReadOptions } from '../format/read';
import { dataTypeName } from '../format/tensor';
import type { OnnxValueInfo } from '../format/types';
import { originalHead, readHeadOrigins, renames, type HeadOrigins } from '../edit/headOrigins';
import type { InspectIO, InspectSummary } from '../../../../shared/model';
export type { InspectSummary };

function io(v: OnnxValueInfo): InspectIO {
  return { name: v.name, type: v.elemType ? dataTypeName(v.elemType).toLowerCase() : '?', shape: v.shape };
}

/**
 * Reads a model and summarizes it.
 * @param path the `.onnx` file.
 * @param opts read options (external-data checks) and head overrides for dynamic models.
 * @throws OnnxReadError when the file is not a readable ONNX model (see `readModel`).
 */
export function inspectModel(path: string, opts: ReadOptions & DetectOptions = {}): InspectSummary {
  const m = readModel(path, opts);
  const counts: Record<string, number> = {};
  let subgraphs = 0;
  let nodes = 0;
  const visit = (g: typeof m.graph) => {
    for (const n of g.nodes) {
      const k = n.domain === 'ai.onnx' ? n.opType : `${n.domain}::${n.opType}`;
      counts[k] = (counts[k] ?? 0) + 1;
      nodes++;
    }
    for (const s of g.subgraphs) {
      subgraphs++;
      visit(s);
    }
  };
  visit(m.graph);
  const attention = detectAttention(m, opts);
  const origins = readHeadOrigins(m, attention);
  const opCounts = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  let weightBytes = 0;
  for (const t of m.graph.initializers.values()) {
    const el = t.dataType === 1 || t.dataType === 6 ? 4 : t.dataType === 7 || t.dataType === 11 ? 8 : t.dataType === 10 || t.dataType === 16 ? 2 : 1;
    weightBytes += t.size * el;
  }
  return {
    file: path,
    irVersion: m.irVersion,
    opsets: m.opsets,
    producer: m.producerName,
    producerVersion: m.producerVersion,
    inputs: m.graph.inputs.map(io),
    outputs: m.graph.outputs.map(io),
    nodeCount: nodes,
    opCounts,
    initializerCount: m.graph.initializers.size,
    weightBytes,
    externalDataBytes: m.externalDataBytes,
    largeExternalData: m.largeExternalData,
    subgraphs,
    attention,
    headMap: origins.origins,
    ...(origins.note ? { headMapNote: origins.note } : {}),
  };
}

function shape(s: JsonDim[] | null): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '[?]';
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function table(rows: string[][]): string[] {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((x, c) => x.padEnd(w[c]))
      .join('  ')
      .trimEnd(),
  );
}

const n = (x: number | null) => (x === null ? '?' : String(x));

function proj(p: ProjectionRef | null): string {
  if (!p) return '—';
  const w = p.weight;
  const r = w.range ? ` ${w.headAxis === 1 ? 'cols' : 'rows'} ${w.range[0]}:${w.range[1]}` : '';
  const b = p.bias ? `, bias ${p.bias.name}${p.bias.range ? ` ${p.bias.range[0]}:${p.bias.range[1]}` : ''}` : '';
  return `${w.name} ${shape(w.shape)}${r} (${w.layoutText}${w.kind === 'initializer' ? '' : `, ${w.kind}`})${b}`;
}

function mask(m: MaskRef): string {
  const head = m.carriesHeadAxis === null ? 'head axis unknown' : m.carriesHeadAxis ? `head axis ${m.headAxis}` : 'no head axis';
  const src = m.constant ? 'constant' : m.sources.length && !(m.sources.length === 1 && m.sources[0] === m.name) ? `from ${m.sources.join(', ')}` : '';
  return `${m.name} ${shape(m.shape)} ${m.role}, ${head}${src ? `, ${src}` : ''}`;
}

function blockDetail(b: AttentionBlock, map: HeadOrigins | null): string[] {
  const out: string[] = [];
  const anchor = b.nodes.fused ? `${b.form} '${b.nodes.fused}'` : `Softmax '${b.nodes.softmax}'`;
  out.push(`block ${b.index}: ${anchor}${b.graph ? ` (in subgraph ${b.graph})` : ''}`);
  if (b.nodes.scoreMatMul) out.push(`  score MatMul ${b.nodes.scoreMatMul}, context MatMul ${b.nodes.contextMatMul}`);
  out.push(`  Q  ${proj(b.weights.query)}`);
  out.push(`  K  ${proj(b.weights.key)}`);
  out.push(`  V  ${proj(b.weights.value)}`);
  out.push(`  O  ${b.headSum && !b.weights.output ? `— (heads summed by ${b.headSum.form} '${b.headSum.node}')` : proj(b.weights.output)}`);
  const mine = map?.layers[b.index];
  if (mine && b.queryHeads && (mine.layer !== b.index || mine.heads.some((h, k) => h !== k))) {
    const names = Array.from({ length: b.queryHeads }, (_, h) => {
      const g = originalHead(map, b.index, h);
      return `${h} = ${g.layer}:${g.head}`;
    });
    out.push(`  heads (original layer:head)  ${names.join(', ')}`);
  }
  for (const m of b.masks) out.push(`  mask  ${mask(m)}`);
  if (b.kvCache) {
    const c = b.kvCache;
    out.push(`  kv cache  past ${c.pastKey ?? '—'} / ${c.pastValue ?? '—'}, present ${c.presentKey ?? '—'} / ${c.presentValue ?? '—'}`);
  }
  for (const note of b.notes) out.push(`  note: ${note}`);
  return out;
}

/** The text report of `inspect`: model header, a table of blocks, then per-block weights, masks and notes. */
export function formatInspect(s: InspectSummary): string {
  const lines: string[] = [];
  const opsets = Object.entries(s.opsets)
    .map(([d, v]) => `${d} ${v}`)
    .join(', ');
  lines.push(`${basename(s.file)}: ONNX IR ${s.irVersion}, opsets ${opsets}${s.producer ? `, producer ${s.producer} ${s.producerVersion}`.trimEnd() : ''}`);
  for (const i of s.inputs) lines.push(`  input   ${i.name}: ${i.type} ${shape(i.shape)}`);
  for (const o of s.outputs) lines.push(`  output  ${o.name}: ${o.type} ${shape(o.shape)}`);
  const ext = s.externalDataBytes ? `, ${bytes(s.externalDataBytes)} external${s.largeExternalData ? ' (over 2 GB: not loaded)' : ''}` : '';
  lines.push(`  ${s.nodeCount} nodes${s.subgraphs ? ` (${s.subgraphs} subgraphs)` : ''}, ${s.initializerCount} initializers (${bytes(s.weightBytes)}${ext})`);
  lines.push('');
  const a = s.attention;
  lines.push(a.summary);
  if (s.headMap && renames(s.headMap)) {
    lines.push(`pruned from ${s.headMap.source} (heads per layer [${s.headMap.originalHeads.join(', ')}]); heads keep their original names below`);
  }
  if (s.headMapNote) lines.push(`note: ${s.headMapNote}`);
  if (a.blocks.length) {
    const rows = [['#', 'form', 'heads q/kv', 'head size qk/v', 'hidden', 'layout', 'scale', 'cross', 'causal', 'confidence']];
    for (const b of a.blocks) {
      rows.push([
        String(b.index),
        b.form,
        `${n(b.queryHeads)}/${n(b.kvHeads)}${b.groupSize && b.groupSize > 1 ? ` (GQA ×${b.groupSize})` : ''}`,
        `${n(b.headSizeQK)}/${n(b.headSizeV)}`,
        n(b.hiddenSize),
        b.headLayout,
        b.scale === null ? '?' : `${Number(b.scale.toPrecision(4))} (${b.scalePlacement})`,
        b.cross === null ? '?' : b.cross ? 'yes' : 'no',
        b.causal ? 'yes' : 'no',
        b.confidence,
      ]);
    }
    lines.push(...table(rows).map((r) => `  ${r}`));
    lines.push('');
    for (const b of a.blocks) lines.push(...blockDetail(b, s.headMap));
  }
  if (a.rejected.length) {
    lines.push('');
    lines.push('candidates that did not match:');
    for (const r of a.rejected) {
      const at = r.brokeAt && r.brokeAt !== r.anchor ? ` at ${r.brokeAtOp} '${r.brokeAt}'` : '';
      lines.push(`  ${r.anchorOp} '${r.anchor}'${at}: ${r.reason}`);
    }
  }
  return lines.join('\n') + '\n';
}
