/**
 * Path operands that are glob patterns, expanded by the tool itself for the
 * places where no shell does it (systemd units, kernel hooks, quoted script
 * arguments): `ima-sidecar status '/boot/efi/EFI/Linux/*.efi'`.
 *
 * An operand that exists is always taken literally, whatever characters it
 * holds, so a file really named `a[1].bin` or `*` is never expanded. Only an
 * operand that does not exist and has glob magic is a pattern. Its matches,
 * in byte order, are then selected exactly like paths the user typed (the
 * selection lstats and opens each one the safe way, refusing symlinks).
 */
import { Dirent, lstatSync, readdirSync } from 'node:fs';
import { globSync, hasMagic, type GlobOptions } from 'glob';
import { errnoOf } from '../errors.js';
import { decodeFsName, encodeFsName, fsPath, hasEscapedBytes } from '../carriers/fs-path.js';

export type Operand =
  /** A path to select as if the user had typed it: a literal operand or one match of a pattern. */
  | { readonly kind: 'path'; readonly path: string }
  /** A pattern, as given, that matched nothing. */
  | { readonly kind: 'no-match'; readonly pattern: string };

// `{a,b}` alone is a pattern too, as it is in a shell.
const MAGIC = { magicalBraces: true } as const;

/** Whether `operand` is expanded as a glob pattern rather than taken as the path it spells. */
export function isPattern(operand: string): boolean {
  // glob and minimatch read a pattern as text: one carrying raw bytes (fs-path.ts) is rare, so it stays literal.
  if (hasEscapedBytes(operand) || !hasMagic(operand, MAGIC)) return false;
  try {
    lstatSync(fsPath(operand));
    return false;
  } catch (e) {
    // Another error (EACCES, ENAMETOOLONG) is reported for the operand as given, which says more than no match.
    const code = errnoOf(e);
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/**
 * The paths to select for the operands, in their order: a literal operand as
 * it is, a pattern as its matches sorted by the bytes of the path, dropping
 * those an earlier operand already gave, or as one 'no-match' when it matches
 * nothing. Every pattern is expanded here, before any file is worked on, as a
 * shell would, so that files a run writes (sidecars) are never matched.
 */
export function expandOperands(operands: readonly string[]): Operand[] {
  const out: Operand[] = [];
  const given = new Set<string>();
  for (const operand of operands) {
    if (!isPattern(operand)) {
      out.push({ kind: 'path', path: operand });
      given.add(operand);
      continue;
    }
    const matches = expandPattern(operand);
    if (matches.length === 0) out.push({ kind: 'no-match', pattern: operand });
    for (const path of matches) {
      if (given.has(path)) continue;
      given.add(path);
      out.push({ kind: 'path', path });
    }
  }
  return out;
}

/** Whether a component can be part of the literal directory a pattern starts from. */
function isPlainComponent(c: string): boolean {
  // Braces may span slashes (`{a/b,c}`) and a backslash escapes: neither belongs in a directory name as typed.
  return !/[\\{}]/.test(c) && !hasMagic(c, MAGIC);
}

/** The matches of `pattern`, sorted by their bytes, spelt with the pattern's literal leading directories. */
function expandPattern(pattern: string): string[] {
  // Globbing from the literal leading directories keeps their spelling (`./`, `../`), which glob would rewrite.
  const parts = pattern.split('/');
  let k = 0;
  while (k < parts.length - 1 && isPlainComponent(parts[k]!)) k++;
  const base = k === 0 ? '' : parts.slice(0, k).join('/') || '/';
  const rest = parts.slice(k).join('/');
  const options: GlobOptions = {
    // glob reaches the file system only through these calls: lossless names, nothing behind a matched symlink.
    fs: noFollowFs(),
    follow: false,
    ...MAGIC,
    ...(base ? { cwd: base } : {}),
  };
  const found = globSync(rest, options) as string[];
  // glob gives its cwd itself (a match of `**`) as '.': that is the base as typed.
  const spelt = found.map((m) => (base === '' ? m : m === '.' ? base : base.endsWith('/') ? base + m : `${base}/${m}`));
  const paths = [...new Set(spelt)];
  return paths.sort((a, b) => Buffer.compare(encodeFsName(a), encodeFsName(b)));
}

/** An error as a failed system call would give it, for glob to treat as a missing entry. */
function missing(path: string, code: 'ENOENT' | 'ENOTDIR'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${path}`), { code, path });
}

/**
 * The file system glob sees. Names are listed as bytes and decoded
 * losslessly, so a name that is not UTF-8 can match and be opened. A symlink
 * found in a listing is one a wildcard matched, not one the user typed: glob
 * (even with follow: false, for `*` and one level of `**`) would look through
 * it, so nothing below it is found. The symlink itself can still match; the
 * selection then reports it and skips it.
 */
function noFollowFs(): NonNullable<GlobOptions['fs']> {
  const listedLinks = new Set<string>();
  const belowListedLink = (p: string, orSelf: boolean): boolean => {
    if (listedLinks.size === 0) return false;
    if (orSelf && listedLinks.has(p)) return true;
    for (let i = p.indexOf('/', 1); i > 0; i = p.indexOf('/', i + 1)) if (listedLinks.has(p.slice(0, i))) return true;
    return false;
  };
  return {
    lstatSync: (p: string) => {
      if (belowListedLink(p, false)) throw missing(p, 'ENOENT');
      return lstatSync(encodeFsName(p));
    },
    readdirSync: (p: string) => {
      if (belowListedLink(p, true)) throw missing(p, 'ENOTDIR');
      const entries = readdirSync(encodeFsName(p), { withFileTypes: true, encoding: 'buffer' });
      return entries.map((e) => {
        const name = decodeFsName(e.name);
        if (e.isSymbolicLink()) listedLinks.add(p.endsWith('/') ? p + name : `${p}/${name}`);
        // The same entry with its name as text: glob reads the name and the type methods only.
        return Object.defineProperty(e, 'name', { value: name }) as unknown as Dirent;
      });
    },
  };
}
