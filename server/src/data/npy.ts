/**
 * NumPy `.npy` reading and writing (format versions 1, 2 and 3).
 *
 * Every array comes back as a row-major `Float64Array` with an explicit shape (the project's layout,
 * see `../linalg/matrix.ts`), whatever the stored dtype or order. Inputs are treated as hostile: every
 * size in the header is checked against the bytes actually present before anything is allocated, the
 * header parser is bounded in length and nesting, and pickled object arrays are refused outright.
 *
 * Format reference: numpy/lib/format.py (magic `\x93NUMPY`, version bytes, little-endian header length
 * of 2 bytes in v1 and 4 bytes in v2/v3, then a Python dict literal with `descr`, `fortran_order`, `shape`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { endianness, totalmem } from 'node:os';
import { halfToNumber } from '../util/float16';

/** Memory this process may use: the machine's, or the cgroup's limit when that is smaller. */
function usableMemoryBytes(): number {
  const total = totalmem();
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return limit && limit > 0 && limit < total ? limit : total;
}

/** An n-dimensional array: row-major `data` (last index fastest), `shape`, and the dtype it was stored as. */
export interface NpyArray {
  /** Dimensions, slowest first; `[]` for a scalar (one entry). */
  shape: number[];
  /** Row-major values, length = product of `shape`. */
  data: Float64Array;
  /** The stored NumPy dtype string, e.g. `<f8`, `|u1` (`<f8` for arrays made in memory). */
  dtype: string;
}

/** Dtypes `encodeNpy` can write. */
/** Element types `encodeNpy` writes: float64, float32, and int64 (integer values only, e.g. token ids and masks). */
export type NpyWriteDtype = '<f8' | '<f4' | '<i8';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Longest header accepted. NumPy's own reader stops at 10 000 bytes by default; 64 KiB leaves room for odd writers. */
const MAX_HEADER_BYTES = 65536;
/** Deepest bracket nesting accepted in the header (a real header nests 2 deep). */
const MAX_HEADER_DEPTH = 16;
/** NumPy aligns the data start to 64 bytes. */
const ALIGN = 64;

