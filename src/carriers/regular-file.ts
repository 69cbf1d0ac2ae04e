/**
 * Opening a target or sidecar safely: never through a symlink, never blocking
 * on a FIFO, only regular files.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, read, readSync } from 'node:fs';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { fsPath, listedAsRegularFile } from './fs-path.js';

/**
 * A descriptor opened for reading, with the two calls the operations make on
 * it. Lighter than a FileHandle (no event emitter, no close on the thread
 * pool): a tree run opens one per file, and closing a read-only descriptor
 * is immediate.
 */
export class ReadableFile {
  private open = true;
  constructor(readonly fd: number) {}
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
    try {
      closeSync(this.fd);
    } catch {
      /* a read-only descriptor has nothing left to flush */
    }
  }
}

/** What the checks on an open file use of its fstat. */
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
}

/** fstat(fd)'s facts. Throws as fstatSync does. */
export function fileFacts(fd: number): FileFacts {
  return fstatSync(fd);
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
 * refuses it). Paths go through fsPath (held directory, raw bytes). The
 * lstat is left out for a name the walk's listing showed as a regular file
 * (d_type): it would only repeat what the listing said.
 * Synchronous: from the page cache lstat, open and fstat take less time than
 * a thread-pool round trip.
 */
export function openRegularFileSync(path: string, what = 'file'): OpenedFile {
  const opened = openRegularFileIfPresent(path, what);
  if (!opened)
    throw new FileError(path, `cannot open ${what}: ${describeSystemError({ code: 'ENOENT', message: '' })}`, 'ENOENT');
  return opened;
}

/**
 * As openRegularFileSync, but a file that is not there is undefined rather
 * than an error: a missing sidecar is the common case of a tree run.
 */
export function openRegularFileIfPresent(path: string, what = 'file'): OpenedFile | undefined {
  let fd: number;
  try {
    if (!listedAsRegularFile(path)) {
      const pre = lstatSync(fsPath(path), { throwIfNoEntry: false });
      if (!pre) return undefined;
      if (pre.isSymbolicLink()) throw new FileError(path, `${what} is a symbolic link; not followed`, 'ELOOP');
      if (!pre.isFile()) throw notRegular(path, what, pre);
    }
    fd = openSync(fsPath(path), OPEN_FLAGS);
  } catch (e) {
    if (e instanceof FileError) throw e;
    return openFailure(path, what, e);
  }
  const handle = new ReadableFile(fd);
  try {
    const stat = fileFacts(fd);
    if (!isRegular(stat)) throw notRegular(path, what, stat);
    return { handle, stat };
  } catch (e) {
    handle.closeSync();
    if (e instanceof FileError) throw e;
    throw new FileError(path, `cannot stat ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * An open that failed: nothing there (gone since the lstat or the listing: as
 * good as never there), a symlink, or the error.
 */
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
 */
export function readSmallFileIfPresent(
  path: string,
  what: string,
  buffer: Buffer,
): { readonly length: number; readonly stat: FileFacts } | undefined {
  const opened = openRegularFileIfPresent(path, what);
  if (!opened) return undefined;
  const { handle, stat } = opened;
  try {
    let length = 0;
    // Up to the size fstat gave: no last read that returns 0.
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

/**
 * Device and inode of what `path` names now, without following a symlink;
 * undefined when nothing can be found there.
 */
export function currentIdentity(path: string): { readonly dev: number; readonly ino: number } | undefined {
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
