/** Tolerance assertions in the style of numpy.testing.assert_allclose: |a − e| ≤ atol + rtol·|e|. */
import assert from 'node:assert/strict';

export function assertClose(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, rtol: number, atol: number, what = 'value'): void {
  const a = typeof actual === 'number' ? [actual] : Array.from(actual);
  const e = typeof expected === 'number' ? [expected] : Array.from(expected);
  assert.equal(a.length, e.length, `${what}: length ${a.length} vs expected ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const tol = atol + rtol * Math.abs(e[i]);
    if (!(Math.abs(a[i] - e[i]) <= tol)) {
      assert.fail(`${what}[${i}]: got ${a[i]}, expected ${e[i]} (|diff| ${Math.abs(a[i] - e[i])} > tol ${tol})`);
    }
  }
}

/** Flattens nested arrays of numbers. */
export function flat(x: unknown): number[] {
  return (Array.isArray(x) ? x.flat(Infinity) : [x]) as number[];
}
