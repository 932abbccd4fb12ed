/**
 * The ONNX writer: a model to its file, inline or with external data beside it (`<basename(out)>.data`), through
 * the one staged atomic writer (io/atomic.ts). Spec sources: onnx/onnx.proto (TensorProto external_data keys
 * location / offset / length), onnx/docs/ExternalData.md.
 */
import { existsSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { onnx } from 'onnx-proto';
import { writeStaged, type StagedFile } from '../../io/atomic';
import { checkOutputFile, makeFolder, WouldOverwriteError } from '../../io/paths';

/** Options of `writeModelFile`. */
export interface WriteModelOptions {
  /** Store these initializers (by name) as external data in `<out>.data` beside the model. */
  externalize?: Set<string>;
  /** Replace existing files (default false). */
  force?: boolean;
}

/**
 * Writes a model atomically: every file goes to a temporary name first and is renamed into place once all are
 * written (so a failure leaves no partial model). With `externalize`, those initializers' bytes go to
 * `<basename(out)>.data` in the same folder, referenced by relative location with offsets aligned to 64 bytes.
 * @returns the paths written.
 * @throws WouldOverwriteError when a target exists and !force (nothing is written); Error on I/O failure
 *   (temporaries removed).
 */
export function writeModelFile(proto: onnx.ModelProto, out: string, opts: WriteModelOptions = {}): string[] {
  const dataName = `${basename(out)}.data`;
  const dataPath = join(dirname(out), dataName);
  const ext = opts.externalize && opts.externalize.size > 0;
  for (const p of ext ? [out, dataPath] : [out]) {
    if (!opts.force && existsSync(p)) throw new WouldOverwriteError(p);
    checkOutputFile(p, true);
  }
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(proto).finish());
  makeFolder(dirname(out));
  const files: StagedFile[] = [];
  if (ext) {
    files.push({
      path: dataPath,
      data: (fd) => {
        let offset = 0;
        for (const t of copy.graph?.initializer ?? []) {
          if (!opts.externalize!.has(t.name ?? '')) continue;
          if (t.dataLocation === 1) throw new Error(`initializer '${t.name}' still refers to external data; inline it first`);
          if (!t.rawData || t.rawData.length === 0) continue; // typed-field tensors stay inline
          const bytes = t.rawData;
          const pad = (64 - (offset % 64)) % 64;
          if (pad) writeSync(fd, new Uint8Array(pad));
          offset += pad;
          writeSync(fd, bytes);
          t.externalData = [
            { key: 'location', value: dataName },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(bytes.length) },
          ];
          t.dataLocation = 1;
          t.rawData = new Uint8Array(0);
          offset += bytes.length;
        }
      },
    });
  }
  // The model is encoded after the data file's function has pointed its initializers at that file.
  files.push({ path: out, data: (fd) => void writeSync(fd, onnx.ModelProto.encode(copy).finish()) });
  return writeStaged(files);
}
