/**
 * The array viewer's summary of `.npz` / `.npy` files (src/data/summary.ts): statistics, label balance and preview
 * of each array; a member that cannot be decoded is listed with its reason while the others still show; and a
 * member whose ZIP directory declares 512 MiB behind a 2-entry `.npy` header is refused after its first inflated
 * chunk (bounded inflation of data/npz.ts), not inflated into a buffer of the declared size.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { summarizeArraysFile } from '../../src/data/summary';
import { encodeNpy } from '../../src/data/npy';
import { writeZip } from '../../src/data/zip';

const tmp = mkdtempSync(join(tmpdir(), 'arrays-summary-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('an .npz: each array with dtype, shape, finite statistics, non-finite count, label balance and preview', () => {
  const file = join(tmp, 'data.npz');
  const X = { shape: [3, 2], data: [1, 2, 3, NaN, 5, 6] };
  const y = { shape: [3], data: [1, -1, 1] };
  writeFileSync(
    file,
    writeZip([
      ['X.npy', encodeNpy(X)],
      ['y.npy', encodeNpy(y, { dtype: '<f4' })],
    ]),
  );
  const s = summarizeArraysFile(file);
  assert.equal(s.kind, 'npz');
  assert.equal(s.error, undefined);
  assert.deepEqual(s.arrays[0], {
    name: 'X',
    dtype: '<f8',
    shape: [3, 2],
    count: 6,
    nonFinite: 1,
    min: 1,
    max: 6,
    mean: 17 / 5,
    preview: [
      [1, 2],
      [3, NaN],
      [5, 6],
    ],
  });
  assert.deepEqual(s.arrays[1].labels, [
    { value: 1, count: 2 },
    { value: -1, count: 1 },
  ]);
  assert.equal(s.arrays[1].dtype, '<f4');
});

test('a member that is not a valid .npy is listed with its reason; the others still show', () => {
  const file = join(tmp, 'mixed.npz');
  writeFileSync(
    file,
    writeZip([
      ['good.npy', encodeNpy({ shape: [2], data: [4, 8] })],
      ['bad.npy', Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 9, 0, 0)],
    ]),
  );
  const s = summarizeArraysFile(file);
  assert.deepEqual(
    s.arrays.map((a) => a.name),
    ['good', 'bad'],
  );
  assert.equal(s.arrays[0].mean, 6);
  assert.match(s.arrays[1].error ?? '', /^mixed\.npz: member bad\.npy: /);
  assert.ok(!s.arrays[1].error!.includes('\n'));
});

/** A one-member ZIP archive holding the raw deflate stream `deflated` as `name`, declaring `usize` uncompressed bytes. */
function zipOf(name: string, deflated: Uint8Array, usize: number): Uint8Array {
  const n = Buffer.from(name, 'latin1');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(usize, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(usize, 24);
  central.writeUInt16LE(n.length, 28);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + n.length, 12);
  eocd.writeUInt32LE(local.length + n.length + deflated.length, 16);
  return Buffer.concat([local, n, deflated, central, n, eocd]);
}

test('a member declaring 512 MiB behind a 2-entry header is refused with one line, without inflating it (peak RSS grows < 64 MB)', () => {
  const head = encodeNpy({ shape: [2], data: [1, 2] });
  const MIB = 512;
  // One sync-flushed MiB of zeros is a self-contained run of deflate blocks: repeating it repeats the MiB.
  const part = (b: Uint8Array) => deflateRawSync(b, { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  const zeros = part(new Uint8Array(1 << 20));
  const deflated = Buffer.concat([part(head), ...new Array<Buffer>(MIB).fill(zeros), Buffer.from([0x03, 0x00])]);
  const file = join(tmp, 'bomb.npz');
  writeFileSync(file, zipOf('X.npy', deflated, head.length + MIB * 2 ** 20));
  const before = process.resourceUsage().maxRSS;
  const s = summarizeArraysFile(file);
  const grownMB = (process.resourceUsage().maxRSS - before) / 1024;
  assert.equal(s.arrays.length, 1);
  assert.match(s.arrays[0].error ?? '', /^bomb\.npz: member X\.npy: .*declared by the ZIP directory/);
  assert.ok(grownMB < 64, `peak RSS grew by ${grownMB.toFixed(1)} MB`);
});
