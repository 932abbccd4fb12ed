/**
 * Messages between the extension (panels/) and its webview pages (webview/main.ts). Internal to the client:
 * the language-server protocol is shared/protocol.ts.
 */
import type { AnalysisReport, ArraysSummary, InspectModelResult, SweepReport } from '../../../shared/protocol';

/**
 * How current the charts are (the banner over them): `current` (no banner), `analysing` (a new result is being
 * computed), `stale` (the config changed and has errors, or its analysis was cancelled), `failed` (the analysis of
 * the current text failed), `none` (no result yet). `text` is the banner's sentence.
 */
export interface ChartsState {
  kind: 'current' | 'analysing' | 'stale' | 'failed' | 'none';
  text: string;
}

/** Extension → page. */
export type ToPage =
  /** Draw the theory charts of a config (the sweep chart too when a sweep exists), under the state's banner. */
  | { type: 'charts'; title: string; report?: AnalysisReport; sweep?: SweepReport; state: ChartsState }
  /** Only the banner changed: keep the charts drawn, change the banner over them. */
  | { type: 'state'; title: string; state: ChartsState }
  /** Export the chart `id` (SVG text or a PNG data URL), answered with an `exported` message. */
  | { type: 'export'; id: string; format: 'svg' | 'png'; request: number }
  /** Show what an `.onnx` file holds. */
  | { type: 'model'; title: string; model: InspectModelResult; focus?: string }
  /** Show what an `.npz` / `.npy` file holds. */
  | { type: 'arrays'; title: string; arrays: ArraysSummary }
  /** Something went wrong producing the content. */
  | { type: 'error'; message: string };

/** Page → extension. */
export type FromPage =
  /** The page script is running and can receive content. */
  | { type: 'ready' }
  /**
   * Charts were drawn: how many, how many SVG mark groups they hold, and per chart (by its id: u1-heatmap,
   * head-scores, head-removal, pc-overlap, attention-maps, sweep) the mark groups and the mark items in them (for the
   * tests and the log). `banner`: the banner's text shown over them ('' when current).
   */
  | { type: 'rendered'; charts: number; marks: number; perChart: Record<string, { groups: number; items: number }>; banner: string; width: number }
  /** Drawing failed. */
  | { type: 'renderError'; message: string }
  /** The user asked to export a chart (its toolbar), or the extension did (`request` > 0): the chart's bytes. */
  | { type: 'exported'; id: string; format: 'svg' | 'png'; data: string; request: number }
  /**
   * Run an extension command (links and buttons in the model view): show a config's charts, analyse a config, or
   * create a config for the model and analyse it. `path`: the config's file path (showCharts, analyze); `uri`: the
   * `.onnx` file's URI (createModelConfig).
   */
  | { type: 'command'; command: 'showCharts' | 'analyze' | 'createModelConfig'; path?: string; uri?: string };

/** What the page reported after drawing. */
export interface RenderInfo {
  charts: number;
  /** SVG mark groups over all charts. */
  marks: number;
  /** Per chart id (u1-heatmap, head-scores, head-removal, pc-overlap, attention-maps, sweep): mark groups and the items in them. */
  perChart: Record<string, { groups: number; items: number }>;
  /** The banner over the charts ('' when they are current). */
  banner: string;
  /** The width the charts were drawn for (CSS pixels). */
  width: number;
  /** The config shown. */
  config: string;
}
