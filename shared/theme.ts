/**
 * Optional chart colours. Without a theme the specs set no colours of their own (Vega's defaults: white
 * background, dark text), which is what the CLI's SVG files use; the VS Code webview passes the editor
 * theme's colours.
 */

/** Colours (CSS colour strings) and font of the surrounding page. */
export interface ChartTheme {
  /** Text, axis and grid colour. */
  foreground: string;
  /** Chart background. */
  background: string;
  /** CSS font family for every text of the chart. */
  fontFamily?: string;
}

/** A Vega-Lite spec as plain JSON (data inlined as `values`), ready for `vega-lite`'s `compile` or vega-embed. */
export type VegaLiteSpec = { [key: string]: unknown };

/** The Vega-Lite `$schema` the builders emit (the installed vega-lite is v6). */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * The Vega-Lite `config` block for a theme: background, text/axis/legend/title colours and font.
 * Returns undefined without a theme (no colours set: the chart stays theme-neutral).
 */
export function themeConfig(theme?: ChartTheme): Record<string, unknown> | undefined {
  if (!theme) return undefined;
  const fg = theme.foreground;
  const config: Record<string, unknown> = {
    background: theme.background,
    title: { color: fg, subtitleColor: fg },
    axis: { labelColor: fg, titleColor: fg, domainColor: fg, tickColor: fg, gridColor: fg, gridOpacity: 0.15 },
    legend: { labelColor: fg, titleColor: fg },
    header: { labelColor: fg, titleColor: fg },
    view: { stroke: fg, strokeOpacity: 0.25 },
    text: { color: fg },
  };
  if (theme.fontFamily) config.font = theme.fontFamily;
  return config;
}

/** Adds `config` from the theme to a spec (in place) and returns it. */
export function withTheme(spec: VegaLiteSpec, theme?: ChartTheme): VegaLiteSpec {
  const config = themeConfig(theme);
  if (config) spec.config = config;
  return spec;
}
