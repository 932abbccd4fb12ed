/**
 * The `attention-paths` command line: the same pipeline as the language server, without LSP.
 *
 *   attention-paths analyze [CONFIG] [--json FILE] [--report DIR] [--max-paths N] [--force] [--quiet] [--yes]
 *   attention-paths sweep [CONFIG] --widths 10,30,100,300,1000 [--json FILE] [--report DIR] [--max-paths N] [--force] [--yes]
 *   attention-paths inspect MODEL.onnx [--json] [--heads N]
 *   attention-paths prune MODEL.onnx (--heads L:H,… | --drop-lowest K) --out OUT.onnx [options]
 *   attention-paths train [CONFIG] --out DIR [options]
 *
 * Each subcommand is one entry of the command table (cli/commands/<name>.ts: name, synopsis, summary, options, run);
 * cli/command.ts parses its arguments with the rules they share (`--json [FILE]`, negative values, one usage error)
 * and writes the help from the table. Progress goes to stderr once work has run for a second; results to stdout.
 * Exit code 0 on success, 1 with a one-line reason per problem otherwise, 2 for usage errors.
 */
import { VERSION } from './version';
import { gemmBackendFromEnv, setGemmBackend } from './linalg/gemm';
import { COMMANDS } from './cli/commands';
import { mainHelp, runCommand, type CliIO, type Command } from './cli/command';
import { CONFIG_NOTE } from './cli/options';
import { printFailure, quietRuntimeWarnings } from './cli/failure';

const processIO: CliIO = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

const USAGE = mainHelp(COMMANDS, `attention-paths ${VERSION} — attention-path theory of transformers (head relevance, finite width vs GP limit)`, CONFIG_NOTE);

function byName(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** Index of the first argument that is neither an option nor the value of one (a command's string option), or -1. */
function firstWord(argv: string[]): number {
  const takesValue = (a: string) => COMMANDS.some((c) => c.options[a.slice(2)]?.type === 'string' && !c.options[a.slice(2)]?.optionalValue);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-')) return i;
    if (a.startsWith('--') && !a.includes('=') && takesValue(a)) i++;
  }
  return -1;
}

/** Runs the CLI with `argv` (without node and script). @returns the exit code. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  // ATTENTION_PATHS_NO_ORT=1: products in JS only, as the editor's computeBackend: js (linalg/gemm.ts).
  setGemmBackend(gemmBackendFromEnv());
  // The command is the first word that is not an option or an option's value (options may come first: `--quiet analyze`).
  const at = firstWord(argv);
  const first = at >= 0 ? argv[at] : undefined;
  if (first !== undefined && byName(first)) return runCommand(byName(argv[at])!, [...argv.slice(0, at), ...argv.slice(at + 1)], io, COMMANDS, printFailure);
  if (argv.includes('--version') || argv.includes('-v')) {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const help = argv.includes('--help') || argv.includes('-h') || first === 'help';
  const topic = first === 'help' ? byName(argv[at + 1] ?? '') : undefined;
  if (topic) return runCommand(topic, ['--help'], io, COMMANDS, printFailure);
  if (help || first === undefined) {
    io.stdout(`${USAGE}\n`);
    return help ? 0 : 2;
  }
  io.stderr(`attention-paths: unknown command "${first}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})\n`);
  return 2;
}

/** `attention-paths prune …` with its output captured (tests). */
export function runPrune(argv: string[], io: CliIO = processIO): Promise<number> {
  return runCommand(byName('prune')!, argv, io, COMMANDS, printFailure);
}

/** Where `runTrain` writes: stream-like sinks (the process's by default). */
export interface TrainIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** `attention-paths train …` with its output captured (tests). */
export function runTrain(argv: string[], io: TrainIO = process): Promise<number> {
  return runCommand(byName('train')!, argv, { stdout: (t) => io.stdout.write(t), stderr: (t) => io.stderr.write(t) }, COMMANDS, printFailure);
}

/**
 * The process entry (bin/attention-paths.js and `node dist/cli.js`): runs `main` and exits with its code. Node's
 * runtime warnings are silenced and an error escaping `main` is printed as one line (stack only with
 * ATTENTION_PATHS_DEBUG=1).
 */
export function run(argv: string[]): void {
  quietRuntimeWarnings();
  main(argv).then(
    (code) => exitFlushed(code),
    (e) => {
      printFailure(e, 'attention-paths', (t) => process.stderr.write(t));
      exitFlushed(1);
    },
  );
}

/**
 * Exits once stdout and stderr have handed over what was written: into a pipe, writes are asynchronous, and an
 * immediate `process.exit` cut `analyze --json -` off after 64 KiB (one pipe buffer).
 */
function exitFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

if (require.main === module) run(process.argv.slice(2));
