// --help, the man page and the shell completion describe one command line: for every command and modsig
// subcommand the three name the same long and short options (the shared groups included where the command takes
// them), the man page's synopsis names every option of the command's own, and --help's groups are the man page's.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli, show } from '../helpers/cli.js';

/** roff to the text it prints: font changes gone, \- and \e as the characters. */
function plain(roff: string): string {
  return roff
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\%/g, '');
}

/** The options named in a text: long ones as `--name` (`--no-name` counts as `--name`), short ones as `-x`. */
function optionNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)) names.add(`--${m[1]!.replace(/^no-/, '')}`);
  for (const m of text.matchAll(/(?<![\w-])-([a-zA-Z])(?![\w-])/g)) names.add(`-${m[1]}`);
  return names;
}

const sorted = (s: Iterable<string>): string[] => [...s].sort();
const union = (...sets: Iterable<string>[]): Set<string> => new Set(sets.flatMap((s) => [...s]));

// ---- the man page ---------------------------------------------------------------------------------------

interface Man {
  /** Each command's own options (its .SS under COMMANDS, option tags only), by "sign" or "modsig sign". */
  own: Map<string, Set<string>>;
  /** Each group's options (SHARED OPTIONS), by lower-case title: "tree options", "every command", ... */
  groups: Map<string, Set<string>>;
  /** Each command's SYNOPSIS entry: the options it names and the groups it refers to. */
  synopsis: Map<string, { names: Set<string>; groups: string[] }>;
}

