/**
 * What the server asks a job process (lsp/workers/jobProcess.ts, dist/job.js) to do, and what comes back over
 * the IPC channel. Internal to the server (the client never sees these; its protocol is `protocol.ts`).
 */
import type { AnalysisConfig } from '../../config/types';
import type { AnalysisReport, Metrics, SweepReport } from '../../../../shared/report';
import type { InspectSummary } from '../../onnx/detect/inspect';
import type { BlockGraph } from '../../onnx/detect/blockGraph';
import type { ArraysSummary } from '../../data/summary';
import type { HeadIndex } from '../../pipeline/silence';
import type { PruneJob, PruneSummary } from '../../pipeline/pruneModel';
import type { CostEstimate } from '../../pipeline/resources';

export type JobSpec =
  /**
   * The main job (pipeline/analyze.ts), with the measured head removal for model configs. Refused before the solve
   * when the config has more than `maxPaths` paths.
   */
  | { kind: 'analyze'; config: AnalysisConfig; maxPaths: number }
  /** Finite width versus GP over widths N. Refused before the first solve beyond `maxPaths` paths. */
  | { kind: 'sweep'; config: AnalysisConfig; widths: number[]; maxPaths: number }
  /** Metrics with several heads silenced together, from a report's U₁ (`U1` = report.U[0]). */
  | { kind: 'silence'; config: AnalysisConfig; U1: number[][]; removed: HeadIndex[] }
  /** Model summary of an `.onnx` file (onnx/detect/inspect.ts). */
  | { kind: 'inspect'; path: string }
  /** Each attention block's subgraph of an `.onnx` file, for the model view's drawing (onnx/detect/blockGraph.ts). */
  | { kind: 'blockGraphs'; path: string }
  /** What an `.npz` / `.npy` file holds, for the array viewer (data/summary.ts). */
  | { kind: 'arrays'; path: string }
  /** Prune heads from an ONNX model, verify and measure (pipeline/pruneModel.ts). Refused beyond `maxPaths` paths (the model's head counts). */
  | { kind: 'pruneModel'; job: Omit<PruneJob, 'onProgress'>; maxPaths: number };

/** The result type of each job kind. */
export interface JobResults {
  analyze: AnalysisReport;
  sweep: SweepReport;
  silence: Metrics;
  inspect: InspectSummary;
  blockGraphs: BlockGraph[];
  arrays: ArraysSummary;
  pruneModel: PruneSummary;
}

/** Messages the server sends a job process: the job to run (once), and the go-ahead after its cost was reported. */
export type ParentMessage = { type: 'run'; spec: JobSpec } | { type: 'go' };

/**
 * Messages a job process sends the server. `cost` comes once, when the shapes are known and before the large
 * work (analyze and sweep jobs); the process then waits for `go` (or is killed).
 */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; stage: string; message: string; fraction?: number }
  | { type: 'cost'; cost: CostEstimate }
  | { type: 'done'; result: unknown }
  /** `pointer`: the config entry the failure is about (ConfigValueError, ResourceError), when known. */
  | { type: 'failed'; name: string; message: string; stack?: string; pointer?: string };

/** Progress of a job as the server reports it: a message and, when it can be estimated, a percentage. */
export interface JobProgress {
  stage: string;
  message: string;
  /** 0–100 */
  percent?: number;
}
