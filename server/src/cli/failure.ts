/**
 * How every CLI command reports a failure on stderr: one line per problem, no stack, no engine message as the
 * reason (the rule of `util/errors.ts`). Config problems keep their `file:line:col:` place; everything else is
 * `<prefix>: <reason>`, or `<prefix>: internal error: … (please report)` for a bug, whose stack follows only
 * with `ATTENTION_PATHS_DEBUG=1`.
 */
import { locateConfigValue } from '../config/load';
import { ConfigError, ConfigValueError } from '../config/types';
import { debugEnabled, debugStack, userMessage } from '../util/errors';

/** One line of text: newlines and runs of whitespace collapsed. */
function line(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * The stderr lines for a failure.
 * @param prefix e.g. `attention-paths` or `attention-paths prune`.
 * @param configSource the config file of the run as the user named it (as its schema errors name it), for placing a
 *   `ConfigValueError` at its key.
 * @returns lines without trailing newlines (one per problem; the stack as further lines only in debug mode).
 */
export function failureLines(e: unknown, prefix: string, configSource?: string): string[] {
  const out: string[] = [];
  if (e instanceof ConfigError && e.issues.length) {
    for (const i of e.issues) out.push(`${i.file}:${i.line}:${i.column}: ${line(i.message)}`);
  } else if (e instanceof ConfigValueError && configSource) {
    const at = locateConfigValue(configSource, e.pointer);
    out.push(at ? `${configSource}:${at.line}:${at.column}: ${line(e.message)}` : `${prefix}: ${userMessage(e)}`);
  } else {
    out.push(`${prefix}: ${userMessage(e)}`);
  }
  if (debugEnabled()) {
    const stack = debugStack(e);
    if (stack) out.push(stack);
  }
  return out;
}

/** Writes `failureLines` to `write` (each with a newline). */
export function printFailure(e: unknown, prefix: string, write: (text: string) => void, configSource?: string): void {
  for (const l of failureLines(e, prefix, configSource)) write(`${l}\n`);
}

/**
 * Silences Node's runtime warnings (ExperimentalWarning, DeprecationWarning from dependencies, …) on stderr,
 * which carries only progress and reasons; with `ATTENTION_PATHS_DEBUG=1` they are still printed.
 */
export function quietRuntimeWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (debugEnabled()) process.stderr.write(`${w.name}: ${w.message}\n`);
  });
}
