/**
 * Code lenses next to the Python code that makes a model: on a `torch.onnx.export(…, "model.onnx")` call
 * and on the `nn.MultiheadAttention(` lines of the same file, the latest prediction and head ranking of
 * that model — only when an analysis of that model exists (nothing is shown otherwise, never a guess).
 */
import * as path from 'node:path';
import type { CodeLens } from 'vscode-languageserver';
import type { AnalysisReport } from '../../../../shared/report';
import { headline, reportActions } from './codeLens';
import { percent, rankedHeads, scoreText } from './heads';
import { headName } from '../../../../shared/format';
import { agreementSentence } from '../../../../shared/agreement';

/** Where a Python file exports ONNX models and builds attention layers (0-based lines). */
export interface PythonModelSites {
  /** `torch.onnx.export` calls and the `.onnx` path literal found in their arguments. */
  exports: Array<{ line: number; target: string }>;
  /** Lines constructing `nn.MultiheadAttention`. */
  attention: number[];
}

const EXPORT_CALL = /\b(?:torch\.)?onnx\.export\s*\(/g;
const MHA_CALL = /\b(?:nn\.|torch\.nn\.)?MultiheadAttention\s*\(/;
const ONNX_LITERAL = /[rRbBuU]?(['"])([^'"\n]+?\.onnx)\1/;

/** The text of a call's arguments, from its opening parenthesis to the matching one (or a 4000-character cap). */
function callArguments(text: string, open: number): string {
  let depth = 0;
  const end = Math.min(text.length, open + 4000);
  for (let i = open; i < end; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return text.slice(open, i + 1);
  }
  return text.slice(open, end);
}

/** Finds the model-making sites of a Python source text. Comment lines are skipped. */
export function findModelSites(text: string): PythonModelSites {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const lines = text.split('\n');
  const isComment = (line: number) => lines[line].trimStart().startsWith('#');
  const exports: PythonModelSites['exports'] = [];
  for (const m of text.matchAll(EXPORT_CALL)) {
    const line = lineOf(m.index!);
    if (isComment(line)) continue;
    const lit = ONNX_LITERAL.exec(callArguments(text, m.index! + m[0].length - 1));
    if (lit) exports.push({ line, target: lit[2] });
  }
  const attention = lines.flatMap((l, i) => (!isComment(i) && MHA_CALL.test(l) ? [i] : []));
  return { exports, attention };
}

/** An analysis of a model: its report and the config it came from. */
export interface ModelAnalysis {
  report: AnalysisReport;
  configUri: string;
}

/**
 * The code lenses of a Python file.
 * @param text the file's text
 * @param fileDir folder of the file (a relative `.onnx` path is tried against it, then against each root)
 * @param roots workspace folders (scripts usually run from the workspace root)
 * @param lookup the analysis of an absolute model path, if one exists
 */
export function pythonCodeLenses(text: string, fileDir: string, roots: string[], lookup: (modelPath: string) => ModelAnalysis | undefined): CodeLens[] {
  const sites = findModelSites(text);
  const found: Array<{ line: number; model: string; analysis: ModelAnalysis }> = [];
  for (const e of sites.exports) {
    const candidates = path.isAbsolute(e.target) ? [e.target] : [fileDir, ...roots].map((d) => path.resolve(d, e.target));
    for (const model of candidates) {
      const analysis = lookup(model);
      if (analysis) {
        found.push({ line: e.line, model, analysis });
        break;
      }
    }
  }
  if (!found.length) return [];
  const lensesAt = (line: number, model: string, a: ModelAnalysis): CodeLens[] => {
    const range = { start: { line, character: 0 }, end: { line, character: 0 } };
    const [show, prune] = reportActions(a.configUri);
    return [
      // LSP 3.17 commands have no tooltip: the client copies `data.tooltip` onto the lens's command (extension.ts).
      { range, command: { ...show, title: pythonLensTitle(path.basename(model), a.report) }, data: { tooltip: pythonLensTooltip(a.report) } },
      { range, command: prune },
    ];
  };
  const out = found.flatMap((f) => lensesAt(f.line, f.model, f.analysis));
  const first = found[0];
  for (const line of sites.attention) out.push(...lensesAt(line, first.model, first.analysis));
  return out;
}

/** Heads named in the short lens title. */
const TOP_HEADS = 3;

/**
 * The short title of a Python line's lens: "model.onnx: predicted 68.8% (measured 79.7%) · top heads L1·H2, L0·H0, L1·H0"
 * (the measured accuracy only when the analysis measured the model). The details are in `pythonLensTooltip`.
 */
export function pythonLensTitle(modelName: string, r: AnalysisReport): string {
  const m = r.head_removal_measured;
  const measured = m?.metric === 'accuracy' ? ` (measured ${percent(m.full)})` : '';
  const top = rankedHeads(r)
    .slice(0, TOP_HEADS)
    .map((h) => headName(h.layer, h.head))
    .join(', ');
  return `${modelName}: predicted ${percent(r.metrics.acc_mean_predictor)}${measured} · top heads ${top}`;
}

/** The lens's tooltip: the full headline, every head ranked with its score, and how far to trust the prediction. */
export function pythonLensTooltip(r: AnalysisReport): string {
  const ranking = rankedHeads(r)
    .map((h) => `#${h.rank} ${headName(h.layer, h.head)} ${scoreText(h.score)}`)
    .join(', ');
  return [headline(r), `Heads by relevance: ${ranking}`, agreementSentence(r)].filter(Boolean).join('\n');
}
