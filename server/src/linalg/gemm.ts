/**
 * General matrix products C = op(A)·op(B), op = identity or transpose, in float64.
 *
 * Small products run in plain JS loops (no call overhead); large ones go to ONNX Runtime's CPU Gemm,
 * which is about 100× faster on this hardware (measured: ~100 GFLOP/s float64 on 2 cores versus
 * ~1 GFLOP/s for JS loops). The dispatch is by flop count, so callers never choose; the process chooses once
 * whether ONNX Runtime may be used at all (`setGemmBackend`: the editor's attentionPaths.computeBackend).
 */
import { Matrix, Matrix32, zeros } from './matrix';
import { ortGemm, ortGemm32, ortGemmInto, ortAvailable, useSingleThread } from './ortGemm';

export interface GemmOptions {
  /** Use Aᵀ instead of A. */
  transA?: boolean;
  /** Use Bᵀ instead of B. */
  transB?: boolean;
}

/**
 * Where large products run: `auto` in ONNX Runtime's CPU engine when it loads (else JS), `js` in JS only (the setting
 * attentionPaths.computeBackend, for platforms where ONNX Runtime misbehaves).
 */
export type GemmBackend = 'auto' | 'js';

let backend: GemmBackend = 'auto';

/** Chooses the backend of this process's products (the language server, the CLI, each job process at its start). */
export function setGemmBackend(b: GemmBackend): void {
  backend = b;
}

/** The backend `setGemmBackend` chose (default `auto`). */
export function gemmBackend(): GemmBackend {
  return backend;
}

/**
 * The environment variable that carries the backend into the language server's job processes: they are forked
 * (dist/job.js), a spare one ahead of any job, so the environment they start with is the one channel they have
 * before their first message, and each reads it once at start (`gemmBackendFromEnv`) and calls `setGemmBackend`.
 * The CLI reads it too (`ATTENTION_PATHS_NO_ORT=1 attention-paths analyze` runs in JS only, for comparisons).
 */
const BACKEND_ENV = 'ATTENTION_PATHS_NO_ORT';

/** `env` with the backend set for a child process (the variable set for `js`, removed for `auto`). */
export function gemmBackendEnv(b: GemmBackend, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { [BACKEND_ENV]: _old, ...rest } = env;
  return b === 'js' ? { ...rest, [BACKEND_ENV]: '1' } : rest;
}

/** The backend the environment asks for (what a job process calls `setGemmBackend` with). */
export function gemmBackendFromEnv(env: NodeJS.ProcessEnv = process.env): GemmBackend {
  return env[BACKEND_ENV] === '1' ? 'js' : 'auto';
}

/** Whether large products go to ONNX Runtime: the backend allows it and its native engine loads. */
function useOrt(): boolean {
  return backend === 'auto' && ortAvailable();
}

/** Products with fewer flops than this run in JS; larger ones in ONNX Runtime. */
export const ORT_FLOP_THRESHOLD = 4e6;

function dims(A: Matrix, B: Matrix, o: GemmOptions): [number, number, number] {
  const m = o.transA ? A.cols : A.rows;
  const k = o.transA ? A.rows : A.cols;
  const kb = o.transB ? B.cols : B.rows;
  const n = o.transB ? B.rows : B.cols;
  if (k !== kb) {
    throw new Error(
      `gemm: inner dimensions differ: op(A) is ${m}×${k}, op(B) is ${kb}×${n} (A ${A.rows}×${A.cols}${o.transA ? 'ᵀ' : ''}, B ${B.rows}×${B.cols}${o.transB ? 'ᵀ' : ''})`,
    );
  }
  return [m, k, n];
}

/**
 * C = op(A)·op(B), synchronous, in JS. Shapes: op(A) [m, k], op(B) [k, n] → C [m, n].
 * @throws Error when the inner dimensions differ.
 */
