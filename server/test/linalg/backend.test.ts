/** The GEMM backend seam (linalg/gemm.ts): one setter per process, carried into job processes by the environment. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemm, gemmBackend, gemmBackendEnv, gemmBackendFromEnv, gemmSync, setGemmBackend } from '../../src/linalg/gemm';
import type { Matrix } from '../../src/linalg/matrix';

test('the backend goes into a child environment and back, without touching the other variables', () => {
  const base = { PATH: '/bin', ATTENTION_PATHS_NO_ORT: '1' };
  assert.deepEqual(gemmBackendEnv('auto', base), { PATH: '/bin' });
  assert.deepEqual(gemmBackendEnv('js', { PATH: '/bin' }), base);
  for (const b of ['auto', 'js'] as const) assert.equal(gemmBackendFromEnv(gemmBackendEnv(b, base)), b);
  assert.equal(base.ATTENTION_PATHS_NO_ORT, '1', 'the given environment is not changed');
});

test('with the js backend a large product runs in JS (the same numbers as gemmSync)', async () => {
  const before = gemmBackend();
  setGemmBackend('js');
  try {
    const n = 200; // 2·n³ = 1.6e7 flops: above the ORT threshold
    const A: Matrix = { rows: n, cols: n, data: Float64Array.from({ length: n * n }, (_, i) => Math.sin(i)) };
    const B: Matrix = { rows: n, cols: n, data: Float64Array.from({ length: n * n }, (_, i) => Math.cos(i)) };
    const C = await gemm(A, B);
    assert.deepEqual(Array.from(C.data), Array.from(gemmSync(A, B).data));
  } finally {
    setGemmBackend(before);
  }
  assert.equal(gemmBackend(), before);
});
