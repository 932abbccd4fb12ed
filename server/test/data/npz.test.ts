import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { decodeNpz, encodeNpz, readNpz, writeNpz } from '../../src/data/npz';
import { encodeNpy } from '../../src/data/npy';
import { crc32, readZip } from '../../src/data/zip';
import { numpyBytes } from './numpyFixtures';

test('reads a NumPy savez archive holding every integer/bool dtype and big-endian float32', () => {
  const m = decodeNpz(numpyBytes('ints_npz'), 'ints.npz');
  const got = Object.fromEntries([...m].map(([k, a]) => [k, { shape: a.shape, data: Array.from(a.data), dtype: a.dtype }]));
  assert.deepEqual(got, {
    i8: { shape: [2], data: [-3, 2 ** 40], dtype: '<i8' },
    i4: { shape: [1, 2], data: [-7, 8], dtype: '<i4' },
    i2: { shape: [1], data: [-300], dtype: '<i2' },
    i1: { shape: [2], data: [-5, 5], dtype: '|i1' },
    u1: { shape: [2], data: [0, 255], dtype: '|u1' },
    u2: { shape: [1], data: [65535], dtype: '<u2' },
    u4: { shape: [1], data: [4000000000], dtype: '<u4' },
    u8: { shape: [1], data: [2 ** 53], dtype: '<u8' },
    b1: { shape: [3], data: [1, 0, 1], dtype: '|b1' },
    f4be: { shape: [2], data: [0.5, -1.25], dtype: '>f4' },
  });
});

test('reads a NumPy savez_compressed archive (deflate, ZIP64 local headers, Fortran-order member)', () => {
  const m = decodeNpz(numpyBytes('compressed_npz'), 'c.npz');
  assert.deepEqual([...m.keys()], ['X_train', 'y_train']);
  const X = m.get('X_train')!;
  assert.deepEqual(X.shape, [2, 3, 2]);
  assert.deepEqual(Array.from(X.data), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(Array.from(m.get('y_train')!.data), [1, -1]);
});

test('write → read round trips, stored and deflated, float64/float32, C and Fortran order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npz-'));
  const X = { shape: [3, 4, 5], data: Float64Array.from({ length: 60 }, (_, i) => Math.cos(i) / 7) };
  const y = { shape: [3], data: new Float64Array([1, -1, 1]) };
  for (const compress of [false, true]) {
    for (const fortranOrder of [false, true]) {
      for (const dtype of ['<f8', '<f4'] as const) {
        const p = join(dir, `t${compress}${fortranOrder}${dtype === '<f8' ? 8 : 4}.npz`);
        writeNpz(p, { X, y }, { compress, fortranOrder, dtype });
        const m = readNpz(p);
        assert.deepEqual([...m.keys()], ['X', 'y']);
        assert.deepEqual(m.get('X')!.shape, [3, 4, 5]);
        const want = dtype === '<f8' ? X.data : Float64Array.from(Float32Array.from(X.data));
        assert.deepEqual(m.get('X')!.data, want);
        assert.deepEqual(Array.from(m.get('y')!.data), [1, -1, 1]);
        assert.equal(m.get('X')!.dtype, dtype);
      }
    }
  }
  // Deterministic bytes (fixed timestamps), and a Map input works the same as a record.
  const a = encodeNpz({ X, y }, { compress: true });
  assert.deepEqual(
    encodeNpz(
      new Map([
        ['X', X],
        ['y', y],
      ]),
      { compress: true },
    ),
    a,
  );
});

test('members without .npy are read only when they hold .npy bytes; directories and other files are skipped', () => {
  const zip = zipSync({
    raw: encodeNpy({ shape: [1], data: [5] }),
    'README.txt': new TextEncoder().encode('hello'),
    'sub/': new Uint8Array(0),
    'A.npy': encodeNpy({ shape: [2], data: [1, 2] }),
  });
  const m = decodeNpz(zip, 'mixed.npz');
  assert.deepEqual([...m.keys()].sort(), ['A', 'raw']);
  assert.deepEqual(Array.from(m.get('raw')!.data), [5]);
});

/** A stored single-member archive whose sizes and CRC we can then corrupt. */
function storedZip(name: string, data: Uint8Array): Uint8Array {
  return zipSync({ [name]: data }, { level: 0 });
}

/** Offset of the first .npy magic string (\x93NUMPY) in a ZIP archive. */
function npyMagicAt(z: Uint8Array): number {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  for (let i = 0; i + magic.length <= z.length; i++) if (magic.every((b, k) => z[i + k] === b)) return i;
  throw new Error('no .npy magic');
}

/** Offset of the (only) central directory entry. */
function centralOffset(z: Uint8Array): number {
  const v = new DataView(z.buffer, z.byteOffset, z.byteLength);
  for (let e = z.length - 22; e >= 0; e--) if (v.getUint32(e, true) === 0x06054b50) return v.getUint32(e + 16, true);
  throw new Error('no EOCD');
}

