/**
 * Links from the editor's text to the project's own theory document, `docs/theory.md` (shipped in the VSIX;
 * sections a–j). Hovers, inlay-hint tooltips and diagnostics' hovers cite "THEORY.md section g"-style references;
 * `linkTheory` turns each into a command link that opens the document at that section
 * (`attentionPaths.openTheory`, registered by the client, which trusts only that command in hover markdown).
 */
import { Commands } from '../protocol';

/** The markdown link opening docs/theory.md at `section` (a–j), shown as `text`. */
export function theoryLink(section: string, text = `docs/theory.md section ${section}`): string {
  const args = encodeURIComponent(JSON.stringify([section]));
  return `[${text}](command:${Commands.openTheory}?${args} "Open docs/theory.md at section ${section}")`;
}

const REFERENCE = /\b(?:THEORY\.md|docs\/theory\.md|theory\.md) (sections?) ([a-o](?:(?:\s*[–-]\s*|,\s*|\s+and\s+)[a-o](?![a-z]))*)(?![a-z])/g;

/**
 * Every "THEORY.md section g"-style reference (also "sections d–e", "docs/theory.md section g") in a markdown text as a link to
 * docs/theory.md at the first section named.
 */
export function linkTheory(markdown: string): string {
  return markdown.replace(REFERENCE, (_m, word: string, sections: string) => theoryLink(sections[0], `docs/theory.md ${word} ${sections}`));
}
