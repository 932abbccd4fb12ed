/**
 * Draws one attention block's subgraph (onnx/detect/blockGraph.ts: projections, scale, mask, Softmax, merge) as SVG,
 * laid out top to bottom by dagre (@dagrejs/dagre, bundled into the page; nothing is loaded). Nodes are boxes with
 * the op type and the node's name, coloured by their role in the block; each carries `data-name` and
 * `data-tensors` so that a message naming a node or one of its output tensors can point at it (`focusNode`).
 */
import dagre from '@dagrejs/dagre';
import type { BlockGraph } from '../../../shared/protocol';

const SVG = 'http://www.w3.org/2000/svg';
const ROLE_TEXT: Record<string, string> = {
  input: 'input',
  qkv: 'Q/K/V projection (packed)',
  query: 'Q projection',
  key: 'K projection',
  value: 'V projection',
  scores: 'scores Q·Kᵀ',
  scale: 'scale',
  mask: 'mask',
  softmax: 'softmax',
  context: 'attention · V',
  merge: 'head merge',
  output: 'output projection',
  fused: 'fused attention',
  layout: 'head split / layout',
  other: '',
};

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

const shorten = (s: string, n: number) => (s.length > n ? `…${s.slice(s.length - n + 1)}` : s);

/** The SVG drawing of a block graph (an empty figure when the graph has no nodes). */
export function drawBlockGraph(g: BlockGraph): SVGSVGElement {
  const layout = new dagre.graphlib.Graph();
  layout.setGraph({ rankdir: 'TB', nodesep: 18, ranksep: 26, marginx: 8, marginy: 8 });
  layout.setDefaultEdgeLabel(() => ({}));
  const W = 236;
  for (const n of g.nodes) layout.setNode(n.id, { width: W, height: n.role === 'input' ? 30 : 40 });
  for (const e of g.edges) layout.setEdge(e.from, e.to);
  dagre.layout(layout);
  const info = layout.graph() as { width?: number; height?: number };
  const width = Math.ceil(info.width ?? 0);
  const height = Math.ceil(info.height ?? 0);
  const svg = svgEl('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  svg.append(svgEl('defs', {}));
  const marker = svgEl('marker', {
    id: `arrow-${g.layer}`,
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto-start-reverse',
  });
  marker.append(svgEl('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }));
  svg.firstChild!.appendChild(marker);
  for (const e of layout.edges()) {
    const pts = (layout.edge(e) as { points: Array<{ x: number; y: number }> }).points;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    svg.append(svgEl('path', { d, class: 'edge', 'marker-end': `url(#arrow-${g.layer})` }));
  }
  for (const n of g.nodes) {
    const p = layout.node(n.id) as { x: number; y: number; width: number; height: number };
    const group = svgEl('g', { class: `node role-${n.role}`, transform: `translate(${(p.x - p.width / 2).toFixed(1)},${(p.y - p.height / 2).toFixed(1)})` });
    group.dataset.name = n.name;
    group.dataset.tensors = n.outputs.join('\n');
    const title = svgEl('title', {});
    title.textContent = n.role === 'input' ? `input tensor ${n.label}` : `${n.label} ${n.name}`;
    group.append(title, svgEl('rect', { width: p.width, height: p.height, rx: 4 }));
    const line1 = svgEl('text', { x: 8, y: n.role === 'input' ? 19 : 16 });
    line1.textContent = n.role === 'input' ? shorten(n.label, 34) : `${n.label}${ROLE_TEXT[n.role] ? ` · ${ROLE_TEXT[n.role]}` : ''}`;
    group.append(line1);
    if (n.role !== 'input') {
      const line2 = svgEl('text', { x: 8, y: 32, class: 'name' });
      line2.textContent = shorten(n.name || '(unnamed)', 34);
      group.append(line2);
    }
    svg.append(group);
  }
  return svg;
}

/** Highlights and scrolls to the node named `name` (or producing tensor `name`) in the page; false when none. */
export function focusNode(name: string): boolean {
  const nodes = Array.from(document.querySelectorAll<SVGGElement>('.block-graph g.node'));
  const hit = nodes.find((n) => n.dataset.name === name) ?? nodes.find((n) => (n.dataset.tensors ?? '').split('\n').includes(name));
  nodes.forEach((n) => n.classList.remove('focused'));
  if (!hit) return false;
  hit.classList.add('focused');
  hit.scrollIntoView({ block: 'center', inline: 'center' });
  return true;
}
