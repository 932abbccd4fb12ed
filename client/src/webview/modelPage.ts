/**
 * The model page: what an `.onnx` file holds — header, inputs and outputs, the attention blocks with their heads
 * and relevance bars, and each block's subgraph laid out by dagre (blockGraph.ts).
 */
import type { InspectModelResult } from '../../../shared/protocol';
import type { ToPage } from './messages';
import { el, post, root } from './page';
import { drawBlockGraph, focusNode } from './blockGraph';
import { headName } from '../../../shared/format';
import { splitWarning } from '../../../shared/format';

/**
 * A text with every quoted name ('…') that is a node or tensor of a drawn block made a link to that node (the
 * block's drawing scrolls to it and highlights it).
 */
function linkedText(text: string, known: Set<string>): HTMLElement {
  const span = el('span');
  let at = 0;
  for (const m of text.matchAll(/'([^'\n]+)'/g)) {
    const name = m[1];
    if (!known.has(name)) continue;
    span.append(document.createTextNode(text.slice(at, m.index)));
    const a = el('a', `'${name}'`);
    a.href = '#';
    a.className = 'node-link';
    a.dataset.node = name;
    a.title = 'Show this node in its attention block';
    a.addEventListener('click', (e) => {
      e.preventDefault();
      focusNode(name);
    });
    span.append(a);
    at = m.index! + m[0].length;
  }
  span.append(document.createTextNode(text.slice(at)));
  return span;
}

export function drawModel(msg: Extract<ToPage, { type: 'model' }>): void {
  const m: InspectModelResult = msg.model;
  root.replaceChildren(el('h1', msg.title));
  const kb = (n: number) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`);
  root.append(el('p', `${kb(m.bytes)}, modified ${new Date(m.modified).toLocaleString()}`, 'muted'));
  if (!m.summary) {
    root.append(el('p', `Could not read the model: ${m.error ?? 'unknown reason'}`, 'error'));
    return;
  }
  const s = m.summary;
  const opsets = Object.entries(s.opsets)
    .map(([d, v]) => `${d} ${v}`)
    .join(', ');
  root.append(
    el(
      'p',
      `ONNX IR ${s.irVersion}, opsets ${opsets}${s.producer ? `, producer ${s.producer} ${s.producerVersion}` : ''}; ${s.nodeCount} nodes, ${s.initializerCount} initializers.`,
    ),
  );
  const io = el('ul');
  for (const i of s.inputs) io.append(el('li', `input ${i.name}: ${i.type} [${(i.shape ?? []).map((d) => d ?? '?').join(', ')}]`));
  for (const o of s.outputs) io.append(el('li', `output ${o.name}: ${o.type} [${(o.shape ?? []).map((d) => d ?? '?').join(', ')}]`));
  root.append(io);
  // Where relevance comes from and what to do (analyse, create a config), first: below the blocks' expanded subgraphs
  // a newcomer did not find the button.
  root.append(el('p', m.analysisNote, 'muted note'));
  const actions = el('p', undefined, 'actions');
  const action = (text: string, command: 'showCharts' | 'analyze' | 'createModelConfig', target: { uri?: string; path?: string }, button = false) => {
    const a = button ? el('button', text) : el('a', text);
    if (a instanceof HTMLAnchorElement) a.href = '#';
    a.dataset.command = command;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      if (a instanceof HTMLButtonElement) a.disabled = true; // one config per click
      post({ type: 'command', command, ...target });
    });
    actions.append(a);
  };
  const base = (p: string) => p.replace(/^.*[\\/]/, '');
  if (m.analysisConfig) action('Show theory charts', 'showCharts', { path: m.analysisConfig });
  else if (m.configs.length) for (const c of m.configs) action(`Analyze ${base(c)}`, 'analyze', { path: c }, true);
  else if (m.createConfig) action(`Create ${base(m.createConfig.config)} and analyze`, 'createModelConfig', { uri: m.uri }, true);
  if (actions.childElementCount) root.append(actions);
  // Node and tensor names of the drawn blocks: messages that quote one link to it.
  const known = new Set((m.graphs ?? []).flatMap((g) => g.nodes.flatMap((n) => [n.name, ...n.outputs])).filter(Boolean));
  root.append(el('h2', 'Attention blocks'), el('p', s.attention.summary, 'muted'));
  if (m.heads.some((h) => h.original) && s.headMap) {
    root.append(
      el('p', `Pruned from ${s.headMap.source} (heads per layer [${s.headMap.originalHeads.join(', ')}]); renamed heads show their original name.`, 'muted'),
    );
  }
  for (const b of s.attention.blocks) {
    const sec = el('section', undefined, 'block');
    sec.append(
      el('h3', `Block ${b.index}: ${b.form}`),
      el(
        'p',
        `${b.queryHeads ?? '?'} heads, head size ${b.headSizeQK ?? '?'}, hidden ${b.hiddenSize ?? '?'}${b.causal ? ', causal' : ''}; detection confidence ${b.confidence}`,
        'muted',
      ),
    );
    const list = el('div', undefined, 'heads');
    for (const h of m.heads.filter((x) => x.layer === b.index)) {
      const row = el('div', undefined, 'head');
      row.append(
        el('span', h.original ? `${headName(h.layer, h.head)} (was ${headName(h.original.layer, h.original.head)})` : headName(h.layer, h.head), 'label'),
      );
      const bar = el('span', undefined, 'bar');
      const fill = el('span', undefined, 'fill');
      // Width through CSSOM (allowed by the CSP), not an inline style attribute.
      fill.style.width = h.score === undefined ? '0' : `${Math.round(100 * h.score)}%`;
      bar.append(fill);
      row.append(bar, el('span', h.score === undefined ? 'relevance —' : `relevance ${h.score.toFixed(3)} (#${h.rank})`, 'value'));
      list.append(row);
    }
    sec.append(list);
    const g = m.graphs?.find((x) => x.layer === b.index);
    if (g && g.nodes.length) {
      const fig = el('details', undefined, 'block-graph');
      fig.open = true;
      fig.id = `block-graph-${b.index}`;
      fig.append(el('summary', `Subgraph of block ${b.index}: ${g.nodes.length} nodes${g.truncated ? ' (the nearest to its end; the block is larger)' : ''}`));
      fig.append(drawBlockGraph(g));
      sec.append(fig);
    }
    for (const note of b.notes) {
      const p = el('p', undefined, 'muted');
      p.append(linkedText(note, known));
      sec.append(p);
    }
    root.append(sec);
  }
  if (m.warnings?.length) {
    root.append(el('h2', 'Warnings of the analysis'));
    const ul = el('ul', undefined, 'warnings');
    for (const w of m.warnings) {
      const { headline, details } = splitWarning(w);
      const li = el('li');
      li.append(linkedText(headline, known));
      if (details) {
        const d = el('details');
        d.append(el('summary', 'details'), linkedText(details, known));
        li.append(d);
      }
      ul.append(li);
    }
    root.append(ul);
  }
}
