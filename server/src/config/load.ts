/**
 * Reading and checking analysis config files (YAML, or JSON by extension) into an `AnalysisConfig`.
 *
 * `parseConfig` is pure apart from checking that referenced files exist (the check can be replaced via
 * options), so the language server can run it on unsaved text; `loadConfig` reads a file and throws
 * `ConfigError` on errors. Every issue carries 1-based line/column spans and the JSON pointer of the
 * offending value.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document } from 'yaml';
import { ConfigError, type AnalysisConfig, type AttentionSettings, type ConfigFix, type ConfigIssue } from './types';
import { CONFIG_DEFAULTS } from './defaults';
import { displayName, lengthMessage, showValue, suggest } from './messages';
import { PositionMapper, type Span } from './positions';
import { schemaIssues, type RawIssue } from './validate';
import { jsonSyntaxError } from './jsonSyntax';
import { internalErrorLine } from '../util/errors';

/** Options of `parseConfig`. */
export interface ParseConfigOptions {
  /**
   * What a referenced file's absolute path is: 'file', 'directory' or 'missing'. Defaults to `fs.statSync`.
   * The language server may pass a version that also sees unsaved editors.
   */
  fileKind?: (absolutePath: string) => 'file' | 'directory' | 'missing';
  /** Parse as JSON (strict JSON syntax check on top of YAML parsing). Default: `filePath` ends in `.json`. */
  json?: boolean;
}

/** Result of `parseConfig`: the config when there are no errors (warnings allowed), and every issue found. */
export interface ParseConfigResult {
  config?: AnalysisConfig;
  issues: ConfigIssue[];
}

