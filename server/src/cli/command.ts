/**
 * The command table's machinery: what a subcommand declares (cli/commands/<name>.ts: name, synopsis, summary,
 * options, run), how its arguments are parsed (`node:util` parseArgs, with the two rules every command shares), its
 * usage errors, and the help text generated from the declarations.
 *
 * Shared rules:
 * - `--json [FILE]`: an option declared with `optionalValue` may stand bare (last, or before another option): then it
 *   means `-`, i.e. stdout.
 * - A negative number after an option that takes a value is that value (`--widths -5`, `--drop-lowest -1`), so that
 *   the option's own range check answers ("is not a width N from 1 to 1e15") instead of parseArgs ("ambiguous").
 * - An option of another command is refused by name: "--widths belongs to sweep".
 * Usage errors exit with code 2 and one line: `attention-paths[ <command>]: <message>`, followed by
 * `; see attention-paths <command> --help` for option errors (or for every usage error of a command that says so).
 */
import { parseArgs } from 'node:util';

/** A mistake in how the command was called (exit code 2, one line). */
export class UsageError extends Error {
  /**
   * @param hint whether the line ends with "; see attention-paths <command> --help" (option errors; a command's
   *   `hintEveryUsageError` adds it to all).
   */
  constructor(
    message: string,
    readonly hint = false,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help (`FILE`, `N`); string options only. */
  value?: string;
  /** `--json [FILE]`: may stand bare, meaning `-` (stdout). */
  optionalValue?: boolean;
  /** One or more lines of help. */
  help: string;
}

/** Where a command writes (the CLI: the process streams; tests capture them). */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** What parsing gives a command: option values (booleans default to false) and the positional arguments. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  /** The arguments after the command's name in the usage line: `[CONFIG] [--json FILE] …`. */
  synopsis: string;
  /** What the command does, one to three lines (main help and the command's help). */
  summary: string;
  /** A longer description for the command's own help, after the usage line (optional). */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Every usage error of the command names its help (train), not only option errors. */
  hintEveryUsageError?: boolean;
  /** Messages start with `attention-paths <name>:` (prune, train) rather than `attention-paths:` (analyze, sweep, inspect). */
  ownPrefix?: boolean;
  /** Runs the command; throws UsageError for usage mistakes, anything else for a failure (exit 1). */
  run(args: ParsedArgs, io: CliIO, ctx: RunContext): Promise<number>;
}

/** What a run tells the error printer: the config it read (a failure is placed in that file), whether it was interrupted. */
export interface RunContext {
  configSource?: string;
  /** Aborted by Ctrl-C: a failure then exits with 130 (128 + SIGINT), the conventional status. */
  signal?: AbortSignal;
}

/** `attention-paths` or `attention-paths prune`: the prefix of the command's messages. */
export function messagePrefix(cmd: Command): string {
  return cmd.ownPrefix ? `attention-paths ${cmd.name}` : 'attention-paths';
}

/** Options every command has. */
export const HELP_OPTION: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', help: 'this help' } };

/**
 * Parses the arguments after the command's name.
 * @param others the other commands (for "--X belongs to …").
 * @throws UsageError (with the help hint) for unknown options, missing values and options of other commands.
 */
export function parseCommandArgs(cmd: Command, argv: string[], others: readonly Command[] = []): ParsedArgs {
  const options = { ...cmd.options, ...HELP_OPTION };
  const takesValue = (a: string) => {
    const o = options[a.replace(/^--/, '')];
    return a.startsWith('--') && o?.type === 'string';
  };
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1];
    const bare = a.startsWith('--') && options[a.slice(2)]?.optionalValue && (next === undefined || next.startsWith('--'));
    if (bare) args.push(`${a}=-`);
    else if (takesValue(a) && next !== undefined && /^-\d|^-\.\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; default?: boolean }> = {};
  for (const [name, o] of Object.entries(options))
    config[name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.type === 'boolean' ? { default: false } : {}) };
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: config });
    return { values, positionals };
  } catch (e) {
    const first = (e as Error).message.split('\n')[0].split(/\.( |$)/)[0];
    const unknown = /^Unknown option '--([^'=]+)'/.exec(first)?.[1];
    const owners = unknown ? others.filter((c) => c !== cmd && unknown in c.options).map((c) => c.name) : [];
    if (owners.length) throw new UsageError(`--${unknown} belongs to ${listText(owners)}`, true);
    throw new UsageError(first, true);
  }
}

/** "a", "a and b", "a, b and c". */
function listText(xs: string[]): string {
  return xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

/** The option lines of a help text: `  --json [FILE]   write …`, descriptions aligned. */
function optionLines(options: Record<string, OptionSpec>): string[] {
  const heads = Object.entries(options).map(([name, o]) => {
    const value = o.type === 'string' ? (o.optionalValue ? ` [${o.value ?? 'VALUE'}]` : ` ${o.value ?? 'VALUE'}`) : '';
    return `  ${o.short ? `-${o.short}, ` : ''}--${name}${value}`;
  });
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return Object.values(options).flatMap((o, i) => {
    const [first, ...rest] = o.help.split('\n');
    return [`${heads[i].padEnd(width)}${first}`, ...rest.map((l) => `${' '.repeat(width)}${l}`)];
  });
}

/** `attention-paths <command> --help`. */
export function commandHelp(cmd: Command): string {
  const lines = [`Usage:`, `  attention-paths ${cmd.name} ${cmd.synopsis}`, '', cmd.summary];
  if (cmd.details) lines.push('', cmd.details);
  lines.push('', 'Options:', ...optionLines({ ...cmd.options, ...HELP_OPTION }));
  return lines.join('\n');
}

/** `attention-paths --help`: every command's usage line and summary. */
export function mainHelp(commands: readonly Command[], header: string, footer: string): string {
  const lines = [header, '', 'Usage:'];
  for (const c of commands) lines.push(`  attention-paths ${c.name} ${c.synopsis}`, ...c.summary.split('\n').map((l) => `      ${l}`));
  lines.push('  attention-paths <command> --help', "      The command's options.", '  attention-paths --help | --version', '', footer);
  return lines.join('\n');
}

/**
 * Parses and runs one command: exit code 0 / 1 / 2 (130 after Ctrl-C, from the command). Usage errors are printed here
 * (one line), failures by `printFailure`.
 */
export async function runCommand(
  cmd: Command,
  argv: string[],
  io: CliIO,
  others: readonly Command[],
  printFailure: (e: unknown, program: string, write: (t: string) => void, configSource?: string) => void,
): Promise<number> {
  const program = messagePrefix(cmd);
  const ctx: RunContext = {};
  try {
    const args = parseCommandArgs(cmd, argv, others);
    if (args.values.help) {
      io.stdout(`${commandHelp(cmd)}\n`);
      return 0;
    }
    return await cmd.run(args, io, ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${program}: ${e.message}${e.hint || cmd.hintEveryUsageError ? `; see attention-paths ${cmd.name} --help` : ''}\n`);
      return 2;
    }
    printFailure(e, program, io.stderr, ctx.configSource);
    return ctx.signal?.aborted ? 130 : 1;
  }
}
