/**
 * Links from the editor's text to the project's own theory document, `docs/theory.md` (shipped in the VSIX;
 * sections a–o). Hovers, inlay-hint tooltips and diagnostics' hovers cite "docs/theory.md §g"-style references;
 * `linkTheory` turns each into a command link that opens the document at that section
 * (`attentionPaths.openTheory`, registered by the client, which trusts only that command in hover markdown).
 */
import { Commands } from '../../../../shared/protocol';

/** The markdown link opening docs/theory.md at `section` (a–o), shown as `text`. */
export function theoryLink(section: string, text = `docs/theory.md §${section}`): string {
  const args = encodeURIComponent(JSON.stringify([section]));
  return `[${text}](command:${Commands.openTheory}?${args} "Open docs/theory.md at section ${section}")`;
}

const REFERENCE = /\b(?:THEORY\.md|docs\/theory\.md|theory\.md) (?:sections? |§)([a-o](?:(?:\s*[–-]\s*|,\s*|\s+and\s+)§?[a-o](?![a-z]))*)(?![a-z])/g;

/**
 * Every "docs/theory.md §g"-style reference (also "§d–e", "§c and §e", and the form of older reports, "THEORY.md" then "section g") in a
 * markdown text as a link to docs/theory.md at the first section named.
 */
export function linkTheory(markdown: string): string {
  return markdown.replace(REFERENCE, (_m, sections: string) => theoryLink(sections[0], `docs/theory.md §${sections}`));
}
