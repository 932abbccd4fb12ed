/** Float32 products (the solver's Hessian–vector products): ONNX Runtime's SGEMM and the JS fallback agree with float64. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gemm, gemm32, ORT_FLOP_THRESHOLD } from '../../src/linalg/gemm';
import { Random } from '../../src/util/random';

describe('gemm32', () => {
  for (const [m, k, n, transA, transB] of [
    [300, 200, 100, false, false],
    [200, 300, 100, true, false],
    [300, 200, 100, false, true],
    [7, 5, 3, true, true],
  ] as const) {
    it(`op(A)·op(B) of ${m}×${k}×${n} (transA ${transA}, transB ${transB}${2 * m * k * n >= ORT_FLOP_THRESHOLD ? ', ONNX Runtime' : ', JS'}) matches float64 to float32 rounding`, async () => {
      const rng = new Random(m + k);
      const A = { rows: transA ? k : m, cols: transA ? m : k, data: rng.normals(m * k) };
      const B = { rows: transB ? n : k, cols: transB ? k : n, data: rng.normals(k * n) };
      const want = await gemm(A, B, { transA, transB });
      const got = await gemm32({ ...A, data: Float32Array.from(A.data) }, { ...B, data: Float32Array.from(B.data) }, { transA, transB });
      assert.deepEqual([got.rows, got.cols], [m, n]);
      assert.ok(got.data instanceof Float32Array);
      // entries are sums of k products of unit normals: size ~√k; float32 rounding ~1e-7 of that
      for (let i = 0; i < want.data.length; i++)
        assert.ok(Math.abs(got.data[i] - want.data[i]) < 1e-5 * Math.sqrt(k), `entry ${i}: ${got.data[i]} vs ${want.data[i]}`);
    });
  }

  for (const [m, k, n] of [
    [300, 200, 100],
    [7, 5, 3],
  ] as const) {
    it(`writes into a given output buffer (${m}×${k}×${n}${2 * m * k * n >= ORT_FLOP_THRESHOLD ? ', ONNX Runtime' : ', JS'}), equal to a fresh product; refuses a buffer of the wrong size`, async () => {
      const rng = new Random(3 * m + n);
      const A = { rows: m, cols: k, data: Float32Array.from(rng.normals(m * k)) };
      const B = { rows: k, cols: n, data: Float32Array.from(rng.normals(k * n)) };
      const fresh = await gemm32(A, B);
      const out = new Float32Array(m * n).fill(7);
      for (let rep = 0; rep < 2; rep++) {
        const got = await gemm32(A, B, { out });
        assert.equal(got.data, out);
        assert.deepEqual(Array.from(got.data), Array.from(fresh.data));
      }
      await assert.rejects(gemm32(A, B, { out: new Float32Array(m * n - 1) }), /out has/);
    });
  }
});
