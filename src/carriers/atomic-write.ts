/**
 * Writing a file so that readers see the old bytes or the new, never a mix:
 * a temporary name in the same directory, fdatasync, rename, fsync of the
 * directory. Temporary files in flight are registered, so that a signal
 * handler can remove them, and carry the writer's pid, so a later run can
 * remove those a killed run left behind.
 *
 * A tree run writes thousands of small sidecars, and the flushes were most of
 * `sign -r`'s time (two per file, each waiting for a journal commit): the
 * flushes run on the thread pool, shared by the files waiting at the same
 * time where the filesystem allows (data-flush.ts); elsewhere the directory
 * flush is shared by every file renamed into that directory while it was
 * pending. Each file's write
 * still returns only once its own bytes and its own name are on disk. The
 * small calls (create, write, rename) are synchronous: a thread-pool round
 * trip costs more than they do.
 */
import { closeSync, constants, fsync, lstatSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { encodeFsName, fsDirPath, fsPath } from './fs-path.js';
import { flushNewFile, flushRename, GroupCommit } from './data-flush.js';

export const TEMP_SUFFIX = '.ima-sidecar-tmp';
const TEMP_PATTERN = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.ima-sidecar-tmp$/;

/** Temporary path as named -> as handed to the kernel (resolved when registered, inside the file's operation). */
const inFlight = new Map<string, string | Buffer>();

const NAME_MAX = 255;

/** Temporary names differ by a counter from a random start (O_EXCL catches the rest): one random draw per process, not per file. */
let temporaryCounter = randomBytes(4).readUInt32BE(0);

export function temporaryPathFor(path: string): string {
  temporaryCounter = (temporaryCounter + 1) >>> 0;
  const tail = `.${process.pid}.${temporaryCounter.toString(16).padStart(8, '0')}${TEMP_SUFFIX}`;
  const name = basename(path);
  // Three bytes of UTF-8 at most per UTF-16 unit (an escaped raw byte is one): most names fit without counting.
  if (1 + name.length * 3 + tail.length <= NAME_MAX) return join(dirname(path), `.${name}${tail}`);
  // A long name (a 240-byte file name still has room for `.sig`) must not make the temporary's name too long: shorten its copy of the name.
  let chars = Array.from(name);
  while (chars.length > 1 && encodeFsName(`.${chars.join('')}${tail}`).length > NAME_MAX) chars = chars.slice(0, -1);
  return join(dirname(path), `.${chars.join('')}${tail}`);
}

/** Removes every temporary file this process has in flight (for signal handlers: synchronous). */
export function removeTemporariesSync(): number {
  let n = 0;
  for (const [path, at] of inFlight) {
    try {
      lstatSync(at);
      unlinkSync(at);
      n++;
      inFlight.delete(path);
    } catch {
      // Not there (yet): an open() already handed to the thread pool may still create it, so it stays listed.
    }
  }
  return n;
}

let refusing = false;
/** After an abort: no new temporary file may be started (the ones in flight are swept). */
export function refuseNewTemporaries(): void {
  refusing = true;
}

export function registerTemporary(path: string): void {
  if (refusing) throw new FileError(path, 'interrupted; nothing written', 'EINTR');
  inFlight.set(path, fsPath(path));
}
export function unregisterTemporary(path: string): void {
  inFlight.delete(path);
}

/** For a name in a directory listing: the pid that wrote it, if it is one of our temporaries. */
export function temporaryOwner(name: string): { target: string; pid: number } | undefined {
  const m = TEMP_PATTERN.exec(name);
  return m ? { target: m[1]!, pid: Number(m[2]) } : undefined;
}

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

function onPool(flush: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => void, fd: number): Promise<void> {
  return new Promise((resolve, reject) => flush(fd, (e) => (e ? reject(e) : resolve())));
}

async function fsyncDirectoryNow(dir: string | Buffer): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return; // the rename is done and atomic; a directory we cannot open cannot be flushed either
  }
  try {
    await onPool(fsync, fd);
  } catch {
    // Some filesystems (FUSE among them) refuse fsync on a directory; the rename is still atomic.
  } finally {
    closeSync(fd);
  }
}

/** Directory flushes by directory, each shared by every rename made into it while one was pending. */
const directoryFlushes = new Map<string, GroupCommit<string | Buffer>>();

function fsyncDirectory(dir: string | Buffer): Promise<void> {
  const key = typeof dir === 'string' ? dir : dir.toString('latin1');
  let flushes = directoryFlushes.get(key);
  if (!flushes) {
    flushes = new GroupCommit(fsyncDirectoryNow, () => directoryFlushes.delete(key));
    directoryFlushes.set(key, flushes);
  }
  return flushes.join(dir);
}

/** Makes a rename into the directory of `path` durable (one flush shared by the renames made meanwhile). */
export function syncDirectoryOf(path: string): Promise<void> {
  return fsyncDirectory(fsDirPath(path));
}

export interface WriteResult {
  /** The destination existed (and was a regular file) before. */
  readonly replaced: boolean;
}

/**
 * Whether `path` holds a regular file that a write will replace; throws for
 * anything else there (a symlink is never written through).
 */
export async function existingRegularFile(path: string, what: string): Promise<boolean> {
  try {
    // No exception for the common case, a new file: throwing one costs five times the lstat.
    const st = lstatSync(fsPath(path), { throwIfNoEntry: false });
    if (!st) return false;
    if (st.isSymbolicLink()) throw new FileError(path, `${what} is a symbolic link; not written through`, 'ELOOP');
    if (!st.isFile()) throw new FileError(path, `${what} exists and is not a regular file`, 'EEXIST');
    return true;
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(path, `cannot stat ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
}

/**
 * Writes `bytes` to `path` atomically. Refuses to replace anything but a
 * regular file (a symlink at `path` is reported, never written through).
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
  opts: { mode?: number; what?: string } = {},
): Promise<WriteResult> {
  const what = opts.what ?? 'file';
  const replaced = await existingRegularFile(path, what);
  const tmp = temporaryPathFor(path);
  const tmpAt = fsPath(tmp);
  registerTemporary(tmp);
  let fd: number | undefined;
  try {
    fd = openSync(
      tmpAt,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      opts.mode ?? 0o644,
    );
    for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
    await flushNewFile(fd, dirname(path));
    renameSync(tmpAt, fsPath(path));
    unregisterTemporary(tmp);
  } catch (e) {
    try {
      if (fd !== undefined) closeSync(fd);
    } catch {
      /* the write already failed; that error is the one to report */
    }
    try {
      unlinkSync(tmpAt);
    } catch {
      /* not created, or already gone */
    }
    unregisterTemporary(tmp);
    throw new FileError(path, `cannot write ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
  // Kept open until the name is durable too: a shared flush goes through a descriptor on the filesystem.
  try {
    await flushRename(fd, dirname(path), () => syncDirectoryOf(path));
  } finally {
    closeSync(fd);
  }
  return { replaced };
}