export function gemmSync(A: Matrix, B: Matrix, o: GemmOptions = {}): Matrix {
  const [m, k, n] = dims(A, B, o);
  const C = zeros(m, n);
  const a = A.data;
  const b = B.data;
  const c = C.data;
  if (!o.transB) {
    // i-p-j order: the inner loop walks a row of B and a row of C contiguously.
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const aip = o.transA ? a[p * A.cols + i] : a[i * A.cols + p];
        if (aip === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
      }
    }
  } else {
    // B used transposed: rows of B are columns of op(B), so each C entry is a dot product of two rows.
    const At = o.transA ? transposeData(A) : null;
    for (let i = 0; i < m; i++) {
      const ai = i * k;
      for (let j = 0; j < n; j++) {
        const bj = j * k;
        let s = 0;
        if (At) for (let p = 0; p < k; p++) s += At[ai + p] * b[bj + p];
        else for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
        c[i * n + j] = s;
      }
    }
  }
  return C;
}

function transposeData(A: Matrix): Float64Array {
  const t = new Float64Array(A.rows * A.cols);
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) t[j * A.rows + i] = A.data[i * A.cols + j];
  return t;
}

/**
 * C = op(A)·op(B) in float64, dispatched to JS or ONNX Runtime by size.
 * Shapes: op(A) [m, k], op(B) [k, n] → C [m, n]. Inputs are not modified.
 * @throws Error when the inner dimensions differ, or when ONNX Runtime fails (its message is kept).
 */
export async function gemm(A: Matrix, B: Matrix, o: GemmOptions = {}): Promise<Matrix> {
  const [m, k, n] = dims(A, B, o);
  if (2 * m * k * n < ORT_FLOP_THRESHOLD || m === 0 || n === 0 || k === 0 || !useOrt()) return gemmSync(A, B, o);
  const data = await ortGemm(A, B, !!o.transA, !!o.transB);
  return { rows: m, cols: n, data };
}

export interface GemmIntoOptions extends GemmOptions {
  /** Factor of the product: 1 (default) or −1 (for updates C − A·B). */
  alpha?: 1 | -1;
  /** Added to the product (shape of the output); not modified. */
  C?: Float64Array;
  /** Where to write the result (exactly the output's size; may be a view of a larger array); must not overlap
   * A, B or C. A new array when absent. */
  out?: Float64Array;
}

/**
 * out = alpha·op(A)·op(B) + C in float64, dispatched to JS or ONNX Runtime by size (as `gemm`). A, B and C may
 * be views into larger arrays (contiguous row blocks), so row panels of big matrices need no copies.
 * Shapes: op(A) [m, k], op(B) [k, n], C and out [m, n].
 * @returns the output data ([m, n] row-major).
 * @throws Error when the inner dimensions differ or C/out have the wrong length.
 */
export async function gemmInto(A: Matrix, B: Matrix, o: GemmIntoOptions = {}): Promise<Float64Array> {
  const [m, k, n] = dims(A, B, o);
  if (o.C && o.C.length !== m * n) throw new Error(`gemmInto: C has ${o.C.length} entries, expected ${m}×${n}`);
  if (o.out && o.out.length !== m * n) throw new Error(`gemmInto: out has ${o.out.length} entries, expected ${m}×${n}`);
  const alpha = o.alpha ?? 1;
  if (m === 0 || n === 0) return o.out ?? new Float64Array(m * n);
  if (k === 0 || 2 * m * k * n < ORT_FLOP_THRESHOLD || !useOrt()) {
    const P = k === 0 ? new Float64Array(m * n) : gemmSync(A, B, o).data;
    const out = o.out ?? P;
    for (let i = 0; i < m * n; i++) out[i] = alpha * P[i] + (o.C ? o.C[i] : 0);
    return out;
  }
  return ortGemmInto(A, B, { transA: !!o.transA, transB: !!o.transB, alpha, singleThread: useSingleThread(m, k, n) }, o.C, o.out);
}

/**
 * C = op(A)·op(B) in float32 (ONNX Runtime's SGEMM for large products, else JS loops accumulating in
 * float64). For approximate products only — the solver's Hessian–vector products, whose rounding
 * (~1e-6 relative) is far below what truncated Newton steps tolerate. `out` (exactly [m, n], not overlapping A or B)
 * receives the result, so that repeated products reuse one buffer.
 * @throws Error when the inner dimensions differ, `out` has the wrong length, or ONNX Runtime fails.
 */
