/**
 * Hover in a config: on a key, the schema's description of it (the same text editors get from
 * schemas/attention-paths.schema.json); on a value, that description plus what the latest analysis made
 * of it — the docs/theory.md quantity, its value, and how it was computed.
 */
import { MarkupKind, type Hover } from 'vscode-languageserver';
import type { ConfigDoc } from '../documents/configs';
import { configSchema, type JsonSchema } from '../../config/schema';
import { pointerSegments } from '../../config/positions';
import { formatNumber, notConvergedNote, widthLabel } from '../../../../shared/format';
import type { AnalysisReport, Metrics } from '../../../../shared/report';
import { headsTable, percent } from './heads';
import { linkTheory } from './theoryLinks';
import { splitWarning } from '../../../../shared/format';
import { agreementText } from '../../../../shared/agreement';
import { layerName } from '../../../../shared/format';
import { toRange } from './ranges';

/** The schema node of a pointer, or undefined; an array index keeps the array's node (its items are described there). */
export function schemaAt(pointer: string): JsonSchema | undefined {
  let node: JsonSchema | undefined = configSchema;
  for (const seg of pointerSegments(pointer)) {
    if (!node) return undefined;
    if (/^\d+$/.test(seg)) continue;
    node = (node.properties as Record<string, JsonSchema> | undefined)?.[seg];
  }
  return node;
}

function metricsTable(r: AnalysisReport): string {
  const row = (name: string, m: Metrics) =>
    `| ${name} | ${percent(m.acc_mean_predictor)} | ${formatNumber(m.eg_total)} | ${formatNumber(m.eg_bias)} | ${formatNumber(m.eg_variance)} | ${percent(m.acc_probabilistic)} |`;
  return [
    '| | accuracy | ε_g | bias | variance | P(correct) |',
    '|---|---:|---:|---:|---:|---:|',
    row(`finite width (${widthLabel(r.settings.widths)})`, r.metrics),
    row('GP limit (N → ∞)', r.gp.metrics),
  ].join('\n');
}

const HOW_PREDICTED =
  'How: the action S(U) is minimized over the order parameters U_a, U_L … U₁ (docs/theory.md §d); U₁ weighs the ' +
  'path-pair kernels into K_U, and the predictor mean k(x*)ᵀ(K + T_B I)⁻¹y and variance give, averaged over the test set, ' +
  'ε_g = bias + variance and the accuracy of the mean predictor mean[sign⟨f⟩ = y] (section e). The GP limit uses U₁ = σa²Πσl²·I.';

function solverLine(r: AnalysisReport): string {
  const s = r.solver;
  return `Solver: ${s.method}; ${s.converged ? 'converged' : 'did not converge'} after ${s.iterations} iterations (${s.evaluations} evaluations), max |∂(S/max N)/∂U| = ${s.max_abs_grad_normalized.toExponential(2)} (tolerance ${s.tolerance}). S/max N = ${formatNumber(r.action.normalized)}.`;
}

/** The report's warnings, each as its one-line headline in bold with the details below (config hovers, model view). */
export function warningsSection(r: AnalysisReport): string {
  if (!r.warnings.length) return '';
  return [
    '**Warnings**',
    ...r.warnings.map((w) => {
      const { headline, details } = splitWarning(w);
      return details ? `- **${headline}**\n\n  ${details}` : `- **${headline}**`;
    }),
  ].join('\n\n');
}

