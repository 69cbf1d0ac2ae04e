/**
 * A target file held open for the length of one operation: every read of its
 * content and every xattr call goes to the same inode, whatever happens to
 * the path meanwhile.
 */
import { FileError } from '../errors.js';
import { descriptorPath } from './fs-path.js';
import { Filesystem, setxattrStoresExactly } from './filesystem.js';
import type { Run } from './run.js';
import {
  currentIdentity,
  FileFacts,
  fileFacts,
  OpenedFile,
  openRegularFileSync,
  sameFileVersion,
} from './regular-file.js';
import { createXattrFd, getXattrFd, isUnsupported, removeXattrFd, setXattrFd, XattrError } from './xattr.js';

export interface Target extends OpenedFile {
  readonly path: string;
  /** Its filesystem, with what the run has learnt of it (shared by every target on the device). */
  readonly fs: Filesystem;
}

/**
 * Opens a regular file (carriers/regular-file.ts) and names its filesystem, as
 * the run knows it. Synchronous: see openRegularFileSync.
 */
export function openTarget(path: string, run: Run): Target {
  const { handle, stat } = openRegularFileSync(path, 'file');
  let fs = run.filesystems.known(stat.dev);
  if (!fs) {
    try {
      fs = run.filesystems.of(descriptorPath(handle.fd), stat.dev);
    } catch (e) {
      handle.closeSync();
      throw e;
    }
  }
  // Spelt out, not `{ ...opened, path, fs }`: V8 (Node 20) builds an object spread followed by more properties
  // slowly, and this runs for every file of a tree (docs/performance.md).
  return { handle, stat, path, fs };
}

export function closeTarget(t: Target): void {
  t.handle.closeSync();
}

/** The attribute's value, or undefined when there is none or the filesystem has no xattrs (then remembered). */
export function readTargetXattr(t: Target, name: string): Buffer | undefined {
  if (t.fs.takesXattrs(name) === false) return undefined;
  try {
    const value = getXattrFd(t.handle.fd, t.path, name, t.fs.name);
    // A read that finds a value, or finds none (ENODATA), shows the namespace is supported.
    t.fs.learnXattrs(name, true);
    return value;
  } catch (e) {
    if (e instanceof XattrError && isUnsupported(e.code)) {
      t.fs.learnXattrs(name, false);
      return undefined;
    }
    throw e;
  }
}

/**
 * What to make sure of before a write: that the content is still the version
 * that was read and checked (the facts taken then: same device, inode, size
 * and mtime) and the path still names the file; or, when the content played
 * no part (a signature imported unverified), only the path ('name').
 */
export type WriteGuard = FileFacts | 'name';

function assertGuard(t: Target, guard: WriteGuard): void {
  if (guard === 'name') assertStillNamed(t, t.stat);
  else assertUnchanged(t, guard);
}

export interface WriteOptions {
  /** replace (the default): whatever value is there; create: only when there is none. */
  readonly mode?: 'replace' | 'create';
  /**
   * Read the value back even where the filesystem's success is known to mean
   * the value is stored (filesystem.ts, setxattrStoresExactly): before
   * something is removed on the strength of it, such as the sidecar it came from.
   */
  readonly confirm?: boolean;
}

/** What an xattr write needs of an open file: a target, or a new file being written (migrate's copy). */
export interface XattrHolder {
  readonly path: string;
  readonly handle: { readonly fd: number };
  readonly fs: Filesystem;
}

/** Writes the attribute after checking the guard: see writeXattr. */
export function writeTargetXattr(
  t: Target,
  name: string,
  value: Buffer,
  guard?: WriteGuard,
  opts: WriteOptions = {},
): boolean {
  if (guard) assertGuard(t, guard);
  return writeXattr(t, name, value, opts);
}

/**
 * The one xattr write: writes the attribute, then reads it back on a
 * filesystem whose success could hide another value, or when asked. Under
 * `create`, only when the file has no value yet: false, and nothing written,
 * when it has one.
 */
export function writeXattr(t: XattrHolder, name: string, value: Buffer, opts: WriteOptions = {}): boolean {
  const known = t.fs.takesXattrs(name);
  if (known === false) {
    throw new XattrError(t.path, `filesystem ${t.fs.name} does not support extended attributes`, 'EOPNOTSUPP');
  }
  const readBack = opts.confirm === true || !setxattrStoresExactly(t.fs.name);
  // Another process writing the same file's attribute between our write and our read-back (two runs
  // on one tree) looks like a bad write; a few attempts tell that from a filesystem that stores
  // something else than it was given, which fails every time. (Under `create`, the next attempt
  // finds the other value and answers false.)
  for (let attempt = 1; ; attempt++) {
    let written: boolean;
    try {
      if (opts.mode === 'create') written = createXattrFd(t.handle.fd, t.path, name, value, t.fs.name);
      else {
        setXattrFd(t.handle.fd, t.path, name, value, t.fs.name);
        written = true;
      }
    } catch (e) {
      throw unsupportedOr(t, name, e);
    }
    // Written, or refused because a value is there: either way the filesystem takes xattrs.
    if (known !== true) t.fs.learnXattrs(name, true);
    if (!written) return false;
    if (!readBack) return true;
    const back = getXattrFd(t.handle.fd, t.path, name, t.fs.name);
    if (back && back.equals(value)) return true;
    if (attempt >= 5) throw new FileError(t.path, `${name} read back differs from what was written`, 'EIO');
  }
}

/**
 * The error to report for a failed write: a filesystem without xattrs, when
 * it is one. The kernel checks permission before it asks the filesystem, so
 * writing security.ima unprivileged on FAT fails with EPERM, not EOPNOTSUPP;
 * a read (which needs no privilege) then tells which it is.
 */
function unsupportedOr(t: XattrHolder, name: string, e: unknown): unknown {
  if (!(e instanceof XattrError)) return e;
  if (isUnsupported(e.code)) {
    t.fs.learnXattrs(name, false);
    return e;
  }
  if (t.fs.takesXattrs(name) !== undefined) return e;
  try {
    getXattrFd(t.handle.fd, t.path, name, t.fs.name);
    t.fs.learnXattrs(name, true);
  } catch (probe) {
    if (probe instanceof XattrError && isUnsupported(probe.code)) {
      t.fs.learnXattrs(name, false);
      return probe;
    }
  }
  return e;
}

export function removeTargetXattr(t: Target, name: string, guard?: WriteGuard): boolean {
  if (guard) assertGuard(t, guard);
  return removeXattrFd(t.handle.fd, t.path, name, t.fs.name);
}

/** The path still names the open file, and the file did not change since `before`. */
export function assertUnchanged(t: Target, before: FileFacts): void {
  const now = fileFacts(t.handle.fd);
  if (!sameFileVersion(before, now))
    throw new FileError(t.path, 'file changed while it was being processed; nothing written', 'ECHANGED');
  assertStillNamed(t, now);
}

/** The path still names the open file (`open`: its device and inode). */
function assertStillNamed(t: Target, open: { readonly dev: number; readonly ino: number }): void {
  const byPath = currentIdentity(t.path);
  if (!byPath)
    throw new FileError(t.path, 'file was removed while it was being processed; nothing written', 'ECHANGED');
  if (byPath.dev !== open.dev || byPath.ino !== open.ino)
    throw new FileError(t.path, 'file was replaced while it was being processed; nothing written', 'ECHANGED');
}