export async function gemm32(A: Matrix32, B: Matrix32, o: GemmOptions & { out?: Float32Array } = {}): Promise<Matrix32> {
  const [m, k, n] = dims(A as unknown as Matrix, B as unknown as Matrix, o);
  if (o.out && o.out.length !== m * n) throw new Error(`gemm32: out has ${o.out.length} entries, expected ${m}×${n}`);
  if (2 * m * k * n >= ORT_FLOP_THRESHOLD && m > 0 && n > 0 && k > 0 && useOrt()) {
    return { rows: m, cols: n, data: await ortGemm32(A, B, !!o.transA, !!o.transB, o.out) };
  }
  const C = gemmSync({ rows: A.rows, cols: A.cols, data: Float64Array.from(A.data) }, { rows: B.rows, cols: B.cols, data: Float64Array.from(B.data) }, o);
  if (o.out) {
    o.out.set(C.data);
    return { rows: m, cols: n, data: o.out };
  }
  return { rows: m, cols: n, data: Float32Array.from(C.data) };
}

/**
 * Where the blocks of a batched product lie when they are not contiguous: block b's rows are row slices of a
 * larger row-major array, as the heads of a projection [P·T, H·k] hold them (block b = (p, h) reads rows p·m … of
 * width k at column h·k). Row i of block b starts at (⌊b / groups⌋·rows + i)·rowStride + (b mod groups)·k.
 */
export interface BatchLayout {
  /** Blocks per row group (the heads H). */
  groups: number;
  /** Entries per array row (H·k). */
  rowStride: number;
}

/**
 * Batched products C[b] = scale·A[b]·B[b]ᵀ in float64, for many small blocks (attention scores).
 * Plain JS with contiguous dot products (measured ~1.5 GFLOP/s): ONNX Runtime's batched MatMul was
 * slower and erratic for thousands of 31×231 blocks, and one dense GEMM would compute P× too much.
 * @param A [batch, m, k] row-major, or (with `layout`) [batch / groups, m, rowStride] holding the blocks side by
 *   side; B likewise with n rows. @returns C [batch, m, n].
 * @throws Error when the array lengths do not match the shapes.
 */
export function batchedMatmulTransB(
  A: Float64Array,
  B: Float64Array,
  batch: number,
  m: number,
  k: number,
  n: number,
  layout?: BatchLayout,
  scale = 1,
): Float64Array {
  const groups = layout?.groups ?? 1;
  const stride = layout?.rowStride ?? k;
  if (batch % groups !== 0 || stride < groups * k)
    throw new Error(`batchedMatmulTransB: layout of ${groups} groups of width ${k} does not fit rows of ${stride}`);
  const rowsA = (batch / groups) * m * stride;
  const rowsB = (batch / groups) * n * stride;
  if (A.length !== rowsA || B.length !== rowsB) {
    throw new Error(`batchedMatmulTransB: got ${A.length} and ${B.length} entries for [${batch}, ${m}, ${k}] × [${batch}, ${n}, ${k}]ᵀ`);
  }
  const C = new Float64Array(batch * m * n);
  for (let b = 0; b < batch; b++) {
    const g = Math.floor(b / groups);
    const col = (b - g * groups) * k;
    const ao = g * m * stride + col;
    const bo = g * n * stride + col;
    for (let i = 0; i < m; i++) {
      const ai = ao + i * stride;
      for (let j = 0; j < n; j++) {
        const bj = bo + j * stride;
        // four partial sums: independent dependency chains run faster in V8
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let p = 0;
        for (; p + 3 < k; p += 4) {
          s0 += A[ai + p] * B[bj + p];
          s1 += A[ai + p + 1] * B[bj + p + 1];
          s2 += A[ai + p + 2] * B[bj + p + 2];
          s3 += A[ai + p + 3] * B[bj + p + 3];
        }
        for (; p < k; p++) s0 += A[ai + p] * B[bj + p];
        C[(b * m + i) * n + j] = scale * (s0 + s1 + (s2 + s3));
      }
    }
  }
  return C;
}
