/**
 * Opening a target or sidecar safely: never through a symlink, never blocking
 * on a FIFO, only regular files.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, read, readSync } from 'node:fs';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { fsPath, heldAt, HeldEntry } from './fs-path.js';
import { descriptorCalls, errnoName, systemError } from './descriptor-calls.js';

/**
 * A descriptor opened for reading, with the two calls the operations make on
 * it. Lighter than a FileHandle (no event emitter, no close on the thread
 * pool): a tree run opens one per file, and closing a read-only descriptor
 * is immediate.
 */
export class ReadableFile {
  private open = true;
  /** `byOpenAt`: opened by our openAt, so closed by our close (Node's warns about those in a worker thread). */
  constructor(
    readonly fd: number,
    private readonly byOpenAt = false,
  ) {}
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) =>
      read(this.fd, buffer, offset, length, position, (e, bytesRead) => (e ? reject(e) : resolve({ bytesRead }))),
    );
  }
  /** Never while a read() is pending: the number could be reused under it. */
  close(): Promise<void> {
    this.closeSync();
    return Promise.resolve();
  }
  closeSync(): void {
    if (!this.open) return;
    this.open = false;
    if (this.byOpenAt) {
      descriptorCalls()?.close(this.fd);
      return;
    }
    try {
      closeSync(this.fd);
    } catch {
      /* a read-only descriptor has nothing left to flush */
    }
  }
}

