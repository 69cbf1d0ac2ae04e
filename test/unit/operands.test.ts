// Path operands that are glob patterns (src/select/operands.ts): an existing name is always literal, a missing
// one with magic is expanded in byte order, deduplicated, never through a symlink a wildcard matched, and a
// pattern matching nothing is one 'no-match'; then how selectFiles reports what the patterns gave.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFsName } from '../../src/carriers/fs-path.js';
import { expandOperands, isPattern, Operand } from '../../src/select/operands.js';
import { Selected, SelectOptions, selectFiles } from '../../src/select/walk.js';
import { tempDir } from '../helpers/cli.js';

/**
 * A tree under `root`: a name ending in '/' is a directory, `->` makes a symlink (`lnk -> target`), any other
 * a file. Names may carry raw bytes as lone surrogates (\udcNN), created through their bytes.
 */
function makeTree(root: string, entries: readonly string[]): void {
  for (const e of entries) {
    const [name, target] = e.split(' -> ') as [string, string | undefined];
    const p = encodeFsName(join(root, name));
    if (target !== undefined) symlinkSync(target, p);
    else if (name.endsWith('/')) mkdirSync(p, { recursive: true });
    else writeFileSync(p, name);
  }
}

/** Each operand outcome in short, relative to `root`: "PATH" for a path to select, "none PATTERN" for no match. */
function brief(root: string, ops: readonly Operand[]): string[] {
  const rel = (p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p);
  return ops.map((o) => (o.kind === 'path' ? rel(o.path) : `none ${rel(o.pattern)}`));
}

interface Case {
  readonly name: string;
  readonly tree: readonly string[];
  /** Relative to the tree's root (made absolute for the call). */
  readonly operands: readonly string[];
  readonly expected: readonly string[];
}

const cases: readonly Case[] = [
  {
    name: 'existing names with magic characters are literal, never expanded',
    tree: ['a[1].bin', 'a1.bin', '*', '?', '{x,y}', 'x', 'y', 'b', '!(b)', '+(a|b)'],
    operands: ['a[1].bin', '*', '?', '{x,y}', '!(b)', '+(a|b)'],
    expected: ['a[1].bin', '*', '?', '{x,y}', '!(b)', '+(a|b)'],
  },
  {
    name: 'a missing name with magic is a pattern; its matches are sorted by bytes, not by locale',
    tree: ['d/', 'd/b', 'd/B', 'd/a', 'd/é', 'd/e', 'd/~', 'd/10', 'd/9', 'd/_x', 'd/ä'],
    operands: ['d/*'],
    expected: ['d/10', 'd/9', 'd/B', 'd/_x', 'd/a', 'd/b', 'd/e', 'd/~', 'd/ä', 'd/é'],
  },
  {
    name: 'character classes, ? and braces (braces alone make a pattern, as in a shell)',
    tree: ['k-1.efi', 'k-2.efi', 'k-10.efi', 'k-a.efi', 'other'],
    operands: ['k-[0-9].efi', 'k-??.efi', '{other,k-a.efi}'],
    expected: ['k-1.efi', 'k-2.efi', 'k-10.efi', 'k-a.efi', 'other'],
  },
  {
    name: 'a pattern that matches nothing is one no-match, as given; a missing name without magic stays a path',
    tree: ['d/', 'd/a'],
    // An unclosed bracket is no magic for glob: a literal name.
    operands: ['d/*.efi', 'nothing', 'd/[', 'd/[xy]', 'e/*'],
    expected: ['none d/*.efi', 'nothing', 'd/[', 'none d/[xy]', 'none e/*'],
  },
  {
    name: 'dotfiles match only a component that starts with a dot',
    tree: ['d/', 'd/.hidden', 'd/shown', 'd/.sub/', 'd/.sub/f'],
    operands: ['d/*', 'd/.*', 'd/*/f', 'd/**'],
    expected: ['d/shown', 'd/.hidden', 'd/.sub', 'none d/*/f', 'd'],
  },
  {
    name: 'directories are matched like files, and a trailing slash matches only directories',
    tree: ['efi/', 'efi/a/', 'efi/a/x.efi', 'efi/b/', 'efi/b/x.efi', 'efi/c.efi'],
    operands: ['efi/*/', 'efi/*/x.efi'],
    expected: ['efi/a', 'efi/b', 'efi/a/x.efi', 'efi/b/x.efi'],
  },
  {
    name: 'a symlink can match (the selection refuses it later), but nothing is found through one',
    tree: ['real/', 'real/x.efi', 'd/', 'd/dir -> ../real', 'd/file -> ../real/x.efi', 'd/sub/', 'd/sub/x.efi'],
    operands: ['d/*', 'd/*/x.efi', 'd/**/x.efi', 'd/di?/*'],
    expected: ['d/dir', 'd/file', 'd/sub', 'd/sub/x.efi', 'none d/di?/*'],
  },
  {
    name: 'a symlink the user typed before the wildcards is gone through, as in a typed path',
    tree: ['real/', 'real/x.efi', 'lnk -> real'],
    operands: ['lnk/*.efi'],
    expected: ['lnk/x.efi'],
  },
  {
    name: 'overlapping patterns and literals give each path once, at its first place',
    tree: ['d/', 'd/a', 'd/ab', 'd/b', 'd/c/'],
    operands: ['d/b', 'd/a*', 'd/*', 'd/{c,a}', 'd/b'],
    expected: ['d/b', 'd/a', 'd/ab', 'd/c', 'd/b'],
  },
  {
    name: 'names that are not UTF-8 match, carried as lone surrogates, sorted by their bytes',
    tree: ['d/', 'd/caf\udce9', 'd/café', 'd/cafe', 'd/bad-\udcff', 'd/bad-a'],
    operands: ['d/caf?', 'd/bad-*'],
    expected: ['d/cafe', 'd/café', 'd/caf\udce9', 'd/bad-a', 'd/bad-\udcff'],
  },
  {
    name: 'a pattern carrying raw bytes itself is taken literally',
    tree: ['d/', 'd/\udce9-1', 'd/\udce9-2'],
    operands: ['d/\udce9-*', 'd/\udce9-1'],
    expected: ['d/\udce9-*', 'd/\udce9-1'],
  },
];

