/** Public API of the report charts: Vega-Lite spec builders and headless SVG rendering. */
export {
  u1HeatmapSpec,
  headScoresSpec,
  sweepSpec,
  pcOverlapSpec,
  headRemovalSpec,
  u1Cells,
  headBars,
  sweepPoints,
  pcOverlapPoints,
  headRemovalPoints,
  type U1Cell,
  type HeadBar,
  type SweepPoint,
  type PcOverlapPoint,
  type HeadRemovalPoint,
} from '../../../shared/charts';
export { formatNumber, widthLabel } from '../../../shared/format';
export { renderSvg } from './svg';
export { themeConfig, withTheme, VEGA_LITE_SCHEMA, type ChartTheme, type VegaLiteSpec } from '../../../shared/theme';
