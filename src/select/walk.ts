/**
 * Turning the user's paths into a stream of targets, in a stable order
 * (sorted by byte order of names, depth first), holding one directory listing
 * per level in memory and never following a symlink.
 *
 * A path `X.sig` stands for its target `X`; a sidecar whose target is missing
 * is an orphan; symlinks and special files are reported and skipped.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { Minimatch } from 'minimatch';
import { describeSystemError, errnoOf } from '../errors.js';
import { temporaryOwner, processAlive } from '../carriers/atomic-write.js';
import { fileKind } from '../carriers/regular-file.js';

export interface SelectOptions {
  readonly recursive?: boolean;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly oneFileSystem?: boolean;
  readonly suffix: string;
  /** Told about temporary files a killed run left behind (their writer is dead). */
  readonly onStaleTemporary?: (path: string) => void;
}

export type Selected =
  /** A regular file to work on. `root` is the argument it was found under. */
  | { readonly kind: 'target'; readonly path: string; readonly root: string; readonly rel: string; readonly dev: number }
  /** A sidecar whose file is missing. `path` is the missing target. */
  | { readonly kind: 'orphan'; readonly path: string; readonly sidecar: string }
  /** Something that cannot be a target, with the reason. */
  | { readonly kind: 'skipped'; readonly path: string; readonly reason: string; readonly code?: string; readonly explicit: boolean };

function matchers(patterns: readonly string[] | undefined): Minimatch[] {
  // A pattern without a slash matches a name at any depth, as in rsync and .gitignore.
  return (patterns ?? []).map((p) => new Minimatch(p, { dot: true, matchBase: !p.includes('/') }));
}

/** Joins without normalising, so a path stays as the user gave it (`./boot/` + `a` is `./boot/a`). */
function joinAsGiven(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Byte order, not locale order, so that output is the same everywhere. */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export async function* selectFiles(paths: readonly string[], opts: SelectOptions): AsyncGenerator<Selected> {
  const include = matchers(opts.include);
  const exclude = matchers(opts.exclude);
  const suffix = opts.suffix;
  const seen = new Set<string>();

  for (const arg of paths) {
    let st;
    try {
      st = await lstat(arg);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' && arg.endsWith(suffix) && arg.length > suffix.length) {
        yield { kind: 'skipped', path: arg, reason: 'no such file or directory', code: 'ENOENT', explicit: true };
        continue;
      }
      yield { kind: 'skipped', path: arg, reason: describeSystemError(e), code: errnoOf(e), explicit: true };
      continue;
    }
    if (st.isDirectory()) {
      if (!opts.recursive) {
        yield { kind: 'skipped', path: arg, reason: 'is a directory (use -r to descend)', code: 'EISDIR', explicit: true };
        continue;
      }
      yield* walkDirectory(arg, arg, '', st.dev, { include, exclude, suffix, opts });
      continue;
    }
    // A sidecar given by name stands for its target.
    let target = arg;
    if (arg.endsWith(suffix) && arg.length > suffix.length && st.isFile()) {
      target = arg.slice(0, -suffix.length);
      let tst;
      try {
        tst = await lstat(target);
      } catch {
        yield { kind: 'orphan', path: target, sidecar: arg };
        continue;
      }
      if (seen.has(target)) continue;
      seen.add(target);
      if (!tst.isFile()) {
        yield { kind: 'skipped', path: target, reason: tst.isSymbolicLink() ? 'is a symbolic link; not followed' : `is a ${fileKind(tst)}, not a regular file`, code: tst.isSymbolicLink() ? 'ELOOP' : 'EINVAL', explicit: true };
        continue;
      }
      yield { kind: 'target', path: target, root: target, rel: '', dev: tst.dev };
      continue;
    }
    if (seen.has(target)) continue;
    seen.add(target);
    if (st.isSymbolicLink()) {
      yield { kind: 'skipped', path: arg, reason: 'is a symbolic link; not followed', code: 'ELOOP', explicit: true };
      continue;
    }
    if (!st.isFile()) {
      yield { kind: 'skipped', path: arg, reason: `is a ${fileKind(st)}, not a regular file`, code: 'EINVAL', explicit: true };
      continue;
    }
    yield { kind: 'target', path: arg, root: arg, rel: '', dev: st.dev };
  }
}

interface WalkContext {
  include: Minimatch[];
  exclude: Minimatch[];
  suffix: string;
  opts: SelectOptions;
}

async function* walkDirectory(root: string, dir: string, relDir: string, dirDev: number, ctx: WalkContext, rootDev = dirDev): AsyncGenerator<Selected> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    yield { kind: 'skipped', path: dir, reason: `cannot read directory: ${describeSystemError(e)}`, code: errnoOf(e), explicit: true };
    return;
  }
  entries.sort((a, b) => compareNames(a.name, b.name));
  const names = new Set(entries.map((e) => e.name));
  for (const entry of entries) {
    const name = entry.name;
    const path = joinAsGiven(dir, name);
    const rel = relDir ? `${relDir}/${name}` : name;
    if (ctx.exclude.some((m) => m.match(rel))) continue;
    const temp = temporaryOwner(name);
    if (temp) {
      if (!processAlive(temp.pid)) ctx.opts.onStaleTemporary?.(path);
      continue;
    }
    if (entry.isDirectory()) {
      let subDev: number;
      try {
        subDev = (await lstat(path)).dev;
      } catch (e) {
        yield { kind: 'skipped', path, reason: describeSystemError(e), code: errnoOf(e), explicit: true };
        continue;
      }
      if (ctx.opts.oneFileSystem && subDev !== rootDev) continue;
      yield* walkDirectory(root, path, rel, subDev, ctx, rootDev);
      continue;
    }
    if (name.endsWith(ctx.suffix) && name.length > ctx.suffix.length) {
      const targetName = name.slice(0, -ctx.suffix.length);
      if (names.has(targetName)) continue; // its target is listed and covers it
      const targetRel = relDir ? `${relDir}/${targetName}` : targetName;
      if (ctx.include.length && !ctx.include.some((m) => m.match(targetRel))) continue;
      if (entry.isSymbolicLink()) {
        yield { kind: 'skipped', path, reason: 'sidecar is a symbolic link; not followed', code: 'ELOOP', explicit: false };
        continue;
      }
      yield { kind: 'orphan', path: joinAsGiven(dir, targetName), sidecar: path };
      continue;
    }
    if (ctx.include.length && !ctx.include.some((m) => m.match(rel))) continue;
    if (entry.isSymbolicLink()) {
      yield { kind: 'skipped', path, reason: 'is a symbolic link; not followed', code: 'ELOOP', explicit: false };
      continue;
    }
    if (!entry.isFile()) {
      // Sockets, FIFOs and devices are not signable; quietly passed over in a walk, as rsync does with -r.
      continue;
    }
    yield { kind: 'target', path, root, rel, dev: dirDev };
  }
}