/** True when `bytes` starts with the `.npy` magic string. */
export function isNpy(bytes: Uint8Array): boolean {
  if (bytes.length < MAGIC.length) return false;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/** What a `.npy` header declares, with the sizes it implies. */
export interface NpyHeader {
  /** Stored dtype string, e.g. `<f8`. */
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  /** Number of entries (product of `shape`). */
  count: number;
  /** Byte offset of the data (magic, version, header length and header dict included). */
  dataStart: number;
  /** Bytes of data the shape and dtype need. */
  dataBytes: number;
  /** `dataStart + dataBytes`: the size of the whole file. */
  totalBytes: number;
  /** Parsed dtype (internal). */
  dtype: Dtype;
}

/**
 * Reads the `.npy` header from the first bytes of a file (or of a member being inflated).
 *
 * @param prefix the first bytes (may be the whole file).
 * @param name   the file or archive member name, used in every error message.
 * @returns the header, or null when `prefix` ends before the header does (feed more bytes; a header is at most
 *   12 + 65 536 bytes).
 * @throws Error naming `name`: bad magic, unsupported version, header too long or malformed, object/structured/
 *   unsupported dtype, negative or non-integer dimension, or a shape too large to address.
 */
export function readNpyHeader(prefix: Uint8Array, name: string): NpyHeader | null {
  const n = Math.min(prefix.length, MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (prefix[i] !== MAGIC[i]) throw new Error(`${name}: not a .npy file (the magic string \\x93NUMPY is missing)`);
  }
  if (prefix.length < 10) return null;
  const major = prefix[6];
  const minor = prefix[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new Error(`${name}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else {
    if (prefix.length < 12) return null;
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLen > MAX_HEADER_BYTES) {
    throw new Error(`${name}: .npy header too long (${headerLen} bytes; at most ${MAX_HEADER_BYTES} accepted)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > prefix.length) return null;
  const headerBytes = prefix.subarray(headerStart, dataStart);
  // v1/v2 headers are latin-1; v3 allows UTF-8 (field names only, which we refuse anyway).
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(headerBytes);
  const header = parseHeader(headerText, name);
  const dtype = parseDtype(header.descr, name);
  const shape = header.shape;
  let count = 1;
  for (let k = 0; k < shape.length; k++) {
    const d = shape[k];
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${name}: invalid dimension ${d} in shape (${shape.join(', ')})`);
    count *= d;
    if (count * dtype.size > Number.MAX_SAFE_INTEGER) {
      throw new Error(`${name}: shape (${shape.join(', ')}) is absurdly large`);
    }
  }
  const dataBytes = count * dtype.size;
  return {
    descr: header.descr,
    fortranOrder: header.fortranOrder,
    shape: shape.slice(),
    count,
    dataStart,
    dataBytes,
    totalBytes: dataStart + dataBytes,
    dtype,
  };
}

/** `shape [..] of dtype .. needs N data bytes, but M are present (truncated file | trailing bytes)`. */
export function npySizeMismatch(h: NpyHeader, present: number, where = 'are present'): string {
  return (
    `shape [${h.shape.join(', ')}] of dtype ${h.descr} needs ${h.dataBytes} data bytes, ` +
    `but ${present} ${where} (${present < h.dataBytes ? 'truncated file' : 'trailing bytes'})`
  );
}

/**
 * Converts a `.npy` file's data bytes, arriving in chunks of any size, into the row-major `Float64Array` of its
 * header — the only allocation (Fortran-order data are placed at their row-major positions as they arrive), so a
 * reader holds the result plus one chunk.
 */
export class NpyValueSink {
  private readonly out: Float64Array;
  private readonly carry: Uint8Array;
  private carried = 0;
  private bytes = 0;
  private entry = 0;
  /** Row-major position of the next entry, and the column-major index walker (Fortran order, rank > 1). */
  private cpos = 0;
  private readonly idx: number[] | null;
  private readonly strides: number[];

  /**
   * @param h    the header (`readNpyHeader`).
   * @param name the file or member name for errors.
   * @throws Error (before allocating) when `h.count` doubles would take more than half of the memory available.
   */
  constructor(
    private readonly h: NpyHeader,
    private readonly name: string,
  ) {
    // Checked before allocating: a small file may declare a shape whose float64 form does not fit (8× a u1 array).
    const need = h.count * 8;
    const room = usableMemoryBytes();
    if (need > room / 2) {
      const gb = (b: number) => (b / 2 ** 30).toFixed(1);
      throw new Error(`${name}: shape [${h.shape.join(', ')}] needs ${gb(need)} GB as float64, more than half of the ${gb(room)} GB of memory available`);
    }
    this.out = new Float64Array(h.count);
    this.carry = new Uint8Array(h.dtype.size);
    const fortran = h.fortranOrder && h.shape.length > 1 && h.count > 0;
    this.idx = fortran ? new Array<number>(h.shape.length).fill(0) : null;
    this.strides = rowMajorStrides(h.shape);
  }

  /** Data bytes received so far. */
  get received(): number {
    return this.bytes;
  }

  /**
   * Takes the next data bytes.
   * @throws Error when they go past the bytes the header declares.
   */
  write(chunk: Uint8Array): void {
    if (this.bytes + chunk.length > this.h.dataBytes) {
      throw new Error(`${this.name}: ${npySizeMismatch(this.h, this.bytes + chunk.length, 'or more follow')}`);
    }
    this.bytes += chunk.length;
    const size = this.h.dtype.size;
    let i = 0;
    if (this.carried) {
      const take = Math.min(size - this.carried, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carried);
      this.carried += take;
      i = take;
      if (this.carried < size) return;
      this.decode(this.carry, 0, 1);
      this.carried = 0;
    }
    const whole = Math.floor((chunk.length - i) / size);
    if (whole) this.decode(chunk, i, whole);
    i += whole * size;
    if (i < chunk.length) {
      this.carry.set(chunk.subarray(i));
      this.carried = chunk.length - i;
    }
  }

  /**
   * @returns the array, once every declared byte has arrived.
   * @throws Error when fewer bytes arrived than the header declares (truncated data).
   */
  finish(): NpyArray {
    if (this.bytes !== this.h.dataBytes) throw new Error(`${this.name}: ${npySizeMismatch(this.h, this.bytes)}`);
    return { shape: this.h.shape.slice(), data: this.out, dtype: this.h.descr };
  }

  /** Decodes `n` whole entries of `src` starting at byte `start` into their places. */
  private decode(src: Uint8Array, start: number, n: number): void {
    if (!this.idx) {
      decodeValues(src, start, n, this.h.dtype, this.out, this.entry);
      this.entry += n;
      return;
    }
    // Fortran order: entry k (column-major) goes to the row-major position the walker tracks.
    const tmp = new Float64Array(n);
    decodeValues(src, start, n, this.h.dtype, tmp, 0);
    const shape = this.h.shape;
    const idx = this.idx;
    const strides = this.strides;
    for (let j = 0; j < n; j++) {
      this.out[this.cpos] = tmp[j];
      for (let k = 0; k < shape.length; k++) {
        idx[k]++;
        this.cpos += strides[k];
        if (idx[k] < shape[k]) break;
        this.cpos -= strides[k] * shape[k];
        idx[k] = 0;
      }
    }
    this.entry += n;
  }
}

/**
 * Decodes the bytes of one `.npy` file.
 *
 * Accepts format versions 1.0, 2.0, 3.0; dtypes f2/f4/f8, i1/i2/i4/i8, u1/u2/u4/u8 (either byte order) and
 * `|b1` (→ 0/1); C or Fortran order (Fortran data are transposed to row-major). 64-bit integers beyond
 * 2^53 lose precision when converted to double.
 *
 * @param bytes the whole file.
 * @param name  the file or archive member name, used in every error message.
 * @returns `{ shape, data, dtype }` with `data` row-major.
 * @throws Error naming `name` and the reason: bad magic, unsupported version, truncated file, header too
 *   long or malformed, object/structured/unsupported dtype, negative or non-integer dimension, or a shape
 *   whose byte size differs from the bytes present (checked before anything is allocated).
 */
export function decodeNpy(bytes: Uint8Array, name: string): NpyArray {
  if (!isNpy(bytes)) {
    throw new Error(`${name}: not a .npy file (the magic string \\x93NUMPY is missing)`);
  }
  const h = readNpyHeader(bytes, name);
  if (!h) {
    if (bytes.length < 12) throw new Error(`${name}: truncated .npy file (${bytes.length} bytes, no header length)`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLen = bytes[6] === 1 ? v.getUint16(8, true) : v.getUint32(8, true);
    const headerStart = bytes[6] === 1 ? 10 : 12;
    throw new Error(`${name}: truncated .npy file (header claims ${headerLen} bytes, only ${bytes.length - headerStart} present)`);
  }
  const present = bytes.length - h.dataStart;
  if (present !== h.dataBytes) throw new Error(`${name}: ${npySizeMismatch(h, present)}`);
  const sink = new NpyValueSink(h, name);
  sink.write(bytes.subarray(h.dataStart));
  return sink.finish();
}

/**
 * Reads a `.npy` file (see `decodeNpy` for the accepted formats).
 * @throws Error naming `path` when the file cannot be read or is not a valid `.npy` file.
 */
export function readNpy(path: string): NpyArray {
  return decodeNpy(readFileBytes(path), path);
}

/**
 * Encodes an array as `.npy` bytes (format 1.0, or 2.0 when the header would exceed 65 535 bytes).
 *
 * @param arr  `{ shape, data }` with `data` row-major and `data.length` = product of `shape`.
 * @param opts `dtype` (default `<f8`; `<f4` rounds to single precision; `<i8` needs integer values) and `fortranOrder` (default false;
 *   when true the bytes are written column-major and the header says `fortran_order: True`, which is
 *   what NumPy writes for a Fortran-contiguous array).
 * @throws Error when the shape does not match the data length or contains a negative/non-integer dimension.
 */
export function encodeNpy(
  arr: { shape: readonly number[]; data: ArrayLike<number> },
  opts: { dtype?: NpyWriteDtype; fortranOrder?: boolean } = {},
): Uint8Array {
  const dtypeStr = opts.dtype ?? '<f8';
  const fortran = opts.fortranOrder ?? false;
  const shape = arr.shape.slice();
  let count = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: invalid dimension ${d} in shape [${shape.join(', ')}]`);
    count *= d;
  }
  if (count !== arr.data.length) {
    throw new Error(`encodeNpy: shape [${shape.join(', ')}] has ${count} entries but data has ${arr.data.length}`);
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${dtypeStr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  // Pad with spaces and end in '\n' so the data start is 64-byte aligned, exactly as NumPy does;
  // fall back to version 2.0 (4-byte header length) only when the header outgrows 65 535 bytes.
  const padded = (pre: number) => dict + ' '.repeat((ALIGN - ((pre + dict.length + 1) % ALIGN)) % ALIGN) + '\n';
  let preamble = 10;
  let header = padded(10);
  if (header.length > 65535) {
    preamble = 12;
    header = padded(12);
  }
  dict = header;
  const headerLen = dict.length;
  const size = dtypeStr === '<f4' ? 4 : 8;
  const out = new Uint8Array(preamble + headerLen + count * size);
  out.set(MAGIC, 0);
  out[6] = preamble === 10 ? 1 : 2;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (preamble === 10) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < headerLen; i++) out[preamble + i] = dict.charCodeAt(i);
  const values = fortran && shape.length > 1 ? rowMajorToFortran(arr.data, shape) : arr.data;
  let off = preamble + headerLen;
  if (dtypeStr === '<i8') {
    for (let i = 0; i < count; i++, off += 8) {
      if (!Number.isSafeInteger(values[i])) throw new Error(`encodeNpy: value ${values[i]} at index ${i} is not an integer (dtype <i8)`);
      view.setBigInt64(off, BigInt(values[i]), true);
    }
  } else if (size === 8) for (let i = 0; i < count; i++, off += 8) view.setFloat64(off, values[i], true);
  else for (let i = 0; i < count; i++, off += 4) view.setFloat32(off, values[i], true);
  return out;
}

/**
 * Writes a `.npy` file (see `encodeNpy`; default float64, C order).
 * @throws Error when the array is inconsistent or the file cannot be written.
 */
export function writeNpy(
  path: string,
  arr: { shape: readonly number[]; data: ArrayLike<number> },
  opts: { dtype?: NpyWriteDtype; fortranOrder?: boolean } = {},
): void {
  writeFileSync(path, encodeNpy(arr, opts));
}

/** Reads a whole file, turning the OS error into one that names the file. */
export function readFileBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new Error(`${path}: cannot read file (${why})`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------------
// Header parsing: a bounded recursive-descent parser for the Python literal NumPy writes.

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

type PyValue = string | number | boolean | null | PyValue[] | { [k: string]: PyValue };

function parseHeader(text: string, name: string): Header {
  const p = new PyLiteralParser(text, name);
  const v = p.parseTop();
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new Error(`${name}: .npy header is not a dict: ${abbreviate(text)}`);
  }
  const keys = Object.keys(v);
  for (const k of ['descr', 'fortran_order', 'shape']) {
    if (!keys.includes(k)) throw new Error(`${name}: .npy header lacks the key '${k}': ${abbreviate(text)}`);
  }
  for (const k of keys) {
    if (k !== 'descr' && k !== 'fortran_order' && k !== 'shape') {
      throw new Error(`${name}: .npy header has the unexpected key '${k}'`);
    }
  }
  const descr = v.descr;
  if (typeof descr !== 'string') {
    throw new Error(`${name}: structured (record) dtypes are not supported; descr = ${abbreviate(JSON.stringify(descr))}`);
  }
  if (typeof v.fortran_order !== 'boolean') throw new Error(`${name}: .npy header 'fortran_order' is not True/False`);
  const shape = v.shape;
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number')) {
    throw new Error(`${name}: .npy header 'shape' is not a tuple of integers: ${abbreviate(text)}`);
  }
  return { descr, fortranOrder: v.fortran_order, shape: shape as number[] };
}

class PyLiteralParser {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly name: string,
  ) {}

  parseTop(): PyValue {
    const v = this.value(0);
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after the header dict');
    return v;
  }

  private fail(msg: string): never {
    throw new Error(`${this.name}: malformed .npy header (${msg} at offset ${this.i}): ${abbreviate(this.s)}`);
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_HEADER_DEPTH) this.fail('nesting too deep');
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.dict(depth);
    if (c === '(' || c === '[') return this.seq(depth, c === '(' ? ')' : ']');
    if (c === "'" || c === '"') return this.str();
    if (c !== undefined && /[-+0-9]/.test(c)) return this.int();
    for (const [word, val] of [
      ['True', true],
      ['False', false],
      ['None', null],
    ] as const) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return val;
      }
    }
    return this.fail(c === undefined ? 'unexpected end' : `unexpected character '${c}'`);
  }

  private dict(depth: number): { [k: string]: PyValue } {
    this.i++; // '{'
    const out: { [k: string]: PyValue } = Object.create(null);
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const k = this.value(depth + 1);
      if (typeof k !== 'string') this.fail('dict key is not a string');
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      if (Object.prototype.hasOwnProperty.call(out, k)) this.fail(`duplicate key '${k}'`);
      out[k] = this.value(depth + 1);
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') this.fail("expected ',' or '}'");
    }
  }

  private seq(depth: number, close: string): PyValue[] {
    this.i++;
    const out: PyValue[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value(depth + 1));
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  private str(): string {
    const q = this.s[this.i++];
    const start = this.i;
    while (this.i < this.s.length && this.s[this.i] !== q) {
      if (this.s[this.i] === '\\') this.fail('escapes in strings are not supported');
      this.i++;
    }
    if (this.i >= this.s.length) this.fail('unterminated string');
    return this.s.slice(start, this.i++);
  }

  private int(): number {
    const m = /^[-+]?[0-9]+L?/.exec(this.s.slice(this.i, this.i + 40)); // 'L': Python 2 long suffix
    if (!m) this.fail('bad number');
    const digits = m[0].replace(/L$/, '');
    if (digits.replace(/^[-+]/, '').length > 16) this.fail(`dimension ${digits} is absurdly large`);
    this.i += m[0].length;
    if (this.s[this.i] === '.' || this.s[this.i] === 'e' || this.s[this.i] === 'E') this.fail('non-integer number');
    return Number(digits);
  }
}