function defaultFileKind(p: string): 'file' | 'directory' | 'missing' {
  try {
    return statSync(p).isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
}

/**
 * Parses and checks the text of a config file.
 *
 * Checks, in order: YAML (and, for `.json`, JSON) syntax; the JSON Schema of `schema.ts` (types, ranges,
 * enums, unknown keys with a "did you mean" suggestion); then cross-field rules: exactly one of `task` /
 * `data`; `widths` has L + 1 and `variances` L + 2 entries when `heads` is an array of length L (or
 * variances one more than widths when both are arrays); `data`, `attention.params`, `attention.model`
 * exist (resolved against the config's folder). Keys that a setting makes irrelevant (P with data,
 * params with kind random-qk, …) give warnings.
 *
 * @param text the file's text
 * @param filePath the file's path (as the issues should name it); relative paths in the config are
 *   resolved against its folder, and `config.source` is its absolute path
 * @returns `config` (defaults applied: widths 10, variances 1, T_B 0.01, solver {1e-9, 500}, seed 0;
 *   paths absolute) when no issue is an error, and all issues sorted by position. Never throws on bad input.
 */
export function parseConfig(text: string, filePath: string, options: ParseConfigOptions = {}): ParseConfigResult {
  try {
    return parseChecked(text, filePath, options);
  } catch (e) {
    // A bug (the checks above refuse bad input with an issue); still one issue, never an exception.
    const message = internalErrorLine(e).replace(/^internal error:/, 'internal error while checking the config:');
    return { issues: [{ message, file: filePath, line: 1, column: 1, endLine: 1, endColumn: 1, pointer: '', severity: 'error' }] };
  }
}

function parseChecked(text: string, filePath: string, options: ParseConfigOptions): ParseConfigResult {
  const source = path.resolve(filePath);
  const dir = path.dirname(source);
  const json = options.json ?? /\.json$/i.test(filePath);
  const fileKind = options.fileKind ?? defaultFileKind;

  // A byte-order mark (written by some editors) is not part of the text editors show.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\u0000') || (text.match(/\ufffd/g)?.length ?? 0) > 2) {
    const issue = {
      message: 'not a text file (binary data); a config is YAML or JSON text',
      file: filePath,
      line: 1,
      column: 1,
      endLine: 1,
      endColumn: 1,
      pointer: '',
      severity: 'error' as const,
    };
    return { issues: [issue] };
  }
  const lineCounter = new LineCounter();
  const deep = tooDeep(text);
  if (deep !== undefined) {
    // Refused before the YAML parser, which would overflow its stack at a depth that depends on the stack size.
    return {
      issues: [
        {
          message: `the values are nested more than ${MAX_NESTING} deep (a config nests a few levels)`,
          file: filePath,
          ...lineColumn(text, deep),
          pointer: '',
          severity: 'error',
        },
      ],
    };
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const mapper = new PositionMapper(text, lineCounter);
  const issues: ConfigIssue[] = [];
  const push = (span: Span, pointer: string, message: string, severity: 'error' | 'warning' = 'error', fix?: ConfigFix) =>
    issues.push({ message, file: filePath, ...span, pointer, severity, ...(fix ? { fix } : {}) });

  // 1. Syntax.
  // Only the first syntax error: the parser's later ones follow from it (one broken line yields several). For
  // JSON the strict checker's error comes first (it says what JSON allows; YAML accepts more).
  const jsonError = json ? jsonSyntaxError(text) : undefined;
  const syntax = [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])[0];
  if (jsonError) push(mapper.span(jsonError.offset, jsonError.offset + 1), '', `JSON syntax error: ${jsonError.message}`);
  else if (syntax) {
    const message = /multiple documents/i.test(syntax.message)
      ? 'the file holds more than one YAML document (separated by ---); a config is a single document'
      : /call stack/i.test(syntax.message)
        ? 'the values are nested too deeply to read (a config nests a few levels)'
        : syntax.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    // "Flow sequence … must … end with a ]" is reported where the parser gave up (often the next key's line);
    // the mistake is the bracket that was opened and never closed: point there, as the JSON checker does.
    const unclosed = /^Flow (sequence|map|mapping)\b.*end with an? [\]}]/.test(message) ? unclosedFlowBracket(text, syntax.pos[0]) : undefined;
    if (unclosed !== undefined) {
      const [open, close] = text[unclosed] === '[' ? ['[', ']'] : ['{', '}'];
      push(mapper.span(unclosed, unclosed + 1), '', `YAML syntax error: the ${open} opened here is never closed with ${close}`);
    } else push(mapper.span(syntax.pos[0], syntax.pos[1]), '', `${json ? 'JSON' : 'YAML'} syntax error: ${message}`);
  }
  for (const w of doc.warnings) push(mapper.span(w.pos[0], w.pos[1]), '', `YAML warning: ${w.message}`, 'warning');
  if (issues.some((i) => i.severity === 'error')) return { issues: sortIssues(issues) };

  let value: unknown;
  try {
    value = doc.toJS();
  } catch (e) {
    // The yaml library refuses alias bombs ("Excessive alias count …", a ReferenceError) and overflows on deep nesting.
    const msg = e instanceof Error ? e.message : '';
    const why = /alias/i.test(msg)
      ? 'the YAML expands its aliases (*name) too many times, a resource-exhaustion pattern; write the values out'
      : 'the values are nested too deeply to read (a config nests a few levels)';
    push(mapper.lineSpan(0), '', why);
    return { issues: sortIssues(issues) };
  }
  if (value === null || value === undefined) {
    push(mapper.lineSpan(0), '', 'the config is empty; expected a mapping with a `task` (markov, markov-2paths, mnist-oneshot) or a `data` file');
    return { issues: sortIssues(issues) };
  }

  // 2. Schema.
  const place = (r: RawIssue) => {
    let span: Span;
    if (r.missing) {
      const parent = r.pointer.slice(0, r.pointer.lastIndexOf('/'));
      span = parent === '' ? mapper.lineSpan(0) : mapper.locate(doc, parent, 'key');
    } else {
      span = mapper.locate(doc, r.pointer, r.target);
    }
    push(span, r.pointer, r.message, r.severity, r.fix);
  };
  const schemaProblems = schemaIssues(value);
  schemaProblems.forEach(place);
  const bad = (pointer: string) => schemaProblems.some((p) => p.pointer === pointer || p.pointer.startsWith(pointer + '/'));

  if (typeof value !== 'object' || Array.isArray(value)) return { issues: sortIssues(issues) };
  const raw = value as Record<string, unknown>;

  // 3. Cross-field checks.
  for (const r of crossFieldIssues(raw, doc, bad)) {
    if (r.pointer === '' && r.missing) push(mapper.lineSpan(0), '', r.message, r.severity);
    else if (r.target === 'key') push(pairSpan(mapper, doc, r.pointer), r.pointer, r.message, r.severity);
    else place(r);
  }
  for (const [pointer, rel, label] of fileRefs(raw)) {
    if (bad(pointer)) continue;
    const abs = path.resolve(dir, rel);
    const kind = fileKind(abs);
    // A path written with a trailing slash names a folder of .npy files; anything else a file.
    const wantDir = /[\\/]$/.test(rel);
    if (kind !== (wantDir ? 'directory' : 'file')) {
      const what = kind === 'missing' ? 'not found' : kind === 'directory' ? 'is a directory, not a file' : 'is a file, not a folder';
      const fix = kind === 'missing' ? missingFileFix(abs, rel, wantDir) : undefined;
      push(
        mapper.locate(doc, pointer),
        pointer,
        `${label} file ${what}: ${abs} (${JSON.stringify(rel)} resolved against the config's folder ${dir})`,
        'error',
        fix,
      );
    }
  }

  const sorted = sortIssues(issues);
  if (sorted.some((i) => i.severity === 'error')) return { issues: sorted };
  return { config: buildConfig(raw, source, dir), issues: sorted };
}