/** What the analysis says about the entry at `pointer` (markdown, its table first), or '' when it adds nothing. */
export function analysisNote(pointer: string, r: AnalysisReport): string {
  const top = pointerSegments(pointer)[0];
  switch (top) {
    case 'task':
    case 'data':
    case 'P':
    case 'P_test': {
      const t = r.task;
      const paths = r.paths.map((p) => `${p.label} (${p.heads.join(',')})`).join(', ');
      return [
        metricsTable(r),
        `**${t.name}**: P = ${t.P} training and ${t.P_test} test sequences, N0 = ${t.N0} features, T = ${t.T} tokens; ${r.paths.length} attention paths: ${paths}.`,
        agreementText(r),
        HOW_PREDICTED,
        solverLine(r),
        top === 'data' ? warningsSection(r) : '',
      ]
        .filter(Boolean)
        .join('\n\n');
    }
    case 'heads': {
      const seg = pointerSegments(pointer)[1];
      const layer = seg !== undefined && /^\d+$/.test(seg) ? Number(seg) : undefined;
      return [
        headsTable(r, layer),
        `Relevance of each head${layer === undefined ? '' : ` of layer ${layerName(layer)}`} (docs/theory.md §g): the union of the rows and columns of |U₁| over the paths through the head, divided by the largest such sum. ` +
          'The predicted columns are the effect of silencing the head alone (its paths zeroed in U₁, no re-optimization)' +
          (r.head_removal_measured ? '; the measured column is the model run in ONNX Runtime with the head masked.' : '.'),
        agreementText(r),
      ]
        .filter(Boolean)
        .join('\n\n');
    }
    case 'widths':
      return [
        metricsTable(r),
        `Finite width ${widthLabel(r.settings.widths)} (load α = P/N = ${formatNumber(r.task.P / Math.max(...r.settings.widths))}) versus the GP limit N → ∞ (docs/theory.md §c).`,
      ].join('\n\n');
    case 'variances':
      return `Variances used [σ0², σ1²…σL², σa²] = [${r.settings.variances.map(formatNumber).join(', ')}]; the GP limit scales U₁ = σa²Πσl²·I = ${formatNumber(r.gp.scale)}·I.`;
    case 'temperature':
      return `${metricsTable(r)}\n\nT_B = ${formatNumber(r.settings.temperature)} enters only K + T_B I (docs/theory.md §e). At the minimum U_a = ${formatNumber(r.U_a)}.`;
    case 'solver':
      return solverLine(r);
    case 'attention':
    case 'readout': {
      const attentionLine = r.windows
        ? `Attention: ${r.settings.attention_kind}; readout ${r.settings.readout}; heads per layer [${r.settings.heads.join(', ')}] in ${r.windows.length} layer window(s), each solved on its own (docs/windows.md):\n\n${r.windows
            .map(
              (w) =>
                `- blocks ${w.layers[0]}–${w.layers[1]}: ${w.paths} paths, predicted accuracy ${formatNumber(w.metrics.acc_mean_predictor)} (GP ${formatNumber(w.gp_metrics.acc_mean_predictor)})`,
            )
            .join('\n')}`
        : `Attention: ${r.settings.attention_kind}; readout ${r.settings.readout}; heads per layer [${r.settings.heads.join(', ')}] → ${r.paths.length} paths.`;
      return [r.model ? headsTable(r) : '', attentionLine, agreementText(r), warningsSection(r)].filter(Boolean).join('\n\n');
    }
    default:
      return '';
  }
}

/**
 * The hover at a 0-based position of a config document, or null when the position is on no entry.
 */
export function configHover(doc: ConfigDoc, line: number, character: number): Hover | null {
  const hit = doc.outline.at(doc.outline.offsetAt(line, character));
  if (!hit) return null;
  const schema = schemaAt(hit.pointer);
  const parts: string[] = [];
  const name = hit.pointer.slice(1).replace(/\//g, '.');
  const described = schema?.description as string | undefined;
  const report = doc.state === 'done' ? doc.report : undefined;
  // On a value, what the analysis made of it comes first (its table), the schema's description after it.
  if (report && hit.part === 'value') {
    const note = analysisNote(hit.pointer, report);
    const unconverged = notConvergedNote(report.solver);
    if (note && unconverged) parts.push(`**Solver ${unconverged}**: the values below are at the last iterate, not at the saddle point.`);
    if (note) parts.push(note);
  } else if (hit.part === 'value' && doc.state !== 'done') {
    parts.push(`_No analysis result yet (${doc.state})._`);
  }
  parts.push(described ? `**${name}** — ${described}` : `**${name}**`);
  if (schema && schema.default !== undefined && hit.part === 'key') parts.push(`Default: \`${JSON.stringify(schema.default)}\``);
  return { contents: { kind: MarkupKind.Markdown, value: linkTheory(parts.join('\n\n')) }, range: toRange(hit.span) };
}
