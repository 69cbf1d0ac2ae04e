/**
 * Shell completion: the `completion` command prints the script, and the script asks
 * `ima-sidecar --get-yargs-completions WORDS...` for the candidates.
 *
 * yargs' own candidates were wrong in ways a user sees: `--q` for the short option -q, options where a file
 * name belongs (after `sign `, or after `--key`), and a command's name looked up in the wrong place when the
 * words did not start with the program's. These come from the same option tables --help prints.
 */
import type { Argv, CommandModule } from 'yargs';

/** The option yargs' completion script calls us with. */
export const COMPLETION_KEY = '--get-yargs-completions';

export function completionCommand(print: () => void): CommandModule {
  return {
    command: 'completion',
    describe: 'Print a bash/zsh completion script',
    builder: (y: Argv) =>
      y.usage('$0 completion\n\nPrint a bash or zsh completion script (bash: ima-sidecar completion >> ~/.bashrc).'),
    handler: () => print(),
  };
}

/**
 * The words to parse when completing: the script passes the whole command line, program name first, and yargs
 * finds the command only after it. Called by hand (`--get-yargs-completions sign --`), the name is supplied.
 */
export function completionWords(argv: readonly string[], keyAt: number, commandNames: readonly string[]): string[] {
  const words = argv.slice(keyAt + 1);
  const first = words[0];
  if (first === undefined || first.startsWith('-') || commandNames.includes(first)) words.unshift('ima-sidecar');
  return [COMPLETION_KEY, ...words];
}

interface Options {
  key: Record<string, unknown>;
  boolean: string[];
  string: string[];
  number: string[];
  choices: Record<string, string[]>;
  default: Record<string, unknown>;
  hiddenOptions: string[];
}

interface Internals {
  getOptions(): Options;
  getAliases(): Record<string, string[]>;
  getGroups(): Record<string, string[]>;
  getInternalMethods?(): {
    getContext?(): { commands: string[] };
    getUsageInstance?(): { getCommands?(): [string, ...unknown[]][]; getPositionalGroupName?(): string };
  };
}

/**
 * The candidates for the last word of `words`, in the context yargs has parsed them into (the innermost
 * command's options and subcommands). An empty answer lets the shell complete file names.
 */
export function completions(parser: unknown, words: readonly string[], current: string): string[] {
  const y = parser as Internals;
  const options = y.getOptions();
  const aliases = y.getAliases();
  const names = (k: string): string[] => [k, ...(aliases[k] ?? [])];
  const internal = y.getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  const context = internal?.getContext?.().commands ?? [];
  const subcommands = (usage?.getCommands?.() ?? []).map((c) => c[0].split(' ')[0]!);
  // Operands are keys too, and a hidden option's aliases are not hidden by name.
  const positionals = y.getGroups()[usage?.getPositionalGroupName?.() ?? 'Positionals:'] ?? [];
  const hidden = new Set(options.hiddenOptions.flatMap(names));

  // After an option that takes a value: its choices, or nothing so the shell offers file names.
  const prev = words.length >= 4 ? words[words.length - 2]! : '';
  const prevKey = prev.startsWith('--') ? prev.slice(2) : /^-[^-]/.test(prev) ? prev.slice(-1) : undefined;
  if (prevKey !== undefined && !prev.includes('=')) {
    const keys = names(prevKey);
    if (keys.some((k) => options.string.includes(k) || options.number.includes(k))) {
      const choices = keys.map((k) => options.choices[k]).find((c) => c !== undefined) ?? [];
      return choices.filter((c) => c.startsWith(current));
    }
  }

  if (current.startsWith('-')) {
    const out: string[] = [];
    for (const k of Object.keys(options.key)) {
      if (hidden.has(k) || positionals.includes(k)) continue;
      out.push(k.length === 1 ? `-${k}` : `--${k}`);
      if (options.boolean.includes(k) && options.default[k] === true) out.push(`--no-${k}`);
    }
    return [...new Set(out)].filter((o) => o.startsWith(current));
  }
  // The command just typed in full: itself, so the shell moves on to the next word.
  if (current !== '' && context.at(-1) === current) return [current];
  return subcommands.filter((c) => c.startsWith(current));
}