/**
 * For a file reference that does not exist: the closest existing name in the same folder with the same extension
 * ("data.npz" for "dat.npz"), as a replacement of the written path. Undefined when the folder is missing or holds
 * nothing close.
 */
function missingFileFix(abs: string, rel: string, wantDir: boolean): ConfigFix | undefined {
  if (wantDir) return undefined;
  const folder = path.dirname(abs);
  const ext = path.extname(abs).toLowerCase();
  let names: string[];
  try {
    names = readdirSync(folder).filter((n) => path.extname(n).toLowerCase() === ext);
  } catch {
    return undefined;
  }
  const s = suggest(path.basename(abs), names);
  if (!s) return undefined;
  const written = rel.replace(/[^\\/]*$/, s);
  return { kind: 'replaceValue', value: written, title: `Change to "${written}" (the file beside it)` };
}

/**
 * Reads and checks a config file (YAML; `.json` files as JSON). See `parseConfig` for the checks.
 * @param filePath path of the file; issues name it as given
 * @param options.onWarning receives each warning-severity issue (they do not stop loading)
 * @returns the config with defaults applied and absolute paths
 * @throws ConfigError with every error (message: one `file:line:col: message` line per issue); a file
 *   that cannot be read gives a ConfigError at 1:1 whose message keeps the system error's text
 */
export function loadConfig(filePath: string, options: ParseConfigOptions & { onWarning?: (issue: ConfigIssue) => void } = {}): AnalysisConfig {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a folder, not a file'
          : code === 'EACCES'
            ? 'permission denied'
            : err instanceof Error
              ? err.message
              : String(err);
    throw new ConfigError([
      { message: `cannot read config file: ${why}`, file: filePath, line: 1, column: 1, endLine: 1, endColumn: 1, pointer: '', severity: 'error' },
    ]);
  }
  const { config, issues } = parseConfig(text, filePath, options);
  const errors = issues.filter((i) => i.severity === 'error');
  if (!config || errors.length) throw new ConfigError(errors);
  for (const w of issues) if (w.severity === 'warning') options.onWarning?.(w);
  return config;
}

/**
 * The offset of the innermost flow bracket (`[` or `{`, outside quotes and comments) still open at offset `end`,
 * or undefined when every bracket before `end` is closed.
 */
function unclosedFlowBracket(text: string, end: number): number | undefined {
  const open: number[] = [];
  for (let i = 0; i < Math.min(end, text.length); i++) {
    const c = text[i];
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      const q = c;
      while (i + 1 < text.length && text[i + 1] !== q && text[i + 1] !== '\n') i += text[i + 1] === '\\' && q === '"' ? 2 : 1;
      i++;
    } else if (c === '[' || c === '{') open.push(i);
    else if (c === ']' || c === '}') open.pop();
  }
  return open.length ? open[open.length - 1] : undefined;
}

/** Deepest nesting a config may have (flow brackets, or block indentation in columns / 2). */
const MAX_NESTING = 200;

/**
 * Where the nesting of `text` first exceeds `MAX_NESTING` (flow `[`/`{` outside quotes and comments, or a line
 * indented by more than 2·MAX_NESTING columns), or undefined. Approximate by design: it only has to catch absurd
 * depths, far beyond any config.
 */
function tooDeep(text: string): number | undefined {
  let depth = 0;
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === ' ' || c === '-') {
        if (++indent > 2 * MAX_NESTING) return i;
        continue;
      }
      lineStart = false;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      const q = c;
      while (i + 1 < text.length && text[i + 1] !== q && text[i + 1] !== '\n') i += text[i + 1] === '\\' && q === '"' ? 2 : 1;
      i++;
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_NESTING) return i;
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
  return undefined;
}

