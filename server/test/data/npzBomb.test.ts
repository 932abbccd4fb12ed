/**
 * Bounded inflation of `.npz` members (src/data/zip.ts `memberChunks`, src/data/npz.ts): a member whose `.npy`
 * header declares a tiny shape but whose deflate stream inflates to 2 GiB of zeros is refused after its first
 * inflated chunk, with one line naming the member, and the process's peak resident memory (VmHWM, measured in a
 * child process) stays within a few tens of megabytes; a member whose inflated size disagrees with its header (more
 * or fewer bytes) or with the ZIP directory is refused; large deflated arrays still decode exactly, whatever the
 * chunk boundaries (Fortran order included).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { decodeNpz, encodeNpz } from '../../src/data/npz';
import { encodeNpy, NpyValueSink, readNpyHeader } from '../../src/data/npy';
import { crc32 } from '../../src/data/zip';
import { Random } from '../../src/util/random';

const ROOT = join(__dirname, '..', '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'npz-bomb-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A raw deflate stream of `bytes` that does not end the stream (sync flush: byte-aligned, BFINAL = 0). */
function deflatePart(bytes: Uint8Array): Buffer {
  return deflateRawSync(bytes, { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
}

/** The final empty fixed-Huffman block that ends a deflate stream. */
const END = Buffer.from([0x03, 0x00]);

/**
 * A deflate stream of `head` followed by `mib` MiB of zeros, built without ever holding the zeros: one
 * sync-flushed MiB of zeros is a self-contained run of blocks (a literal 0, then length-258 copies at distance 1),
 * so repeating its compressed bytes repeats the MiB.
 */
function zeroBomb(head: Uint8Array, mib: number): Buffer {
  const block = deflatePart(new Uint8Array(1 << 20));
  return Buffer.concat([deflatePart(head), ...new Array<Buffer>(mib).fill(block), END]);
}

/** A one-member ZIP archive holding `deflated` as member `name`, declaring `usize` uncompressed bytes and `crc`. */
function zipOf(name: string, deflated: Uint8Array, usize: number, crc: number): Uint8Array {
  const n = Buffer.from(name, 'latin1');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(usize, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc >>> 0, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(usize, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length + n.length + deflated.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + n.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, deflated, central, n, eocd]);
}

const TINY = encodeNpy({ shape: [2], data: [1, 2] }); // 128-byte header + 16 data bytes
const GIB2 = 2048;

test('the bomb stream really is the header followed by zeros (checked on a 4 MiB sample)', () => {
  const sample = inflateRawSync(zeroBomb(TINY, 4));
  assert.equal(sample.length, TINY.length + 4 * 2 ** 20);
  assert.deepEqual(new Uint8Array(sample.subarray(0, TINY.length)), TINY);
  assert.ok(sample.subarray(TINY.length).every((b) => b === 0));
  const full = zeroBomb(TINY, GIB2);
  assert.ok(full.length < 3 * 2 ** 20, `2 GiB of zeros deflate to ${full.length} bytes`);
});

/**
 * Runs `decodeNpz` on `file` in a child process.
 * @returns the error line (or 'ok'), and the growth of peak RSS (VmHWM) over the decode, in MB.
 */
function decodeInChild(file: string): { line: string; hwmGrowthMB: number; stderr: string } {
  const script = join(tmp, 'decode-child.ts');
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
import { decodeNpz } from ${JSON.stringify(join(ROOT, 'server', 'src', 'data', 'npz.ts'))};
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const bytes = readFileSync(process.argv[2]);
const before = hwm();
let line = 'ok';
try { decodeNpz(bytes, process.argv[2]); } catch (e) { line = (e as Error).message; }
process.stdout.write(JSON.stringify({ line, hwmGrowthMB: hwm() - before }));
`,
  );
  const loader = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const r = spawnSync(process.execPath, ['--import', loader, script, file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

test('a member with a 2-entry header that inflates to 2 GiB, its ZIP size matching the header: refused after one chunk, small peak RSS', () => {
  const deflated = zeroBomb(TINY, GIB2);
  const file = join(tmp, 'bomb-consistent.npz');
  writeFileSync(file, zipOf('X.npy', deflated, TINY.length, crc32(TINY)));
  const r = decodeInChild(file);
  assert.equal(
    r.line,
    `${file}: member X.npy: inflates to more than the ${TINY.length} bytes declared for it (corrupt archive or a zip bomb); nothing beyond them was read`,
  );
  assert.ok(r.hwmGrowthMB < 64, `peak RSS grew by ${r.hwmGrowthMB.toFixed(1)} MB`);
});

test('the same member with the ZIP directory declaring 2 GiB: the header disagrees, refused before inflating more', () => {
  const deflated = zeroBomb(TINY, GIB2);
  const usize = 2 ** 31 - 1;
  assert.ok(usize <= deflated.length * 1032 + 1024, 'the declared size passes the deflate-ratio check');
  const file = join(tmp, 'bomb-declared.npz');
  writeFileSync(file, zipOf('X.npy', deflated, usize, 0));
  const r = decodeInChild(file);
  assert.equal(
    r.line,
    `${file}: member X.npy: shape [2] of dtype <f8 needs 16 data bytes, but ${usize - 128} are declared by the ZIP directory (trailing bytes)`,
  );
  assert.ok(r.hwmGrowthMB < 64, `peak RSS grew by ${r.hwmGrowthMB.toFixed(1)} MB`);
});

test('a member that inflates to fewer bytes than its header and the ZIP directory declare is refused', () => {
  const big = encodeNpy({ shape: [1000], data: new Float64Array(1000) });
  const short = big.subarray(0, 128 + 800);
  const z = zipOf('X.npy', Buffer.concat([deflatePart(short), END]), big.length, crc32(big));
  assert.throws(() => decodeNpz(z, 'short.npz'), /^Error: short\.npz: member X\.npy: inflated to 928 bytes, but the ZIP directory declares 8128$/);
  // …and more bytes than declared, when both the header and the directory declare the smaller size.
  const long = Buffer.concat([big, new Uint8Array(100)]);
  const z2 = zipOf('X.npy', Buffer.concat([deflatePart(long), END]), big.length, crc32(big));
  assert.throws(() => decodeNpz(z2, 'long.npz'), /long\.npz: member X\.npy: inflates to more than the 8128 bytes declared for it/);
});

test('large deflated members decode exactly across chunk boundaries (float64/float32, C and Fortran order)', () => {
  const rng = new Random(5);
  const shape = [300, 70];
  const data = Float64Array.from({ length: 300 * 70 }, () => rng.normal());
  for (const dtype of ['<f8', '<f4'] as const) {
    for (const fortranOrder of [false, true]) {
      const z = encodeNpz({ A: { shape, data } }, { compress: true, dtype, fortranOrder });
      const a = decodeNpz(z, 'big.npz').get('A')!;
      assert.deepEqual(a.shape, shape);
      const want = dtype === '<f4' ? Float64Array.from(Float32Array.from(data)) : data;
      assert.deepEqual(a.data, want, `${dtype} fortran=${fortranOrder}`);
    }
  }
});

test('a header whose float64 form cannot fit in memory is refused before anything is allocated', () => {
  const dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (1125899906842624,), }";
  const padded = dict + ' '.repeat(117 - dict.length) + '\n';
  const bytes = new Uint8Array(10 + padded.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, padded.length, 0]);
  for (let i = 0; i < padded.length; i++) bytes[10 + i] = padded.charCodeAt(i);
  const h = readNpyHeader(bytes, 'huge.npy')!;
  assert.equal(h.dataBytes, 2 ** 50);
  assert.throws(
    () => new NpyValueSink(h, 'huge.npy'),
    /^Error: huge\.npy: shape \[1125899906842624\] needs 8388608\.0 GB as float64, more than half of the [\d.]+ GB of memory available$/,
  );
});
