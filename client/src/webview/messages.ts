/**
 * Messages between the extension (panels/) and its webview page (webview/main.ts). Internal to the client:
 * the language-server protocol is server/src/protocol.ts.
 */
import type { AnalysisReport, InspectModelResult, SweepReport } from '../../../server/src/protocol';

/** Extension → page. */
export type ToPage =
  /** Draw the theory charts of a config (the sweep chart too when a sweep exists). */
  | { type: 'charts'; title: string; report: AnalysisReport; sweep?: SweepReport }
  /** Show what an `.onnx` file holds. */
  | { type: 'model'; title: string; model: InspectModelResult }
  /** Something went wrong producing the content. */
  | { type: 'error'; message: string };

/** Page → extension. */
export type FromPage =
  /** The page script is running and can receive content. */
  | { type: 'ready' }
  /**
   * Charts were drawn: how many, how many SVG mark groups they hold, and per chart (by its id: u1-heatmap,
   * head-scores, head-removal, pc-overlap, sweep) the mark groups and the mark items in them (for the tests and the
   * log).
   */
  | { type: 'rendered'; charts: number; marks: number; perChart: Record<string, { groups: number; items: number }> }
  /** Drawing failed. */
  | { type: 'renderError'; message: string }
  /**
   * Run an extension command (links and buttons in the model view): show a config's charts, analyse a config, or
   * create a config for the model and analyse it. `path`: the config's file path (showCharts, analyze); `uri`: the
   * `.onnx` file's URI (createModelConfig).
   */
  | { type: 'command'; command: 'showCharts' | 'analyze' | 'createModelConfig'; path?: string; uri?: string };
