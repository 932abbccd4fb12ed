/**
 * Source positions in a parsed YAML/JSON config: from a JSON pointer to the 1-based line/column span
 * of the node it names (editors and `file:line:col` messages use 1-based positions).
 */
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node as YamlNode } from 'yaml';

/** A 1-based, end-exclusive span (endColumn is the column just after the last character). */
export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** Which part of a mapping entry a span should cover. */
export type SpanTarget = 'value' | 'key';

/** Splits a JSON pointer ("/solver/tolerance", "/widths/1") into unescaped segments; "" is the root. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Maps offsets of one text to spans. `lineCounter` must be the one given to `parseDocument` for `text`.
 */
export class PositionMapper {
  constructor(
    private readonly text: string,
    private readonly lineCounter: LineCounter,
  ) {}

  /** The span of the character offsets [start, end) (clamped to the text; trailing whitespace dropped). */
  span(start: number, end: number): Span {
    start = Math.max(0, Math.min(start, this.text.length));
    end = Math.max(start, Math.min(end, this.text.length));
    while (end - 1 > start && /\s/.test(this.text[end - 1])) end--; // no trailing newline/blank in a span
    const a = this.lineCounter.linePos(start);
    const b = this.lineCounter.linePos(end);
    return { line: a.line, column: a.col, endLine: b.line, endColumn: b.col };
  }

  /** The span of the first non-blank, non-comment line at or after `offset`, up to its end (comments excluded). */
  lineSpan(offset = 0): Span {
    let start = 0;
    for (const line of this.text.split('\n')) {
      const end = start + line.length;
      const content = line.replace(/\r$/, '');
      const trimmed = content.trim();
      if (end >= offset && trimmed !== '' && !trimmed.startsWith('#') && trimmed !== '---') {
        const from = Math.max(start + (content.length - content.trimStart().length), offset);
        const hash = content.indexOf(' #');
        const to = start + (hash >= 0 ? content.slice(0, hash).trimEnd().length : content.trimEnd().length);
        return this.span(from, Math.max(from, to));
      }
      start = end + 1;
    }
    return { line: 1, column: 1, endLine: 1, endColumn: 1 };
  }

  /**
   * The span of the node named by `pointer` in `doc`: its value (default) or, for a mapping entry,
   * its key. Falls back to the nearest existing ancestor when the pointer goes past the document
   * (e.g. a missing key), and to the first content line when even the root is missing.
   */
  locate(doc: Document, pointer: string, target: SpanTarget = 'value'): Span {
    const segments = pointerSegments(pointer);
    let node: unknown = doc.contents;
    let keyNode: YamlNode | null;
    let lastGood: YamlNode | null = isNodeWithRange(node) ? node : null;
    let lastGoodKey: YamlNode | null = null;
    for (const seg of segments) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
        if (!pair) break;
        keyNode = isNodeWithRange(pair.key) ? pair.key : null;
        node = pair.value;
      } else if (isSeq(node)) {
        const i = Number(seg);
        if (!Number.isInteger(i) || i < 0 || i >= node.items.length) break;
        keyNode = null;
        node = node.items[i];
      } else {
        break;
      }
      if (isNodeWithRange(node)) {
        lastGood = node;
        lastGoodKey = keyNode;
      } else if (keyNode) {
        // `key:` with no value node: point at the key.
        lastGood = keyNode;
        lastGoodKey = keyNode;
      }
    }
    const chosen = target === 'key' && lastGoodKey ? lastGoodKey : lastGood;
    if (!chosen || !chosen.range) return this.lineSpan(0);
    const [start, valueEnd] = chosen.range;
    if (valueEnd <= start) {
      // An empty value (`key:` followed by nothing): point at its key when known.
      if (lastGoodKey && lastGoodKey.range) return this.span(lastGoodKey.range[0], lastGoodKey.range[1]);
      return this.lineSpan(start);
    }
    return this.span(start, valueEnd);
  }
}

function isNodeWithRange(n: unknown): n is YamlNode & { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
}
