/**
 * The shape of a config text for editor features: which JSON pointer sits at an offset, where a key or
 * value is, and the spans of a sequence's items. Built on the same YAML parse and `PositionMapper` as
 * the config checks, so the editor's ranges agree with the diagnostics' ranges. Spans are 1-based like
 * `ConfigIssue` (the language server converts them to 0-based LSP ranges).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { PositionMapper, pointerSegments, type Span, type SpanTarget } from './positions';

/** What is at an offset: the pointer of the innermost entry and whether the offset is on its key or value. */
export interface OutlineHit {
  pointer: string;
  part: 'key' | 'value';
  /** Span of the key or value that was hit. */
  span: Span;
}

type Ranged = YamlNode & { range: [number, number, number] };
const hasRange = (n: unknown): n is Ranged => typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class ConfigOutline {
  private readonly doc: Document;
  private readonly mapper: PositionMapper;
  private readonly lines: LineCounter;

  /** Parses `text` (YAML; JSON is YAML too). Never throws: a broken text gives an outline of what parsed. */
  constructor(private readonly text: string) {
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
    this.mapper = new PositionMapper(text, this.lines);
  }

  /** Whether the entry at `pointer` exists (e.g. "/temperature", "/heads/1"). */
  has(pointer: string): boolean {
    return this.node(pointer) !== undefined;
  }

  /** The plain JS value at `pointer`, or undefined. */
  value(pointer: string): unknown {
    const n = this.node(pointer);
    if (n === undefined) return undefined;
    return typeof n === 'object' && n !== null && 'toJSON' in n ? (n as { toJSON(): unknown }).toJSON() : n;
  }

  /** The span of the key or value at `pointer` when the entry exists (no fallback to ancestors). */
  span(pointer: string, target: SpanTarget = 'value'): Span | undefined {
    if (!this.has(pointer)) return undefined;
    return this.mapper.locate(this.doc, pointer, target);
  }

  /** Spans of the items of the sequence at `pointer` (empty when it is not a sequence). */
  itemSpans(pointer: string): Span[] {
    const n = this.node(pointer);
    if (!isSeq(n)) return [];
    return n.items.map((it) => (hasRange(it) ? this.mapper.span(it.range[0], it.range[1]) : this.mapper.lineSpan(0)));
  }

  /** The first line with content (comments and blank lines skipped). */
  firstLine(): Span {
    return this.mapper.lineSpan(0);
  }

  /** 0-based character offset of a 0-based line and character (clamped to the text). */
  offsetAt(line: number, character: number): number {
    const starts = this.lines.lineStarts;
    if (line >= starts.length) return this.text.length;
    const start = starts[Math.max(0, line)];
    const next = line + 1 < starts.length ? starts[line + 1] - 1 : this.text.length;
    return Math.min(start + Math.max(0, character), next);
  }

  /** The innermost mapping key or value containing `offset`, with its pointer. */
  at(offset: number): OutlineHit | undefined {
    let hit: OutlineHit | undefined;
    const visit = (node: unknown, pointer: string) => {
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
          const p = `${pointer}/${escape(key)}`;
          if (hasRange(pair.key) && offset >= pair.key.range[0] && offset <= pair.key.range[1]) {
            hit = { pointer: p, part: 'key', span: this.mapper.span(pair.key.range[0], pair.key.range[1]) };
          }
          if (hasRange(pair.value) && offset >= pair.value.range[0] && offset <= pair.value.range[1]) {
            hit = { pointer: p, part: 'value', span: this.mapper.span(pair.value.range[0], pair.value.range[1]) };
            visit(pair.value, p);
          }
        }
      } else if (isSeq(node)) {
        node.items.forEach((it, i) => {
          if (hasRange(it) && offset >= it.range[0] && offset <= it.range[1]) {
            hit = { pointer: `${pointer}/${i}`, part: 'value', span: this.mapper.span(it.range[0], it.range[1]) };
            visit(it, `${pointer}/${i}`);
          }
        });
      }
    };
    visit(this.doc.contents, '');
    return hit;
  }

  private node(pointer: string): unknown {
    const segs = pointerSegments(pointer);
    let node: unknown = this.doc.contents;
    for (const s of segs) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === s);
        if (!pair) return undefined;
        node = pair.value ?? null;
      } else if (isSeq(node)) {
        const i = Number(s);
        if (!Number.isInteger(i) || i < 0 || i >= node.items.length) return undefined;
        node = node.items[i];
      } else return undefined;
    }
    return node ?? undefined;
  }
}
