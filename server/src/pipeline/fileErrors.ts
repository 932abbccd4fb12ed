/**
 * Errors about the files a config names, placed at the config entry that names them.
 *
 * The data, model and parameter readers refuse a bad file with `<path>: <reason>` (a text file called .npz, a
 * truncated .onnx, an array of the wrong shape). Those readers know nothing of configs, so on their own the CLI
 * prints `attention-paths: <path>: …` and the editor marks line 1; re-thrown here as a `ConfigValueError` with the
 * entry's JSON pointer, the CLI prints `config.yaml:3:7: <path>: …` and the editor underlines the entry (both
 * place a `ConfigValueError` by its pointer).
 */
import type { AnalysisConfig } from '../config/types';
import { ConfigError, ConfigValueError } from '../config/types';
import { isExpectedRefusal } from '../util/errors';

/** The config entries that name files, with their JSON pointers. */
function namedFiles(config: AnalysisConfig): [pointer: string, path: string][] {
  const out: [string, string][] = [];
  if (typeof config.data === 'string') out.push(['/data', config.data]);
  if (typeof config.attention?.model === 'string') out.push(['/attention/model', config.attention.model]);
  if (typeof config.attention?.params === 'string') out.push(['/attention/params', config.attention.params]);
  return out;
}

/**
 * `e` as a `ConfigValueError` at the entry naming the file it is about, when it is a refusal whose message
 * starts with one of the config's file paths (`<path>:` or `<path> `, as every reader writes it, or `<path>/` for a
 * member of a data folder); else `e` itself
 * (bugs, aborts and errors already placed are never re-labelled). The message is kept word for word; the original
 * error is the `cause`.
 */
export function placeFileError(config: AnalysisConfig, e: unknown): unknown {
  if (!(e instanceof Error) || e instanceof ConfigValueError || e instanceof ConfigError || e.name === 'AbortError' || !isExpectedRefusal(e)) return e;
  for (const [pointer, path] of namedFiles(config)) {
    const folder = path.endsWith('/') ? path : `${path}/`; // a data folder's member files
    if (e.message.startsWith(`${path}:`) || e.message.startsWith(`${path} `) || e.message.startsWith(folder)) {
      const placed = new ConfigValueError(pointer, e.message);
      placed.cause = e;
      return placed;
    }
  }
  return e;
}

/** Runs `work`, re-throwing its file errors through `placeFileError`. */
export async function placingFileErrors<T>(config: AnalysisConfig, work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw placeFileError(config, e);
  }
}