describe('expandOperands', () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const root = await tempDir(t);
      makeTree(root, c.tree);
      const got = expandOperands(c.operands.map((o) => join(root, o)));
      assert.deepEqual(brief(root, got), c.expected);
    });
  }

  test('the spelling of the literal leading directories is kept ("./", "../", "//")', async (t) => {
    const root = await tempDir(t);
    makeTree(root, ['d/', 'd/a', 'd/b', 'e/']);
    const prev = process.cwd();
    process.chdir(join(root, 'e'));
    try {
      const got = expandOperands(['../d/*', './../d/a*', `${root}//d/?`, '../?/']);
      assert.deepEqual(brief(root, got), ['../d/a', '../d/b', './../d/a', '/d/a', '/d/b', '../d', '../e']);
      process.chdir(root);
      assert.deepEqual(brief(root, expandOperands(['./d/*', 'd/*'])), ['./d/a', './d/b', 'd/a', 'd/b']);
    } finally {
      process.chdir(prev);
    }
  });

  test('isPattern: only a missing operand with magic and without raw bytes', async (t) => {
    const root = await tempDir(t);
    makeTree(root, ['a[1]', 'f']);
    const table: [string, boolean][] = [
      ['a[1]', false],
      ['a[23]', true],
      // glob reads a one-character class as an escaped character: no magic.
      ['a[2]', false],
      ['*', true],
      ['{f,g}', true],
      ['plain', false],
      ['\udce9*', false],
      ['f/*', true],
    ];
    for (const [operand, expected] of table) assert.equal(isPattern(join(root, operand)), expected, operand);
  });
});

async function select(paths: string[], opts: Partial<SelectOptions> = {}): Promise<string[]> {
  const out: Selected[] = [];
  for (const s of selectFiles(paths, { suffix: '.sig', ...opts })) out.push(s);
  return out.map((s) => {
    if (s.kind === 'target') return `target ${s.path}`;
    if (s.kind === 'orphan') return `orphan ${s.path} <- ${s.sidecar}`;
    return `skipped ${s.path}: ${s.reason} (${s.code}${s.explicit ? ', explicit' : ''})`;
  });
}

describe('selectFiles with pattern operands', () => {
  test('matches are selected like typed paths: directories need -r, symlinks are refused, X.sig means X', async (t) => {
    const root = await tempDir(t);
    makeTree(root, ['d/', 'd/a', 'd/a.sig', 'd/gone.sig', 'd/sub/', 'd/sub/f', 'd/lnk -> a']);
    const d = join(root, 'd');
    assert.deepEqual(await select([`${d}/*`]), [
      `target ${d}/a`,
      `orphan ${d}/gone <- ${d}/gone.sig`,
      `skipped ${d}/lnk: is a symbolic link; not followed (ELOOP, explicit)`,
      `skipped ${d}/sub: is a directory (use -r to descend) (EISDIR, explicit)`,
    ]);
    assert.deepEqual(await select([`${d}/s*`], { recursive: true }), [`target ${d}/sub/f`]);
  });

  test('no match is skipped with its own reason; a missing plain name keeps the usual one', async () => {
    assert.deepEqual(await select(['/nonexistent-ima-sidecar-test/*.efi', '/nonexistent-ima-sidecar-test/x']), [
      'skipped /nonexistent-ima-sidecar-test/*.efi: no file matches the pattern (ENOENT, explicit)',
      'skipped /nonexistent-ima-sidecar-test/x: no such file or directory (ENOENT) (ENOENT, explicit)',
    ]);
  });

  test('a file named like a pattern is selected by its name, not as a pattern', async (t) => {
    const root = await tempDir(t);
    makeTree(root, ['*.efi', 'a.efi']);
    assert.deepEqual(await select([join(root, '*.efi')]), [`target ${join(root, '*.efi')}`]);
  });
});
