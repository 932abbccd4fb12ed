/**
 * Independent random streams from one configuration seed.
 *
 * A task needs several streams (train set, test set, attention heads) that must not overlap and must not
 * change when one of them draws more numbers (e.g. a larger P). Each stream gets its own `Random`, seeded by
 * hashing the configuration seed together with a fixed stream number.
 */

/** Stream numbers used by the synthetic tasks. */
export const STREAM = { train: 1, test: 2, heads: 3 } as const;

/**
 * A 32-bit seed for stream `stream` of configuration seed `seed` (a murmur3-style finalizer over both).
 * @param seed   any integer; only its low 32 bits matter (as in `Random`).
 * @param stream a small integer naming the stream (see `STREAM`).
 * @returns a signed 32-bit integer, different for different (seed, stream) pairs in practice.
 */
export function deriveSeed(seed: number, stream: number): number {
  let z = Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul((stream | 0) + 0x632be5ab, 0x85ebca77);
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d);
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b);
  return (z ^ (z >>> 16)) | 0;
}
