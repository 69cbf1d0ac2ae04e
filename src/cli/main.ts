/**
 * The command line: parsing and printing only; the work is in ../ops.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { COMPLETION_KEY, completionCommand, completions, completionWords } from './completion.js';
import { flushOutput, printable, watchStdoutPipe } from './output.js';
import { commands } from './commands/index.js';
import { ConfigError, FileError, FormatError, UsageError, VERSION, rawArguments } from '../index.js';

// Node decodes the arguments as UTF-8 and loses bytes that are not; rawArguments gets them back (a file name can
// be any bytes).
export async function main(argv: string[] = rawArguments(hideBin(process.argv))): Promise<number> {
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  const verbose = options.includes('-v') || options.includes('--verbose');
  const completing = argv.indexOf(COMPLETION_KEY);
  const operands = completing >= 0 || end < 0 ? [] : argv.slice(end + 1);
  const args =
    completing >= 0
      ? completionWords(argv, completing, COMMAND_NAMES)
      : [...attachedValues(options), ...operands.map((_, i) => `\0operand:${i}`)];
  const restore = (w: string): string => w.replace(STAND_IN, (_, i: string) => operands[Number(i)]!);
  watchStdoutPipe();
  const parser = yargs(args)
    .scriptName('ima-sidecar')
    .usage(
      '$0 <command> [options] PATH...\n\n' +
        'Manage Linux IMA signatures kept beside files (evmctl-format sidecars) and in security.ima.',
    )
    .version(VERSION)
    .strict()
    .demandCommand(1, 'give a command (see --help)')
    .recommendCommands()
    .epilog(
      'Exit status: 0 all good, 1 some file failed, 2 usage or configuration error, 130/143 interrupted.\n' +
        'Environment: IMA_SIDECAR_KEY_PASSWORD (or EVMCTL_KEY_PASSWORD) for encrypted keys.\n' +
        'See ima-sidecar(1).',
    )
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      // Throwing is what stops yargs: a fail handler that returns lets it run the command anyway.
      // yargs wraps what a coerce throws in its own YError: that is a usage error too.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(restore(msg ?? err?.message ?? 'usage error').replace(/\s*\n\s*/g, ' '));
    })
    .middleware((a) => {
      for (const [k, v] of Object.entries(a)) {
        if (typeof v === 'string') a[k] = restore(v);
        else if (Array.isArray(v)) a[k] = v.map((w: unknown) => (typeof w === 'string' ? restore(w) : w));
      }
    }, true);
  // An option before the command: a flag yargs does not know there would take the command for its value. So the
  // flags several commands share are known, hidden, at the top; each command declares (and shows) those it takes.
  for (const [flag, alias] of PRE_COMMAND_FLAGS)
    parser.option(flag, { alias, type: 'boolean', hidden: true, global: false });
  for (const c of commands) parser.command(c as never);
  // yargs' typings leave out showCompletionScript's arguments: the name the script calls, the command printing it.
  const showScript = parser.showCompletionScript as unknown as ($0: string, cmd: string) => void;
  parser.command(completionCommand(() => showScript.call(parser, 'ima-sidecar', 'completion')));
  // yargs' own completion command would print the script even for `completion --help`: its hidden stand-in is a
  // name no command line can give as a command, and `completion` above is an ordinary command.
  parser.completion(COMPLETION_KEY, false, (current: string) => completions(parser, args, current));
  skipHelpCache(parser);
  try {
    await parser.parseAsync();
  } catch (e) {
    flushOutput();
    return reportError(e, verbose);
  } finally {
    flushOutput();
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

const PRE_COMMAND_FLAGS: [string, string?][] = [
  ['json'],
  ['quiet', 'q'],
  ['verbose', 'v'],
  ['xattr-user'],
  ['recursive', 'r'],
  ['one-file-system'],
  ['progress'],
];

const COMMAND_NAMES = [...commands.map((c) => String(c.command).split(' ')[0]!), 'completion'];

/** The short options that take a value, in every command that has them. */
const VALUE_LETTERS: Record<string, string> = {
  a: 'hash-algo',
  c: 'cert',
  j: 'jobs',
  k: 'key',
  o: 'output',
  p: 'pass',
};

/**
 * A value attached to a short option, as getopt and so evmctl take it (-asha256, -pPASSWORD): yargs would read
 * the letters as more short options, and name them in its error (a password's too). Given the words before `--`.
 */
function attachedValues(options: string[]): string[] {
  return options.map((w) => {
    const long = /^-[a-z][^=]/.test(w) ? VALUE_LETTERS[w[1]!] : undefined;
    return long ? `--${long}=${w.slice(2)}` : w;
  });
}

/**
 * A word after `--` as yargs is given it. `--` ends the options: the words after it are operands, even those that
 * begin with a dash (`status -- -x`), but yargs leaves them out of its count of a command's operands
 * (yargs/yargs#1732). So each is passed as `\0operand:N` (a NUL cannot be part of an argument, so no option or value
 * looks like it), put back (restore) before validation and in yargs' messages.
 */
const STAND_IN = /\0operand:(\d+)/g;

/**
 * yargs renders the whole help of a command before running its handler, in
 * case the handler calls showHelp() (none here does, and showHelp works
 * without it). That rendering (cliui's wrapping and string widths) was a sixth
 * of a one-file `verify` (--cpu-prof): skip it. --help is not affected. Only
 * yargs' internal methods reach it; without them this does nothing.
 */
function skipHelpCache(parser: unknown): void {
  type Usage = { cacheHelpMessage?: () => void };
  const internal = (parser as { getInternalMethods?: () => { getUsageInstance?: () => Usage } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
}

function reportError(e: unknown, verbose: boolean): number {
  if (e instanceof UsageError) {
    // One line, as every error a user can cause.
    process.stderr.write(`ima-sidecar: ${printable(e.message)}\n`);
    return 2;
  }
  if (e instanceof ConfigError || e instanceof FormatError) {
    process.stderr.write(`ima-sidecar: ${printable(e.message)}\n`);
    if (verbose) process.stderr.write(`${e.stack}\n`);
    return 2;
  }
  if (e instanceof FileError) {
    process.stderr.write(`${printable(e.message)}\n`);
    if (verbose) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
  const err = e as NodeJS.ErrnoException;
  process.stderr.write(
    `ima-sidecar: internal error: ${printable(err?.message ?? String(e))}` +
      `${verbose ? '' : ' (--verbose shows the stack)'}\n`,
  );
  if (verbose) process.stderr.write(`${err?.stack}\n`);
  return 2;
}