test('hostile or corrupt archives throw errors naming the archive and member', () => {
  const npy = encodeNpy({ shape: [4], data: [1, 2, 3, 4] });
  const good = storedZip('X.npy', npy);
  assert.equal(decodeNpz(good, 'g.npz').size, 1);

  assert.throws(() => decodeNpz(new TextEncoder().encode('just some text, not a zip'), 'bad.npz'), /bad\.npz: not a ZIP\/\.npz archive/);
  assert.throws(() => decodeNpz(new Uint8Array(0), 'bad.npz'), /bad\.npz: not a ZIP\/\.npz archive/);
  assert.throws(() => decodeNpz(npy, 'bad.npz'), /bad\.npz: this is a single \.npy array, not a \.npz/);
  // Truncated: the tail (with the directory) cut off, or the data cut off.
  assert.throws(() => decodeNpz(good.subarray(0, good.length - 30), 'bad.npz'), /bad\.npz: not a ZIP/);
  const cut = new Uint8Array(good.length - 40);
  cut.set(good.subarray(0, 40));
  cut.set(good.subarray(80), 40);
  assert.throws(() => decodeNpz(cut, 'bad.npz'), /bad\.npz: /);

  const c = centralOffset(good);
  const mutate = (f: (v: DataView, z: Uint8Array) => void) => {
    const z = good.slice();
    f(new DataView(z.buffer), z);
    return z;
  };
  // CRC mismatch (flip a data byte).
  // (at the .npy magic \x93NUMPY, not at the first 0x93 byte: the ZIP header's modification time, which fflate
  // takes from the clock, can hold one — at some times of day the flip then hit the header, and nothing failed)
  const flipped = mutate((_, z) => {
    z[npyMagicAt(z) + 20] ^= 0xff;
  });
  assert.throws(() => decodeNpz(flipped, 'bad.npz'), /bad\.npz: member X\.npy: CRC-32 mismatch/);
  // Declared sizes larger than the archive / impossible: rejected before allocating.
  assert.throws(
    () =>
      decodeNpz(
        mutate((v) => v.setUint32(c + 20, 0x7fffffff, true)),
        'bad.npz',
      ),
    /member X\.npy: truncated \(declares 2147483647 compressed bytes/,
  );
  assert.throws(
    () =>
      decodeNpz(
        mutate((v) => v.setUint32(c + 24, 0x7fffff00, true)),
        'bad.npz',
      ),
    /member X\.npy: stored member with compressed size/,
  );
  // Unsupported method, encryption, absurd entry count, bad local header offset.
  assert.throws(
    () =>
      decodeNpz(
        mutate((v) => v.setUint16(c + 10, 12, true)),
        'bad.npz',
      ),
    /member X\.npy uses ZIP compression method 12/,
  );
  assert.throws(
    () =>
      decodeNpz(
        mutate((v) => v.setUint16(c + 8, 1, true)),
        'bad.npz',
      ),
    /member X\.npy is encrypted/,
  );
  assert.throws(
    () =>
      decodeNpz(
        mutate((v, z) => {
          const e = z.length - 22;
          v.setUint16(e + 10, 60000, true);
        }),
        'bad.npz',
      ),
    /bad\.npz: corrupt ZIP archive \(60000 entries cannot fit/,
  );
  assert.throws(
    () =>
      decodeNpz(
        mutate((v) => v.setUint32(c + 42, 5, true)),
        'bad.npz',
      ),
    /member X\.npy: local header missing at offset 5/,
  );

  // A deflated member that claims a huge uncompressed size from a few bytes (zip bomb shape).
  const deflated = zipSync({ 'X.npy': npy }, { level: 6 });
  const cd = centralOffset(deflated);
  const bomb = deflated.slice();
  new DataView(bomb.buffer).setUint32(cd + 24, 0x7ffffff0, true);
  assert.throws(() => decodeNpz(bomb, 'bomb.npz'), /bomb\.npz: member X\.npy declares 2147483632 bytes from \d+ compressed bytes, impossible for deflate/);
  // Corrupt deflate stream.
  const garbled = deflated.slice();
  const start = 30 + 5; // local header + name "X.npy", no extra field
  for (let i = start; i < start + 8; i++) garbled[i] = 0xff;
  assert.throws(() => decodeNpz(garbled, 'g.npz'), /g\.npz: member X\.npy: (deflate data are corrupt|CRC-32 mismatch|inflated to)/);

  // The member itself is a broken .npy: the error names archive and member.
  const badMember = storedZip('Y.npy', npy.subarray(0, npy.length - 8));
  assert.throws(
    () => decodeNpz(badMember, 'arch.npz'),
    /arch\.npz: member Y\.npy: shape \[4\] of dtype <f8 needs 32 data bytes, but 24 are declared by the ZIP directory \(truncated file\)/,
  );
  // An archive that is valid in every respect (CRC included) but whose member declares an object dtype.
  const hostile = encodeNpy({ shape: [1], data: [0] });
  hostile.set(new TextEncoder().encode("'|O' "), new TextDecoder('latin1').decode(hostile).indexOf("'<f8'"));
  const pk = storedZip('P.npy', hostile);
  assert.throws(() => decodeNpz(pk, 'p.npz'), /p\.npz: member P\.npy: object arrays \(dtype '\|O'/);
});

test('readZip rejects duplicate member names', () => {
  const a = zipSync({ 'A.npy': encodeNpy({ shape: [1], data: [1] }) }, { level: 0 });
  // Build an archive with two entries and rename the second to the first's name (same length).
  const two = zipSync({ 'A.npy': encodeNpy({ shape: [1], data: [1] }), 'B.npy': encodeNpy({ shape: [1], data: [2] }) }, { level: 0 });
  const s = new TextDecoder('latin1').decode(two).replaceAll('B.npy', 'A.npy');
  const dup = Uint8Array.from(s, (ch) => ch.charCodeAt(0));
  assert.equal(readZip(a, 'a.zip').size, 1);
  assert.throws(() => readZip(dup, 'dup.npz'), /dup\.npz: duplicate member name A\.npy/);
});

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});

test('readNpz names the path when the file is missing', () => {
  assert.throws(() => readNpz('/nonexistent/x.npz'), /\/nonexistent\/x\.npz: cannot read file/);
});
