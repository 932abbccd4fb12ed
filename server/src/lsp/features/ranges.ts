/** Conversions between the config module's 1-based spans and LSP's 0-based ranges (UTF-16 columns in both). */
import type { Position, Range } from 'vscode-languageserver';
import type { Span } from '../../config/positions';

/** The LSP range of a 1-based, end-exclusive span. */
export function toRange(s: Span): Range {
  return { start: { line: s.line - 1, character: s.column - 1 }, end: { line: s.endLine - 1, character: s.endColumn - 1 } };
}

/** The LSP position just after a span (where an inlay hint for it goes). */
export function endOf(s: Span): Position {
  return { line: s.endLine - 1, character: s.endColumn - 1 };
}