/** The 1-based line/column span of the character at `offset`. */
function lineColumn(text: string, offset: number): { line: number; column: number; endLine: number; endColumn: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column, endLine: line, endColumn: column + 1 };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

/** The span from a mapping entry's key to the end of its value. */
function pairSpan(mapper: PositionMapper, doc: Document, pointer: string): Span {
  const k = mapper.locate(doc, pointer, 'key');
  const v = mapper.locate(doc, pointer, 'value');
  const vAfter = v.line > k.line || (v.line === k.line && v.column >= k.column);
  return vAfter ? { line: k.line, column: k.column, endLine: v.endLine, endColumn: v.endColumn } : k;
}

/** Offset of a key in the root mapping (document order), or Infinity. */
function keyOffset(doc: Document, key: string): number {
  const root = doc.contents;
  if (!isMap(root)) return Infinity;
  const pair = root.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  const k = pair?.key as { range?: [number, number, number] } | undefined;
  return k?.range ? k.range[0] : Infinity;
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;

function crossFieldIssues(raw: Record<string, unknown>, doc: Document, bad: (p: string) => boolean): RawIssue[] {
  const out: RawIssue[] = [];
  const has = (k: string) => raw[k] !== undefined && raw[k] !== null;

  // Exactly one of task / data.
  if (has('task') && has('data')) {
    const second = keyOffset(doc, 'data') > keyOffset(doc, 'task') ? 'data' : 'task';
    out.push({
      pointer: '/' + second,
      message: `give either task or data, not both (task ${showValue(raw.task)} is a built-in task; data ${showValue(raw.data)} is a data file)`,
      target: 'key',
      severity: 'error',
    });
  } else if (!has('task') && !has('data')) {
    out.push({
      pointer: '',
      message:
        'missing task or data: give a built-in `task` (markov, markov-2paths, mnist-oneshot) or a `data` file (.npz/.json with X_train, y_train, X_test, y_test)',
      target: 'value',
      missing: true,
      severity: 'error',
    });
  }

  // P / P_test only size built-in tasks.
  if (has('data')) {
    for (const k of ['P', 'P_test']) {
      if (has(k))
        out.push({
          pointer: '/' + k,
          message: `${k} is ignored when data is given (the data file fixes the number of examples)`,
          target: 'key',
          severity: 'warning',
        });
    }
  }

  // Array lengths: widths L + 1, variances L + 2.
  const heads = raw.heads;
  const widths = raw.widths;
  const variances = raw.variances;
  if (Array.isArray(heads) && heads.length > 0 && heads.every(isPosInt) && !bad('/heads')) {
    const L = heads.length;
    if (Array.isArray(widths) && widths.length !== L + 1) {
      out.push({ pointer: '/widths', message: lengthMessage('widths', widths.length, heads), target: 'value', severity: 'error' });
    }
    if (Array.isArray(variances) && variances.length !== L + 2) {
      out.push({ pointer: '/variances', message: lengthMessage('variances', variances.length, heads), target: 'value', severity: 'error' });
    }
  } else if (Array.isArray(widths) && Array.isArray(variances) && !bad('/widths') && !bad('/variances') && variances.length !== widths.length + 1) {
    out.push({
      pointer: '/variances',
      message:
        `variances has ${variances.length} entries and widths has ${widths.length}; variances [σ0², σ1², …, σL², σa²] ` +
        `needs one more entry than widths [N_1, …, N_L, N_a] (expected ${widths.length + 1})`,
      target: 'value',
      severity: 'error',
    });
  }

  // Attention keys that the chosen kind does not use.
  const att = raw.attention;
  if (att && typeof att === 'object' && !Array.isArray(att) && !bad('/attention/kind')) {
    const a = att as Record<string, unknown>;
    const kind = a.kind;
    const unused: Array<[string, boolean]> = [
      ['params', kind === 'random-qk' || kind === 'model'],
      ['model', kind !== 'model'],
      ['G', kind !== 'random-qk'],
      ['split', kind !== 'model'],
      ['batchSize', kind !== 'model'],
      ['layers', kind !== 'model'],
      ['windows', kind !== 'model'],
    ];
    if (kind === 'model' && a.layers !== undefined && a.windows !== undefined) {
      out.push({
        pointer: '/attention/windows',
        message: 'give either attention.layers (one window) or attention.windows (windows over every block), not both',
        target: 'key',
        severity: 'error',
      });
    }
    const lw = a.layers;
    if (Array.isArray(lw) && lw.length === 2 && lw.every((v) => Number.isInteger(v)) && !bad('/attention/layers') && (lw[0] as number) > (lw[1] as number)) {
      out.push({
        pointer: '/attention/layers',
        message: `attention.layers ${showValue(lw)} runs backwards; write [first, last] with first ≤ last (0-based blocks, both included)`,
        target: 'value',
        severity: 'error',
      });
    }
    for (const [k, unusedHere] of unused) {
      if (unusedHere && a[k] !== undefined) {
        out.push({
          pointer: '/attention/' + k,
          message: `${displayName('/attention/' + k)} is ignored when kind is ${showValue(kind)}`,
          target: 'key',
          severity: 'warning',
        });
      }
    }
  }
  return out;
}

/** The file references to check: [pointer, path as written, label]. */
function fileRefs(raw: Record<string, unknown>): Array<[string, string, string]> {
  const out: Array<[string, string, string]> = [];
  if (typeof raw.data === 'string' && raw.data) out.push(['/data', raw.data, 'data']);
  const att = raw.attention as Record<string, unknown> | undefined;
  if (att && typeof att === 'object' && !Array.isArray(att)) {
    if (typeof att.params === 'string' && att.params && (att.kind === 'qk' || att.kind === 'w'))
      out.push(['/attention/params', att.params, 'attention.params']);
    if (typeof att.model === 'string' && att.model && att.kind === 'model') out.push(['/attention/model', att.model, 'attention.model']);
  }
  return out;
}

/** Builds the config from a schema-valid plain object: defaults applied, paths absolute, absent keys omitted. */
function buildConfig(raw: Record<string, unknown>, source: string, dir: string): AnalysisConfig {
  const solver = (raw.solver ?? {}) as Record<string, unknown>;
  const config: AnalysisConfig = {
    source,
    widths: (raw.widths as number[] | number | undefined) ?? CONFIG_DEFAULTS.widths,
    variances: (raw.variances as number[] | number | undefined) ?? CONFIG_DEFAULTS.variances,
    temperature: (raw.temperature as number | undefined) ?? CONFIG_DEFAULTS.temperature,
    solver: {
      tolerance: (solver.tolerance as number | undefined) ?? CONFIG_DEFAULTS.tolerance,
      maxIterations: (solver.maxIterations as number | undefined) ?? CONFIG_DEFAULTS.maxIterations,
    },
    seed: (raw.seed as number | undefined) ?? CONFIG_DEFAULTS.seed,
  };
  if (solver.space !== undefined) config.solver.space = solver.space as AnalysisConfig['solver']['space'];
  if (solver.method !== undefined) config.solver.method = solver.method as AnalysisConfig['solver']['method'];
  if (raw.task !== undefined) config.task = raw.task as AnalysisConfig['task'];
  if (raw.data !== undefined) config.data = path.resolve(dir, raw.data as string);
  if (raw.P !== undefined) config.P = raw.P as number;
  if (raw.P_test !== undefined) config.P_test = raw.P_test as number;
  if (raw.heads !== undefined) config.heads = raw.heads as number[] | number;
  if (raw.readout !== undefined) config.readout = raw.readout as AnalysisConfig['readout'];
  if (raw.attention !== undefined) {
    const a = raw.attention as Record<string, unknown>;
    const att: AttentionSettings = { kind: a.kind as AttentionSettings['kind'] };
    if (a.params !== undefined) att.params = path.resolve(dir, a.params as string);
    if (a.model !== undefined) att.model = path.resolve(dir, a.model as string);
    if (a.G !== undefined) att.G = a.G as number;
    if (a.split !== undefined) att.split = a.split as number;
    if (a.batchSize !== undefined) att.batchSize = a.batchSize as number;
    if (a.layers !== undefined) att.layers = [...(a.layers as [number, number])];
    if (a.windows !== undefined) att.windows = a.windows as number | 'auto';
    config.attention = att;
  }
  return config;
}

/**
 * Where a value of a config file is, for errors found after loading (`ConfigValueError`).
 * @param filePath the config file; pointer a JSON pointer such as "/widths".
 * @returns the 1-based span of the value (or of the closest existing parent; line 1 when the file has
 *   none of it), or undefined when the file cannot be read.
 */
export function locateConfigValue(filePath: string, pointer: string): Span | undefined {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch {
    return undefined;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  return new PositionMapper(text, lineCounter).locate(doc, pointer);
}