function abbreviate(s: string): string {
  const t = s.trim();
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

// ---------------------------------------------------------------------------------------------------
// Dtypes and value decoding.

export interface Dtype {
  kind: 'f' | 'i' | 'u' | 'b';
  size: number;
  little: boolean;
}

function parseDtype(descr: string, name: string): Dtype {
  if (/^[<>|=]?O/.test(descr)) {
    throw new Error(`${name}: object arrays (dtype '${descr}', pickled Python objects) are refused; save numeric arrays instead`);
  }
  const m = /^([<>|=]?)([fiub])(\d+)$/.exec(descr);
  const supported = ['f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', 'u2', 'u4', 'u8', 'b1'];
  if (!m || !supported.includes(m[2] + m[3])) {
    throw new Error(`${name}: unsupported dtype '${descr}' (supported: float16/32/64, int8-64, uint8-64, bool)`);
  }
  const size = Number(m[3]);
  const order = m[1];
  if (order === '|' && size > 1) throw new Error(`${name}: dtype '${descr}' has no byte order but ${size}-byte items`);
  // '=' means native order of the writer, which NumPy never writes to disk; read it as little-endian.
  return { kind: m[2] as Dtype['kind'], size, little: order !== '>' };
}

/** Decodes `count` entries of `dt` from `bytes` at byte `start` into `out` from entry `at` on. */
function decodeValues(bytes: Uint8Array, start: number, count: number, dt: Dtype, out: Float64Array, at: number): void {
  if (dt.kind === 'f' && dt.size === 8 && dt.little && endianness() === 'LE') {
    // Fast path: a byte copy into the (aligned) output.
    new Uint8Array(out.buffer, out.byteOffset + at * 8, count * 8).set(bytes.subarray(start, start + count * 8));
    return;
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + start, count * dt.size);
  const le = dt.little;
  const n = dt.size;
  switch (dt.kind + n) {
    case 'f8':
      for (let i = 0; i < count; i++) out[at + i] = v.getFloat64(i * 8, le);
      break;
    case 'f4':
      for (let i = 0; i < count; i++) out[at + i] = v.getFloat32(i * 4, le);
      break;
    case 'f2':
      for (let i = 0; i < count; i++) out[at + i] = halfToNumber(v.getUint16(i * 2, le));
      break;
    case 'i1':
      for (let i = 0; i < count; i++) out[at + i] = v.getInt8(i);
      break;
    case 'i2':
      for (let i = 0; i < count; i++) out[at + i] = v.getInt16(i * 2, le);
      break;
    case 'i4':
      for (let i = 0; i < count; i++) out[at + i] = v.getInt32(i * 4, le);
      break;
    case 'i8':
      for (let i = 0; i < count; i++) out[at + i] = Number(v.getBigInt64(i * 8, le));
      break;
    case 'u1':
      for (let i = 0; i < count; i++) out[at + i] = v.getUint8(i);
      break;
    case 'u2':
      for (let i = 0; i < count; i++) out[at + i] = v.getUint16(i * 2, le);
      break;
    case 'u4':
      for (let i = 0; i < count; i++) out[at + i] = v.getUint32(i * 4, le);
      break;
    case 'u8':
      for (let i = 0; i < count; i++) out[at + i] = Number(v.getBigUint64(i * 8, le));
      break;
    case 'b1':
      for (let i = 0; i < count; i++) out[at + i] = v.getUint8(i) !== 0 ? 1 : 0;
      break;
  }
}

/** Row-major strides (in entries) of `shape`. */
function rowMajorStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    s[k] = acc;
    acc *= shape[k];
  }
  return s;
}

/** Walks the column-major (first index fastest) order and calls `f(colMajorPos, rowMajorPos)`. */
function walkFortran(shape: readonly number[], f: (fpos: number, cpos: number) => void): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const strides = rowMajorStrides(shape);
  const idx = new Array<number>(shape.length).fill(0);
  let cpos = 0;
  for (let fpos = 0; fpos < n; fpos++) {
    f(fpos, cpos);
    for (let k = 0; k < shape.length; k++) {
      idx[k]++;
      cpos += strides[k];
      if (idx[k] < shape[k]) break;
      cpos -= strides[k] * shape[k];
      idx[k] = 0;
    }
  }
}

function rowMajorToFortran(src: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const out = new Float64Array(src.length);
  walkFortran(shape, (fpos, cpos) => {
    out[fpos] = src[cpos];
  });
  return out;
}
