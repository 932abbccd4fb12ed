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
import { endianness } from 'node:os';

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
 *   whose byte size differs from the bytes present.
 */
export function decodeNpy(bytes: Uint8Array, name: string): NpyArray {
  if (!isNpy(bytes)) {
    throw new Error(`${name}: not a .npy file (the magic string \\x93NUMPY is missing)`);
  }
  if (bytes.length < 10) throw new Error(`${name}: truncated .npy file (${bytes.length} bytes, no header length)`);
  const major = bytes[6];
  const minor = bytes[7];
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new Error(`${name}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else {
    if (bytes.length < 12) throw new Error(`${name}: truncated .npy file (${bytes.length} bytes, no header length)`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  }
  if (headerLen > MAX_HEADER_BYTES) {
    throw new Error(`${name}: .npy header too long (${headerLen} bytes; at most ${MAX_HEADER_BYTES} accepted)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    throw new Error(`${name}: truncated .npy file (header claims ${headerLen} bytes, only ${bytes.length - headerStart} present)`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
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
  const needed = count * dtype.size;
  const present = bytes.length - dataStart;
  if (needed !== present) {
    throw new Error(
      `${name}: shape [${shape.join(', ')}] of dtype ${header.descr} needs ${needed} data bytes, ` +
        `but ${present} are present (${present < needed ? 'truncated file' : 'trailing bytes'})`,
    );
  }
  const raw = decodeValues(bytes, dataStart, count, dtype);
  const data = header.fortranOrder && shape.length > 1 ? fortranToRowMajor(raw, shape) : raw;
  return { shape: shape.slice(), data, dtype: header.descr };
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
    throw new Error(`${path}: cannot read file (${(e as Error).message})`);
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

interface Dtype {
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

function decodeValues(bytes: Uint8Array, start: number, count: number, dt: Dtype): Float64Array {
  if (dt.kind === 'f' && dt.size === 8 && dt.little && endianness() === 'LE') {
    // Fast path: byte copy into a fresh (hence aligned) buffer. (Not `bytes.slice`: on a Node Buffer that is a view.)
    const out = new Float64Array(count);
    new Uint8Array(out.buffer).set(bytes.subarray(start, start + count * 8));
    return out;
  }
  const out = new Float64Array(count);
  const v = new DataView(bytes.buffer, bytes.byteOffset + start, count * dt.size);
  const le = dt.little;
  const n = dt.size;
  switch (dt.kind + n) {
    case 'f8':
      for (let i = 0; i < count; i++) out[i] = v.getFloat64(i * 8, le);
      break;
    case 'f4':
      for (let i = 0; i < count; i++) out[i] = v.getFloat32(i * 4, le);
      break;
    case 'f2':
      for (let i = 0; i < count; i++) out[i] = halfToDouble(v.getUint16(i * 2, le));
      break;
    case 'i1':
      for (let i = 0; i < count; i++) out[i] = v.getInt8(i);
      break;
    case 'i2':
      for (let i = 0; i < count; i++) out[i] = v.getInt16(i * 2, le);
      break;
    case 'i4':
      for (let i = 0; i < count; i++) out[i] = v.getInt32(i * 4, le);
      break;
    case 'i8':
      for (let i = 0; i < count; i++) out[i] = Number(v.getBigInt64(i * 8, le));
      break;
    case 'u1':
      for (let i = 0; i < count; i++) out[i] = v.getUint8(i);
      break;
    case 'u2':
      for (let i = 0; i < count; i++) out[i] = v.getUint16(i * 2, le);
      break;
    case 'u4':
      for (let i = 0; i < count; i++) out[i] = v.getUint32(i * 4, le);
      break;
    case 'u8':
      for (let i = 0; i < count; i++) out[i] = Number(v.getBigUint64(i * 8, le));
      break;
    case 'b1':
      for (let i = 0; i < count; i++) out[i] = v.getUint8(i) !== 0 ? 1 : 0;
      break;
  }
  return out;
}

function halfToDouble(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
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

function fortranToRowMajor(src: Float64Array, shape: readonly number[]): Float64Array {
  const out = new Float64Array(src.length);
  walkFortran(shape, (fpos, cpos) => {
    out[cpos] = src[fpos];
  });
  return out;
}

function rowMajorToFortran(src: ArrayLike<number>, shape: readonly number[]): Float64Array {
  const out = new Float64Array(src.length);
  walkFortran(shape, (fpos, cpos) => {
    out[fpos] = src[cpos];
  });
  return out;
}