function sections(roff: string, macro: '.SH' | '.SS'): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of roff.split(new RegExp(`^\\${macro} `, 'm')).slice(1)) {
    const nl = part.indexOf('\n');
    out.set(part.slice(0, nl).replace(/"/g, '').trim(), part.slice(nl + 1));
  }
  return out;
}

/** The tag lines of a section's .TP and .TQ items: where a man page names the options it describes. */
function tags(body: string): Set<string> {
  const lines = body.split('\n');
  const tagLines = lines.filter((_, i) => i > 0 && /^\.T[PQ]\b/.test(lines[i - 1]!));
  return optionNames(plain(tagLines.join('\n')));
}

function readMan(): Man {
  const roff = readFileSync(join(ROOT, 'man', 'ima-sidecar.1'), 'utf8');
  const top = sections(roff, '.SH');
  const own = new Map([...sections(top.get('COMMANDS')!, '.SS')].map(([k, v]) => [k, tags(v)]));
  const groups = new Map([...sections(top.get('SHARED OPTIONS')!, '.SS')].map(([k, v]) => [k.toLowerCase(), tags(v)]));
  const synopsis = new Map<string, { names: Set<string>; groups: string[] }>();
  for (const entry of plain(top.get('SYNOPSIS')!).split(/^(?=\.B ima-sidecar)/m)) {
    const m = /^\.B ima-sidecar (.+)$/m.exec(entry);
    if (!m) continue;
    const groupRefs = [...entry.matchAll(/"(\w+ options)"/g)].map((g) => g[1]!);
    synopsis.set(m[1]!.trim(), { names: optionNames(entry.replace(/"\w+ options"/g, '')), groups: groupRefs });
  }
  return { own, groups, synopsis };
}

// ---- --help ---------------------------------------------------------------------------------------------

interface Help {
  /** Each option line's names, e.g. [-a, --hash-algo, --hashalgo]. */
  options: Set<string>[];
  /** The options under each group heading other than Options: ("tree options": ...). */
  groups: Map<string, Set<string>>;
  usage: string;
}

function parseHelp(stdout: string): Help {
  const options: Set<string>[] = [];
  const groups = new Map<string, Set<string>>();
  let group = '';
  for (const line of stdout.split('\n')) {
    const heading = /^([A-Z][a-z]+(?: [a-z]+)*):$/.exec(line);
    if (heading) group = heading[1]!.toLowerCase();
    // An option line starts in the third column ("  -a, --x", or "  --x" where no option has a short name) or
    // the seventh ("      --x"); a wrapped description starts further in, even where it begins with an option.
    const m = /^ {2}(?:-\w, | {4})?(--\S+(?:, --\S+)*)/.exec(line);
    if (!m) continue;
    const names = optionNames(line.trim().split(/ {2,}/)[0]!);
    options.push(names);
    if (group !== 'options' && group !== 'positionals') {
      if (!groups.has(group)) groups.set(group, new Set());
      for (const n of names) groups.get(group)!.add(n);
    }
  }
  return { options, groups, usage: stdout.split('\n')[0]! };
}

// ---- the commands ---------------------------------------------------------------------------------------

let commands: string[][] = [];
const help = new Map<string, Help>();
const completion = new Map<string, Set<string>>();
let man: Man;

before(async () => {
  man = readMan();
  const top = await runCli(['--help']);
  assert.equal(top.status, 0, show(top));
  const names = [...top.stdout.matchAll(/^ {2}ima-sidecar (\S+)/gm)].map((m) => m[1]!);
  const modsig = await runCli(['modsig', '--help']);
  assert.equal(modsig.status, 0, show(modsig));
  const subs = [...modsig.stdout.matchAll(/^ {2}ima-sidecar modsig (\S+)/gm)].map((m) => m[1]!);
  commands = [...names.map((n) => [n]), ...subs.map((s) => ['modsig', s])];
  await Promise.all(
    commands.map(async (c) => {
      const key = c.join(' ');
      const [h, long, short] = await Promise.all([
        runCli([...c, '--help']),
        runCli(['--get-yargs-completions', 'ima-sidecar', ...c, '--']),
        runCli(['--get-yargs-completions', 'ima-sidecar', ...c, '-']),
      ]);
      for (const r of [h, long, short]) assert.equal(r.status, 0, `${key}: ${show(r)}`);
      help.set(key, parseHelp(h.stdout));
      completion.set(key, optionNames([...long.stdout.split('\n'), ...short.stdout.split('\n')].join(' ')));
    }),
  );
});

/** What the man page says a command takes: its own options, its synopsis' groups, and the options of every command. */
function manOptions(cmd: string): Set<string> {
  const groups = man.synopsis.get(cmd)?.groups ?? [];
  for (const g of groups) assert.ok(man.groups.has(g), `${cmd}: the synopsis names "${g}", which SHARED OPTIONS lacks`);
  return union(man.own.get(cmd) ?? [], ...groups.map((g) => man.groups.get(g)!), man.groups.get('every command')!);
}

describe('--help, the man page and the completion agree', () => {
  test('every command and subcommand is in --help, in the man page (synopsis and COMMANDS), and found', () => {
    assert.ok(commands.length >= 18, `only ${commands.length} commands found`);
    for (const c of commands) {
      const key = c.join(' ');
      assert.ok(man.own.has(key), `the man page has no COMMANDS section for ${key}`);
      assert.ok(man.synopsis.has(key), `the man page's SYNOPSIS lacks ${key}`);
    }
    for (const key of man.own.keys())
      assert.ok(
        commands.some((c) => c.join(' ') === key),
        `the man page describes "${key}", which --help does not list`,
      );
  });

  test('the same options, long and short, in --help, in the man page and in the completion', () => {
    for (const c of commands) {
      const key = c.join(' ');
      const fromHelp = union(...help.get(key)!.options);
      assert.deepEqual(sorted(manOptions(key)), sorted(fromHelp), `${key}: man page (left) and --help (right)`);
      assert.deepEqual(sorted(completion.get(key)!), sorted(fromHelp), `${key}: completion (left) and --help (right)`);
    }
  });

  test("the synopsis names each of a command's own options; --help's groups are the man page's", () => {
    for (const c of commands) {
      const key = c.join(' ');
      const h = help.get(key)!;
      const shared = union(...(man.synopsis.get(key)?.groups ?? []).map((g) => man.groups.get(g)!));
      const every = man.groups.get('every command')!;
      for (const names of h.options) {
        if ([...names].some((n) => shared.has(n) || every.has(n))) continue;
        const inSynopsis = [...names].some((n) => man.synopsis.get(key)!.names.has(n));
        assert.ok(inSynopsis, `${key}: the SYNOPSIS does not name ${sorted(names).join(', ')}`);
      }
      for (const [group, names] of h.groups) {
        assert.ok(man.groups.has(group), `${key}: --help has a group "${group}" the man page lacks`);
        assert.deepEqual(sorted(names), sorted(man.groups.get(group)!), `${key}: ${group}`);
      }
    }
  });
});

describe('help and completion details', () => {
  test('migrate names SRC and DEST in its usage line; completion --help prints help, not the script', async () => {
    assert.match(help.get('migrate')!.usage, /^ima-sidecar migrate <src> <dest>$/);
    const r = await runCli(['completion', '--help']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /^ima-sidecar completion\n/);
    assert.doesNotMatch(r.stdout, /complete -o|compdef|###-begin/);
    const script = await runCli(['completion']);
    assert.match(script.stdout, /###-begin-ima-sidecar-completions-###/);
  });

  test('--hash-algo lists its choices in --help, and the aliases are shown there', async () => {
    const sign = await runCli(['sign', '--help']);
    assert.match(sign.stdout, /-a, --hash-algo, --hashalgo/);
    assert.match(sign.stdout, /\[choices: "sha1", "rmd160", "sha256",/);
    assert.match(sign.stdout, /-p, --pass /);
    const modsig = await runCli(['modsig', 'sign', '--help']);
    assert.match(modsig.stdout, /\[choices: "sha1", "sha224", "sha256", "sha384", "sha512", "sha3-256"/);
  });

  test('completion offers real option names only, choices after an option that has them, files elsewhere', async () => {
    for (const [key, names] of completion)
      for (const n of names) assert.match(n, /^(--[a-z][a-z0-9-]+|-[a-zA-Z])$/, `${key}: ${n}`);
    const cases: [string[], string[]][] = [
      [
        ['sign', '--'],
        ['--hash-algo', '--hashalgo', '--quiet', '--xattr-user', '--no-progress'],
      ],
      [
        ['sign', '--to', ''],
        ['sidecar', 'xattr', 'both'],
      ],
      [
        ['sign', '--hashalgo', 'sha3'],
        ['sha384', 'sha3-256', 'sha3-384', 'sha3-512'],
      ],
      [
        ['modsig', ''],
        ['inspect', 'verify', 'strip', 'sign', 'detach', 'attach'],
      ],
      [['mo'], ['modsig']],
    ];
    for (const [words, expected] of cases) {
      const r = await runCli(['--get-yargs-completions', 'ima-sidecar', ...words]);
      const got = r.stdout.split('\n').filter(Boolean);
      for (const e of expected) assert.ok(got.includes(e), `${words.join(' ')}: ${e} missing from ${got.join(' ')}`);
      assert.ok(!got.some((g) => /^--.$/.test(g)), `${words.join(' ')}: ${got.join(' ')}`);
    }
    // Where a file name goes, nothing: the shell completes file names.
    for (const words of [
      ['sign', ''],
      ['sign', '--key', ''],
      ['verify', '-c', ''],
      ['migrate', 'a', ''],
    ]) {
      const r = await runCli(['--get-yargs-completions', 'ima-sidecar', ...words]);
      assert.equal(r.stdout, '', `${words.join(' ')}: ${show(r)}`);
    }
    // Called by hand without the program's name first, the words mean the same.
    const byHand = await runCli(['--get-yargs-completions', 'modsig', 'sign', '--']);
    const long = (names: Iterable<string>) => sorted([...names].filter((n) => n.startsWith('--')));
    assert.deepEqual(long(optionNames(byHand.stdout)), long(completion.get('modsig sign')!));
  });
});
