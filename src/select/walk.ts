/**
 * Turning the user's paths into a stream of targets, in a stable order
 * (sorted by byte order of names, depth first), holding one directory listing
 * per level in memory and never following a symlink.
 *
 * A path `X.sig` stands for its target `X`; a sidecar whose target is missing
 * is an orphan; symlinks and special files are reported and skipped.
 */
import { fstatSync, lstatSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { Minimatch } from 'minimatch';
import { describeSystemError, errnoOf } from '../errors.js';
import { temporaryOwner, processAlive } from '../carriers/atomic-write.js';
import { fileKind } from '../carriers/regular-file.js';
import { fsPath, PinnedDir } from '../carriers/fs-path.js';
import { expandOperands } from './operands.js';
import {
  EntryType,
  FOLDER_FLAGS,
  FolderListing,
  listFolder,
  openSubfolder,
  pathThrough,
} from '../carriers/folder-listing.js';

export interface SelectOptions {
  readonly recursive?: boolean;
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly oneFileSystem?: boolean;
  readonly suffix: string;
  /**
   * Told about temporary files a killed run left behind (their writer is dead),
   * with the path to remove it by (through the directory the walk holds open); synchronous.
   */
  readonly onStaleTemporary?: (path: string, at: string | Buffer) => void;
  /**
   * Give each target the directory it was found in, held open (see carriers/fs-path.ts);
   * paths in it resolve through it (carriers/fs-path.ts) until the consumer releases it.
   */
  readonly pinDirectories?: boolean;
}

export type Selected =
  /** A regular file to work on. `root` is the argument it was found under. */
  | {
      readonly kind: 'target';
      readonly path: string;
      readonly root: string;
      readonly rel: string;
      readonly dev: number;
      readonly pinned?: PinnedDir;
    }
  /** A sidecar whose file is missing. `path` is the missing target. */
  | { readonly kind: 'orphan'; readonly path: string; readonly sidecar: string; readonly explicit: boolean }
  /** Something that cannot be a target, with the reason. */
  | {
      readonly kind: 'skipped';
      readonly path: string;
      readonly reason: string;
      readonly code?: string;
      readonly explicit: boolean;
    };

function matchers(patterns: readonly string[] | undefined): Minimatch[] {
  // A pattern without a slash matches a name at any depth, as in rsync and .gitignore.
  return (patterns ?? []).map((p) => new Minimatch(p, { dot: true, matchBase: !p.includes('/') }));
}

/** Joins without normalising, so a path stays as the user gave it (`./boot/` + `a` is `./boot/a`). */
function joinAsGiven(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** Whether the last component of `p` is a sidecar name: NAME + suffix with a non-empty NAME. */
function isSidecarName(p: string, suffix: string): boolean {
  return p.endsWith(suffix) && basename(p).length > suffix.length;
}

/**
 * Synchronous, like every call it makes: a listing, an open or an lstat from
 * the page cache takes microseconds, less than the promise an asynchronous
 * generator costs per entry (the runner gives the event loop its turns).
 */
export function* selectFiles(paths: readonly string[], opts: SelectOptions): Generator<Selected> {
  const include = matchers(opts.include);
  const exclude = matchers(opts.exclude);
  const suffix = opts.suffix;
  const seen = new Set<string>();

  for (const operand of expandOperands(paths)) {
    if (operand.kind === 'no-match') {
      yield {
        kind: 'skipped',
        path: operand.pattern,
        reason: 'no file matches the pattern',
        code: 'ENOENT',
        explicit: true,
      };
      continue;
    }
    const arg = operand.path;
    let st;
    try {
      st = lstatSync(fsPath(arg));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' && isSidecarName(arg, suffix)) {
        yield { kind: 'skipped', path: arg, reason: 'no such file or directory', code: 'ENOENT', explicit: true };
        continue;
      }
      yield { kind: 'skipped', path: arg, reason: describeSystemError(e), code: errnoOf(e), explicit: true };
      continue;
    }
    if (st.isDirectory()) {
      if (!opts.recursive) {
        yield {
          kind: 'skipped',
          path: arg,
          reason: 'is a directory (use -r to descend)',
          code: 'EISDIR',
          explicit: true,
        };
        continue;
      }
      let fd: number;
      try {
        fd = openSync(fsPath(arg), FOLDER_FLAGS);
      } catch (e) {
        yield {
          kind: 'skipped',
          path: arg,
          reason:
            'cannot open directory: ' +
            `${errnoOf(e) === 'ELOOP' ? 'is a symbolic link; not followed' : describeSystemError(e)}`,
          code: errnoOf(e),
          explicit: true,
        };
        continue;
      }
      const dir = new PinnedDir(fd, joinAsGiven(arg, 'x'));
      let dev: number;
      try {
        dev = fstatSync(fd).dev;
      } catch (e) {
        dir.release();
        yield {
          kind: 'skipped',
          path: arg,
          reason: `cannot read directory: ${describeSystemError(e)}`,
          code: errnoOf(e),
          explicit: true,
        };
        continue;
      }
      yield* walkDirectory(arg, arg, dir, '', dev, { include, exclude, suffix, opts });
      continue;
    }
    // A sidecar given by name stands for its target (`dir/.sig` is a file named .sig, not a sidecar of `dir/`).
    let target = arg;
    if (isSidecarName(arg, suffix) && st.isFile()) {
      target = arg.slice(0, -suffix.length);
      let tst;
      try {
        tst = lstatSync(fsPath(target));
      } catch {
        yield { kind: 'orphan', path: target, sidecar: arg, explicit: true };
        continue;
      }
      if (seen.has(target)) continue;
      seen.add(target);
      if (!tst.isFile()) {
        yield {
          kind: 'skipped',
          path: target,
          reason: tst.isSymbolicLink()
            ? 'is a symbolic link; not followed'
            : `is a ${fileKind(tst)}, not a regular file`,
          code: tst.isSymbolicLink() ? 'ELOOP' : 'EINVAL',
          explicit: true,
        };
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
      yield {
        kind: 'skipped',
        path: arg,
        reason: `is a ${fileKind(st)}, not a regular file`,
        code: 'EINVAL',
        explicit: true,
      };
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

/**
 * Lists `dir` (held open as `pinned`, whose reference this call owns and
 * releases) and yields what is in it, depth first. Subdirectories are opened
 * through /proc/self/fd/N/NAME of this one with O_NOFOLLOW, never by their
 * whole path, so a directory swapped for a symlink mid-walk is not followed.
 * Names are read as bytes and decoded losslessly (decodeFsName), so a name
 * that is not UTF-8 is listed, sorted by its bytes and can be opened.
 * Opening, fstat and listing are synchronous: from the page cache they take
 * tens of microseconds, while each thread-pool round trip left the runner
 * without new files at every folder boundary.
 */
function* walkDirectory(
  root: string,
  dir: string,
  pinned: PinnedDir,
  relDir: string,
  dirDev: number,
  ctx: WalkContext,
  rootDev = dirDev,
): Generator<Selected> {
  try {
    let listing: FolderListing;
    try {
      listing = listFolder(pinned.fdPath);
    } catch (e) {
      yield {
        kind: 'skipped',
        path: dir,
        reason: `cannot read directory: ${describeSystemError(e)}`,
        code: errnoOf(e),
        explicit: true,
      };
      return;
    }
    const { names, raw, types } = listing;
    const listed = new Set(names);
    const regularFiles = new Set<string>();
    for (let i = 0; i < names.length; i++) if (types[i] === EntryType.RegularFile) regularFiles.add(names[i]!);
    pinned.regularFiles = regularFiles;
    const { suffix, include, exclude } = ctx;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const type = types[i]!;
      const path = joinAsGiven(dir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      if (exclude.length && exclude.some((m) => m.match(rel))) continue;
      const temp = temporaryOwner(name);
      if (temp) {
        if (!processAlive(temp.pid)) ctx.opts.onStaleTemporary?.(path, pathThrough(pinned.fdPath, raw[i]!));
        continue;
      }
      if (type === EntryType.Directory) {
        let sub: { fd: number; dev: number };
        try {
          sub = openSubfolder(pinned.fdPath, raw[i]!);
        } catch (e) {
          if (errnoOf(e) === 'ELOOP')
            yield { kind: 'skipped', path, reason: 'is a symbolic link; not followed', code: 'ELOOP', explicit: false };
          else
            yield {
              kind: 'skipped',
              path,
              reason: `cannot open directory: ${describeSystemError(e)}`,
              code: errnoOf(e),
              explicit: true,
            };
          continue;
        }
        const subDir = new PinnedDir(sub.fd, joinAsGiven(path, 'x'));
        if (ctx.opts.oneFileSystem && sub.dev !== rootDev) {
          subDir.release();
          continue;
        }
        yield* walkDirectory(root, path, subDir, rel, sub.dev, ctx, rootDev);
        continue;
      }
      if (name.endsWith(suffix) && name.length > suffix.length) {
        const targetName = name.slice(0, -suffix.length);
        if (listed.has(targetName)) continue; // its target is listed and covers it
        const targetRel = relDir ? `${relDir}/${targetName}` : targetName;
        // An orphan is news about its (missing) target: the target's name decides, for include and exclude alike.
        if (include.length && !include.some((m) => m.match(targetRel))) continue;
        if (exclude.some((m) => m.match(targetRel))) continue;
        if (type === EntryType.SymbolicLink) {
          yield {
            kind: 'skipped',
            path,
            reason: 'sidecar is a symbolic link; not followed',
            code: 'ELOOP',
            explicit: false,
          };
          continue;
        }
        yield { kind: 'orphan', path: joinAsGiven(dir, targetName), sidecar: path, explicit: false };
        continue;
      }
      if (include.length && !include.some((m) => m.match(rel))) continue;
      if (type === EntryType.SymbolicLink) {
        yield { kind: 'skipped', path, reason: 'is a symbolic link; not followed', code: 'ELOOP', explicit: false };
        continue;
      }
      // Sockets, FIFOs and devices are not signable; quietly passed over in a walk, as rsync does with -r.
      if (type !== EntryType.RegularFile) continue;
      yield ctx.opts.pinDirectories
        ? { kind: 'target', path, root, rel, dev: dirDev, pinned: pinned.retain() }
        : { kind: 'target', path, root, rel, dev: dirDev };
    }
  } finally {
    pinned.release();
  }
}