/** What the checks on an open file use of its fstat (Node's Stats has them too). */
export interface FileFacts {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface OpenedFile {
  readonly handle: ReadableFile;
  readonly stat: FileFacts;
  /** Its name in the held folder it was opened through, if any: later *at() calls on the same name need not look it up again. */
  readonly at?: HeldEntry;
}

/** Where the native calls put an fstat's five facts (and, for readAt, which call failed). */
const facts = new Float64Array(6);

function factsFilled(): FileFacts {
  return { dev: facts[0]!, ino: facts[1]!, mode: facts[2]!, size: facts[3]!, mtimeMs: facts[4]! };
}

/** fstat(fd)'s facts: with the native calls, five numbers rather than a Stats object (and its four Dates). Throws as fstatSync does. */
export function fileFacts(fd: number): FileFacts {
  const native = descriptorCalls();
  if (!native) return fstatSync(fd);
  const errno = native.fstat(fd, facts);
  if (errno !== 0) throw systemError(errno, 'fstat');
  return factsFilled();
}

const KINDS: ReadonlyMap<number, string> = new Map([
  [constants.S_IFREG, 'regular file'],
  [constants.S_IFDIR, 'directory'],
  [constants.S_IFLNK, 'symbolic link'],
  [constants.S_IFIFO, 'FIFO'],
  [constants.S_IFSOCK, 'socket'],
  [constants.S_IFCHR, 'character device'],
  [constants.S_IFBLK, 'block device'],
]);

export function fileKind(st: { readonly mode: number }): string {
  return KINDS.get(st.mode & constants.S_IFMT) ?? 'special file';
}

function isRegular(st: FileFacts): boolean {
  return (st.mode & constants.S_IFMT) === constants.S_IFREG;
}

/** The refusal of something that is not a regular file: what it is instead. */
function notRegular(path: string, what: string, st: { readonly mode: number }): FileError {
  return new FileError(path, `${what} is a ${fileKind(st)}, not a regular file`, 'EINVAL');
}

/**
 * Opens a regular file for reading. An lstat first keeps us from opening a
 * device at all (opening some has effects: a tape rewinds, a watchdog arms);
 * then O_NOFOLLOW refuses a symlink in the last component and O_NONBLOCK keeps
 * a FIFO swapped in meanwhile from hanging the open (the fstat check then
 * refuses it). Paths go through fsPath (pinned directory, raw bytes). The
 * lstat is left out for a name the walk's listing showed as a regular file
 * (d_type, HeldEntry.listedAsRegularFile): it would only repeat what the
 * listing said.
 * Synchronous: from the page cache lstat, open and fstat take microseconds,
 * less than one thread-pool round trip (bench/bench.js, verify -r).
 */
export function openRegularFileSync(path: string, what = 'file'): OpenedFile {
  const opened = openRegularFileIfPresent(path, what);
  if (!opened)
    throw new FileError(path, `cannot open ${what}: ${describeSystemError({ code: 'ENOENT', message: '' })}`, 'ENOENT');
  return opened;
}

/**
 * As openRegularFileSync, but a file that is not there is undefined rather
 * than an error: a missing sidecar is the common case of a tree run, and an
 * exception costs five times the lstat that finds it missing.
 */
export function openRegularFileIfPresent(path: string, what = 'file'): OpenedFile | undefined {
  const at = heldAt(path);
  const native = at ? descriptorCalls() : undefined;
  let fd: number;
  let stat: FileFacts | undefined;
  try {
    if (!at?.listedAsRegularFile) {
      const pre = lstatSync(fsPath(path), { throwIfNoEntry: false });
      if (!pre) return undefined;
      if (pre.isSymbolicLink()) throw new FileError(path, `${what} is a symbolic link; not followed`, 'ELOOP');
      if (!pre.isFile()) throw notRegular(path, what, pre);
    }
    if (native && at) {
      // openat on the held folder's descriptor: the same file as through /proc/PID/fd/N/NAME,
      // without resolving that magic link each time; and its fstat in the same call.
      fd = native.openAt(at.dirfd, at.name, OPEN_FLAGS, facts);
      if (fd < 0) throw systemError(-fd, 'open');
      stat = factsFilled();
    } else {
      fd = openSync(fsPath(path), OPEN_FLAGS);
    }
  } catch (e) {
    if (e instanceof FileError) throw e;
    return openFailure(path, what, e);
  }
  // Ours is closed by our close (see ReadableFile).
  const handle = new ReadableFile(fd, native !== undefined);
  try {
    stat ??= fileFacts(fd);
    if (!isRegular(stat)) throw notRegular(path, what, stat);
    return at ? { handle, stat, at } : { handle, stat };
  } catch (e) {
    handle.closeSync();
    if (e instanceof FileError) throw e;
    throw new FileError(path, `cannot stat ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** An open that failed: nothing there (gone since the lstat or the listing: as good as never there), a symlink, or the error. */
function openFailure(path: string, what: string, e: unknown): undefined {
  const code = errnoOf(e);
  if (code === 'ENOENT') return undefined;
  if (code === 'ELOOP') throw new FileError(path, `${what} is a symbolic link; not followed`, code);
  throw new FileError(path, `cannot open ${what}: ${describeSystemError(e)}`, code);
}

/**
 * Reads a small regular file whole into the start of `buffer`, refusing what
 * openRegularFileIfPresent refuses; undefined when it is not there. A file as
 * large as the buffer or larger is not read (length 0; stat.size tells).
 * Where the walk's listing showed the name as a regular file in a held
 * folder, one native call opens, checks, reads and closes it (a sidecar in a
 * tree run: four calls from JavaScript before).
 */
export function readSmallFileIfPresent(
  path: string,
  what: string,
  buffer: Buffer,
): { readonly length: number; readonly stat: FileFacts } | undefined {
  const at = heldAt(path);
  const native = at?.listedAsRegularFile ? descriptorCalls() : undefined;
  if (native && at) {
    const n = native.readAt(at.dirfd, at.name, OPEN_FLAGS, buffer, facts);
    if (n < 0) {
      const failed = facts[5] === 0 ? 'open' : facts[5] === 1 ? 'stat' : 'read';
      const e = systemError(-n, failed === 'stat' ? 'fstat' : failed);
      if (failed === 'open') return openFailure(path, what, e);
      throw new FileError(path, `cannot ${failed} ${what}: ${describeSystemError(e)}`, errnoName(-n));
    }
    const stat = factsFilled();
    if (!isRegular(stat)) throw notRegular(path, what, stat);
    return { length: n, stat };
  }
  const opened = openRegularFileIfPresent(path, what);
  if (!opened) return undefined;
  const { handle, stat } = opened;
  try {
    let length = 0;
    // Up to the size fstat gave, as readAt: no last read that returns 0.
    while (stat.size < buffer.length && length < stat.size) {
      const n = readSync(handle.fd, buffer, length, stat.size - length, length);
      if (n === 0) break;
      length += n;
    }
    return { length, stat };
  } catch (e) {
    throw new FileError(path, `cannot read ${what}: ${describeSystemError(e)}`, errnoOf(e));
  } finally {
    handle.closeSync();
  }
}

const identity = new Float64Array(2);

/**
 * Device and inode of what `path` names now, without following a symlink;
 * undefined when nothing can be found there. `at`: the path's entry in its
 * held folder, when the caller has it (OpenedFile.at).
 */
export function currentIdentity(
  path: string,
  at: HeldEntry | undefined = undefined,
): { readonly dev: number; readonly ino: number } | undefined {
  const native = descriptorCalls();
  const entry = native ? (at ?? heldAt(path)) : undefined;
  if (native && entry)
    return native.lstatAt(entry.dirfd, entry.name, identity) === 0
      ? { dev: identity[0]!, ino: identity[1]! }
      : undefined;
  try {
    return lstatSync(fsPath(path), { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * Device, inode, size and mtime: enough to notice that a file's content
 * changed under us. Not ctime: every setxattr changes it, so a second run (or
 * an import) writing security.ima on the same file at the same time would make
 * each run refuse the other's files, and chmod, chown or a new hard link do not
 * change what was hashed.
 */
export function sameFileVersion(a: FileFacts, b: FileFacts): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
