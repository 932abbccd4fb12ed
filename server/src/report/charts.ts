/**
 * The chart spec builders live in the shared contract, shared/charts.ts (the CLI's SVG files and the webview draw
 * the same specs), their number formatting in shared/format.ts; re-exported for the language server's features.
 */
export * from '../../../shared/charts';
export { formatNumber, notConvergedNote, widthLabel } from '../../../shared/format';
