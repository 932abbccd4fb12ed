/**
 * Headless SVG rendering of the Vega-Lite specs of `charts.ts` (for the CLI's report folder).
 *
 * vega and vega-lite are ES modules (vega pulls in vega-canvas, which uses top-level await), so they are
 * loaded with a dynamic `import()` rather than `require`. No `canvas` package is needed: vega then
 * estimates text widths, which only affects label layout slightly. Nothing is fetched: the specs carry
 * their data inline and the loader refuses every URL.
 */
import type { VegaLiteSpec } from '../../../shared/theme';

/** The part of the vega-lite module used here (its types need moduleResolution node16/bundler). */
interface VegaLiteModule {
  compile(spec: VegaLiteSpec, options?: { logger?: unknown }): { spec: object };
}

/** Options of `renderSvg`. */
export interface RenderSvgOptions {
  /** Receives vega-lite / vega warnings ("WARN …"). Default: `console.warn`. */
  onWarning?: (message: string) => void;
}

/** A loader that refuses (and records) every request, so rendering never touches the network or disk. */
function refusingLoader(refused: string[]): unknown {
  const refuse = (what: string) => async (uri: string) => {
    refused.push(uri);
    throw new Error(`renderSvg: no ${what} access while rendering (tried to load ${JSON.stringify(uri)}); inline the data as values`);
  };
  return { load: refuse('network or file'), sanitize: refuse('network or file'), http: refuse('network'), file: refuse('file') };
}

function describeArgs(args: unknown[]): string {
  return args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
}

/**
 * Compiles a Vega-Lite spec with vega-lite and renders it to an SVG document with vega's headless view
 * (`renderer: 'none'`).
 * @param spec a Vega-Lite spec with inline data (as built by `charts.ts`)
 * @param options.onWarning where warnings go (default `console.warn`)
 * @returns the SVG text (`<svg …>…</svg>`), sized by the spec
 * @throws Error when vega-lite cannot compile the spec, vega cannot parse it, or vega logs an error while
 *   rendering, e.g. when the spec asks to load data or images from a URL or file (no network/file
 *   access); the message lists every logged error
 */
export async function renderSvg(spec: VegaLiteSpec, options: RenderSvgOptions = {}): Promise<string> {
  const vega = await import('vega');
  // @ts-expect-error -- vega-lite's typings only resolve under moduleResolution node16/bundler; the used shape is VegaLiteModule.
  const vl = (await import('vega-lite')) as unknown as VegaLiteModule;
  const errors: string[] = [];
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const logger = vega.logger(vega.Warn, undefined, (_method, level, args) => {
    const text = describeArgs(args);
    if (level === 'ERROR') errors.push(text);
    else warn(`${level} ${text}`);
  });
  const compiled = vl.compile(spec, { logger }).spec as Parameters<typeof vega.parse>[0];
  const refused: string[] = [];
  const loader = refusingLoader(refused) as ReturnType<typeof vega.loader>;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader, logger });
  try {
    const svg = await view.toSVG();
    if (refused.length) {
      errors.unshift(
        `no network or file access while rendering (tried to load ${refused.map((u) => JSON.stringify(u)).join(', ')}); inline the data as values`,
      );
    }
    if (errors.length) throw new Error(`renderSvg: ${errors.join('; ')}`);
    return svg;
  } finally {
    view.finalize();
  }
}
