/**
 * The one rule for what a user sees when something fails, shared by the CLI and the language server.
 *
 * A *refusal* is an expected failure caused by the input (a broken model, a config error, a truncated data file, a
 * block that cannot be pruned): the project throws it as an `Error` (or a subclass such as `OnnxReadError`,
 * `ConfigError`) whose message says what is wrong in words, and it is shown as that message, on one line.
 * Anything else is a bug: a JavaScript engine error (TypeError "Cannot read properties of undefined", RangeError
 * "Invalid array length", SyntaxError "Unexpected token", stack overflows), a Node internal error (`ERR_*`), or a
 * thrown value that is not an Error at all. It is shown as `internal error: <message> (please report)`; its stack
 * goes only to debug output (`ATTENTION_PATHS_DEBUG=1` on the CLI, the trace level of the editor's Output channel).
 */

/** Error classes the JavaScript engine throws; a project refusal is never one of them. */
const ENGINE_ERRORS = new Set(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError', 'InternalError']);

/** Engine phrases that must never be shown as the reason, even inside a plain Error's message. */
const ENGINE_PHRASES =
  /Cannot read propert(y|ies) of|Cannot set propert(y|ies) of|is not a function|is not iterable|is not defined|Invalid array length|Invalid typed array length|Maximum call stack size exceeded|Unexpected token|Unexpected end of JSON|Unexpected non-whitespace|is not valid JSON|Array buffer allocation failed|offset is out of bounds|Invalid string length|\[object Object\]/;

/** What survives a process or thread boundary of an error: its class name (as thrown) and message. */
interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  /** Name of the original error class, for errors re-thrown across a worker or process boundary. */
  jobName?: unknown;
  originalName?: unknown;
}

function className(e: ErrorLike): string {
  const n = typeof e.originalName === 'string' ? e.originalName : typeof e.jobName === 'string' ? e.jobName : e.name;
  return typeof n === 'string' ? n : '';
}

function rawMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && typeof (e as ErrorLike).message === 'string') return (e as ErrorLike).message as string;
  if (typeof e === 'string') return e;
  return '';
}

/** One line: the first non-empty line, whitespace collapsed. */
function oneLine(s: string): string {
  const first = s.split('\n').find((l) => l.trim() !== '') ?? '';
  return first.replace(/\s+/g, ' ').trim();
}

/** A Node system error (ENOENT, EACCES, …) carries `code` `E…` and `syscall`: an input problem, not a bug. */
function isSystemError(e: ErrorLike): boolean {
  return typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && 'syscall' in (e as object);
}

/**
 * True for an expected refusal (shown as its message), false for a bug.
 * @param e anything thrown (an Error, or an `{ name, message }` record that crossed a worker boundary).
 */
export function isExpectedRefusal(e: unknown): boolean {
  if (!(e instanceof Error) && !(e && typeof e === 'object' && typeof (e as ErrorLike).message === 'string')) return false;
  const x = e as ErrorLike;
  if (isSystemError(x)) return true;
  if (typeof x.code === 'string' && x.code.startsWith('ERR_')) return false;
  if (ENGINE_ERRORS.has(className(x))) return false;
  const msg = oneLine(rawMessage(e));
  return msg !== '' && !ENGINE_PHRASES.test(msg);
}

/**
 * The one line a user sees for a failure: the refusal's message, or `internal error: … (please report)`.
 * Never empty, never `[object Object]`, never more than one line.
 */
export function userMessage(e: unknown): string {
  if (isExpectedRefusal(e)) return oneLine(rawMessage(e));
  return internalErrorLine(e);
}

/** `internal error: <what was thrown> (please report)`, on one line. */
export function internalErrorLine(e: unknown): string {
  let what = oneLine(rawMessage(e));
  if (!what) {
    if (e === null || e === undefined) what = `${e} was thrown`;
    else if (e instanceof Error) what = `${e.name || 'an Error'} without a message was thrown`;
    else if (typeof e === 'object') {
      let json: string;
      try {
        json = JSON.stringify(e) ?? '';
      } catch {
        json = '';
      }
      what = `a non-Error value was thrown${json && json !== '{}' ? ` (${json.slice(0, 200)})` : ''}`;
    } else what = `the value ${String(e).slice(0, 200)} was thrown`;
  }
  const cls = e && typeof e === 'object' ? className(e as ErrorLike) : '';
  const tag = cls && cls !== 'Error' && ENGINE_ERRORS.has(cls) ? `${cls}: ` : '';
  return `internal error: ${tag}${what} (please report)`;
}

/** The stack of an error (or the worker stack it carried), for debug output only; '' when there is none. */
export function debugStack(e: unknown): string {
  if (!e || typeof e !== 'object') return '';
  const s = (e as { workerStack?: unknown; stack?: unknown }).workerStack ?? (e as { stack?: unknown }).stack;
  return typeof s === 'string' ? s : '';
}

/** True when the CLI should print stacks (`ATTENTION_PATHS_DEBUG=1`, or any value but `0`/empty). */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.ATTENTION_PATHS_DEBUG;
  return !!v && v !== '0';
}
