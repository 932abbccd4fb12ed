/**
 * The one error type the ONNX reader throws, so callers (CLI, language server) can tell a bad model file
 * from a bug. The message always starts with the file name and says what is wrong in words.
 */

/**
 * - `not-onnx`: empty, truncated or random bytes, or a protobuf that is not a ModelProto;
 * - `unsupported`: an IR version or opset outside what this project reads;
 * - `invalid`: a well-formed protobuf whose model is broken (a cycle, a node reading a tensor nobody provides, tensor
 *   data that do not match the dims, attention heads outside the operator's domain; see `check.ts`);
 * - `external-data`: external weights missing, too short, or outside the model's folder;
 * - `io`: the file itself cannot be read.
 */
export type OnnxErrorKind = 'not-onnx' | 'unsupported' | 'invalid' | 'external-data' | 'io';

const PHRASE: Record<OnnxErrorKind, string> = {
  'not-onnx': 'not an ONNX model',
  unsupported: 'unsupported ONNX model',
  invalid: 'invalid model',
  'external-data': 'external data refused',
  io: 'cannot read',
};

/** `<file>: <phrase>: <reason>`, e.g. `m.onnx: not an ONNX model: the file is empty (0 bytes)`. */
export class OnnxReadError extends Error {
  readonly file: string;
  readonly kind: OnnxErrorKind;
  readonly reason: string;
  constructor(file: string, kind: OnnxErrorKind, reason: string) {
    super(`${file}: ${PHRASE[kind]}: ${reason}`);
    this.name = 'OnnxReadError';
    this.file = file;
    this.kind = kind;
    this.reason = reason;
  }
}
