import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy, readNpy, writeNpy } from '../../src/data/npy';
import { numpyBytes } from './numpyFixtures';

/** The array NumPy wrote into the f8_c / f4_fortran fixtures: arange(24).reshape(2,3,4)*0.25 − 1. */
const A = Float64Array.from({ length: 24 }, (_, i) => i * 0.25 - 1);

/** Hand-built .npy bytes: magic, version, header-length field, header text, then raw data bytes. */
function npyBytes(header: string, data: Uint8Array = new Uint8Array(0), major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, header.length, true);
  else v.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(data, pre + header.length);
  return out;
}

function f8(values: number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}

test('reads NumPy-written float64 C-order arrays', () => {
  const a = decodeNpy(numpyBytes('f8_c'), 'a.npy');
  assert.deepEqual(a.shape, [2, 3, 4]);
  assert.equal(a.dtype, '<f8');
  assert.deepEqual(Array.from(a.data), Array.from(A));
});

test('reads NumPy-written float32 Fortran-order arrays into row-major order', () => {
  const a = decodeNpy(numpyBytes('f4_fortran'), 'f.npy');
  assert.deepEqual(a.shape, [2, 3, 4]);
  assert.equal(a.dtype, '<f4');
  // Every value is a multiple of 0.25, exact in float32, so the row-major data equal A exactly.
  assert.deepEqual(Array.from(a.data), Array.from(A));
});

test('reads big-endian float64 and format versions 2.0 and 3.0', () => {
  const be = decodeNpy(numpyBytes('f8_be'), 'be.npy');
  assert.deepEqual(be.shape, [1, 3, 4]);
  assert.deepEqual(Array.from(be.data), Array.from(A.subarray(0, 12)));
  const v2 = decodeNpy(numpyBytes('v2'), 'v2.npy');
  assert.deepEqual(v2.shape, [1, 2]);
  assert.deepEqual(Array.from(v2.data), [1.5, -2]);
  const v3 = decodeNpy(numpyBytes('v3'), 'v3.npy');
  assert.deepEqual(v3.shape, [2]);
  assert.deepEqual(Array.from(v3.data), [3, 4]);
});

test('encodeNpy writes exactly the bytes NumPy writes (C order float64, Fortran order float32)', () => {
  assert.deepEqual(encodeNpy({ shape: [2, 3, 4], data: A }), numpyBytes('f8_c'));
  assert.deepEqual(encodeNpy({ shape: [2, 3, 4], data: A }, { dtype: '<f4', fortranOrder: true }), numpyBytes('f4_fortran'));
});

test('write → read round trips: shapes incl. scalar and empty, float32 rounding, Fortran order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  const vals = Float64Array.from({ length: 30 }, (_, i) => Math.sin(i) * 1e3 + 1 / 3);
  for (const shape of [[30], [5, 6], [2, 3, 5], [1, 1, 30]]) {
    for (const fortranOrder of [false, true]) {
      const p = join(dir, `x${shape.join('x')}${fortranOrder}.npy`);
      writeNpy(p, { shape, data: vals }, { fortranOrder });
      const back = readNpy(p);
      assert.deepEqual(back.shape, shape);
      assert.deepEqual(back.data, vals);
      const f32 = decodeNpy(encodeNpy({ shape, data: vals }, { dtype: '<f4', fortranOrder }), 'f32');
      assert.deepEqual(Array.from(f32.data), Array.from(Float32Array.from(vals)));
    }
  }
  const scalar = decodeNpy(encodeNpy({ shape: [], data: [2.5] }), 's');
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual(Array.from(scalar.data), [2.5]);
  const empty = decodeNpy(encodeNpy({ shape: [0, 4], data: [] }), 'e');
  assert.deepEqual(empty.shape, [0, 4]);
  assert.equal(empty.data.length, 0);
  // NaN and infinities survive (the loaders, not the format, reject them).
  const odd = decodeNpy(encodeNpy({ shape: [3], data: [NaN, Infinity, -0] }), 'o');
  assert.ok(Number.isNaN(odd.data[0]));
  assert.equal(odd.data[1], Infinity);
  assert.ok(Object.is(odd.data[2], -0));
  // Data start is 64-byte aligned, as NumPy requires of writers.
  const bytes = encodeNpy({ shape: [7, 11], data: new Float64Array(77) });
  assert.equal((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64, 0);
});

