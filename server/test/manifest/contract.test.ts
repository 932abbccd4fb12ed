/**
 * The model view's wire types (shared/model.ts) and the declarations the ONNX detector keeps for itself
 * (server/src/onnx, until its files have moved into their subfolders) are the same types: checked when the tests
 * are compiled (`npm run typecheck`), so a field added on one side only fails there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as Shared from '../../../shared/model';
import type { DetectionResult } from '../../src/onnx/detect/blocks';
import type { HeadOrigins, HeadName } from '../../src/onnx/edit/headOrigins';
import type { HeadSumRef } from '../../src/onnx/detect/headSum';
import type { InspectSummary } from '../../src/onnx/detect/inspect';
import type { BlockGraph } from '../../src/onnx/detect/blockGraph';
import type { MeasuredMetric } from '../../src/onnx/run/verify';
import type { LatencyMeasure } from '../../src/onnx/run/footprint';
import type { PruneSummary } from '../../src/pipeline/pruneModel';

/** `true` exactly when A and B are identical types (same fields, same optional ones; not only mutually assignable). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const same: {
  detection: Same<DetectionResult, Shared.DetectionResult>;
  headSum: Same<HeadSumRef, Shared.HeadSumRef>;
  headOrigins: Same<HeadOrigins, Shared.HeadOrigins>;
  headName: Same<HeadName, Shared.HeadName>;
  inspect: Same<InspectSummary, Shared.InspectSummary>;
  blockGraph: Same<BlockGraph, Shared.BlockGraph>;
  measured: Same<MeasuredMetric, Shared.MeasuredMetric>;
  latency: Same<LatencyMeasure, Shared.LatencyMeasure>;
  comparison: Same<PruneSummary['comparison'], Shared.PruneComparison>;
} = { detection: true, headSum: true, headOrigins: true, headName: true, inspect: true, blockGraph: true, measured: true, latency: true, comparison: true };

test('the ONNX detector’s report types are the contract’s (a compile-time check; this only runs it)', () => {
  assert.ok(Object.values(same).every((v) => v === true));
});