test('hand-built headers: odd spacing, double quotes, Python 2 long suffix, extra trailing spaces, 1-D tuple', () => {
  const a = decodeNpy(npyBytes(`{"shape":(2L,),"fortran_order":False,"descr":"<f8"}   \n`, f8([1, 2])), 'h1');
  assert.deepEqual(a.shape, [2]);
  assert.deepEqual(Array.from(a.data), [1, 2]);
  const b = decodeNpy(npyBytes(`{ 'descr' : '<f8' , 'fortran_order' : True , 'shape' : [ 2 , 2 ] }`, f8([1, 2, 3, 4])), 'h2');
  // Fortran order: stored column-major [1,2,3,4] is the matrix [[1,3],[2,4]].
  assert.deepEqual(Array.from(b.data), [1, 3, 2, 4]);
  const c = decodeNpy(npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': ()}`, f8([7])), 'h3');
  assert.deepEqual(c.shape, []);
  assert.deepEqual(Array.from(c.data), [7]);
});

test('every integer and bool dtype, both byte orders', () => {
  const cases: [string, number[], number[]][] = [
    ['<i8', [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [-3]],
    ['>i4', [0xff, 0xff, 0xff, 0xf9], [-7]],
    ['<i4', [0xf9, 0xff, 0xff, 0xff], [-7]],
    ['<i2', [0xd4, 0xfe], [-300]],
    ['|i1', [0xfb, 0x05], [-5, 5]],
    ['|u1', [0, 255], [0, 255]],
    ['<u2', [0xff, 0xff], [65535]],
    ['>u2', [0x01, 0x00], [256]],
    ['<u4', [0x00, 0x28, 0x6b, 0xee], [4000000000]],
    ['<u8', [0, 0, 0, 0, 0, 0, 0x20, 0], [2 ** 53]],
    ['|b1', [1, 0, 7], [1, 0, 1]],
    ['<f4', [0, 0, 0xc0, 0x3f], [1.5]],
    ['>f4', [0x3f, 0xc0, 0, 0], [1.5]],
    ['<f2', [0x00, 0x3e], [1.5]],
  ];
  for (const [descr, bytes, want] of cases) {
    const h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${want.length},), }\n`;
    const a = decodeNpy(npyBytes(h, Uint8Array.from(bytes)), descr);
    assert.equal(a.dtype, descr);
    assert.deepEqual(Array.from(a.data), want, descr);
  }
});

test('bad inputs throw an error naming the file and the reason', () => {
  const ok = `{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n`;
  const cases: [Uint8Array, RegExp][] = [
    [new TextEncoder().encode('PK\x03\x04 not npy at all'), /bad\.npy: not a \.npy file \(the magic string/],
    [new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1]), /bad\.npy: truncated \.npy file/],
    [
      (() => {
        const b = npyBytes(ok, f8([1, 2]));
        b[6] = 9;
        return b;
      })(),
      /unsupported \.npy format version 9\.0/,
    ],
    [npyBytes(ok, f8([1])), /needs 16 data bytes, but 8 are present \(truncated file\)/],
    [npyBytes(ok, f8([1, 2, 3])), /needs 16 data bytes, but 24 are present \(trailing bytes\)/],
    [npyBytes(`{'descr': '|O', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(8)), /object arrays .* are refused/],
    [npyBytes(`{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(8)), /structured \(record\) dtypes are not supported/],
    [npyBytes(`{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(16)), /unsupported dtype '<c16'/],
    [npyBytes(`{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(12)), /unsupported dtype '<U3'/],
    [npyBytes(`{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }`, new Uint8Array(8)), /no byte order but 8-byte items/],
    [npyBytes(`{'descr': '<f8', 'shape': (2,), }`, f8([1, 2])), /lacks the key 'fortran_order'/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}`, f8([1, 2])), /unexpected key 'x'/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }`), /invalid dimension -2/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }`), /malformed \.npy header \(non-integer number/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }`, f8([1, 2])), /'fortran_order' is not True\/False/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (2,)`, f8([1, 2])), /malformed \.npy header/],
    [npyBytes(`__import__('os').system('x')`), /malformed \.npy header/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': ${'('.repeat(5000)}`), /nesting too deep/],
    // A shape whose byte size is astronomically larger than the file: rejected before any allocation.
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (100000000, 100000000), }`), /absurdly large|needs .* data bytes/],
    [npyBytes(`{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }`), /absurdly large/],
  ];
  for (const [bytes, re] of cases) assert.throws(() => decodeNpy(bytes, 'bad.npy'), re);
  // Header length larger than the file, and larger than any sane header.
  const long = npyBytes(ok, f8([1, 2]));
  new DataView(long.buffer).setUint16(8, 60000, true);
  assert.throws(() => decodeNpy(long, 'bad.npy'), /bad\.npy: truncated \.npy file \(header claims 60000 bytes/);
  const huge = npyBytes(ok, f8([1, 2]), 2);
  new DataView(huge.buffer).setUint32(8, 0xfffffff0, true);
  assert.throws(() => decodeNpy(huge, 'bad.npy'), /bad\.npy: \.npy header too long \(4294967280 bytes/);
});

test('readNpy names the path when the file is missing', () => {
  assert.throws(() => readNpy('/nonexistent/dir/x.npy'), /\/nonexistent\/dir\/x\.npy: cannot read file/);
  const dir = mkdtempSync(join(tmpdir(), 'npy-'));
  writeFileSync(join(dir, 'e.npy'), new Uint8Array(0));
  assert.throws(() => readNpy(join(dir, 'e.npy')), /e\.npy: not a \.npy file/);
});

test('encodeNpy rejects a shape that does not fit the data', () => {
  assert.throws(() => encodeNpy({ shape: [2, 3], data: [1, 2, 3] }), /shape \[2, 3\] has 6 entries but data has 3/);
  assert.throws(() => encodeNpy({ shape: [-1], data: [] }), /invalid dimension -1/);
});
