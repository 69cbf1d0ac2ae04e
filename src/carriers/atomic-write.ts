/**
 * The one atomic writer, for sidecars, rewritten files with appended
 * signatures and migrate's copies: readers see the old file or the new, never
 * a mix. A temporary name in the same directory, the content, mode and times,
 * then (beforeRename) whatever must be set on the finished file, such as its
 * xattr; fsync, rename, fsync of the directory. A failed or rolled-back write
 * removes its own temporary; temporary names carry the writer's pid, so that
 * a later run can remove those a killed run left behind.
 *
 * The flushes run on the thread pool; a directory's flush is shared by every
 * file renamed into it while one was pending (group-commit.ts). Each write
 * still returns only once its own bytes and its own name are on disk. The
 * small calls (create, write, rename) are synchronous: a thread-pool round
 * trip costs more than they do.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsync,
  futimesSync,
  lstatSync,
  openSync,
  renameSync,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { encodeFsName, fsDirPath, fsPath } from './fs-path.js';
import { GroupCommit } from './group-commit.js';

export const TEMP_SUFFIX = '.ima-sidecar-tmp';
const TEMP_PATTERN = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.ima-sidecar-tmp$/;

const NAME_MAX = 255;

/**
 * Temporary names differ by a counter from a random start (O_EXCL catches the
 * rest): one random draw per process, not per file.
 */
let temporaryCounter = randomBytes(4).readUInt32BE(0);

export function temporaryPathFor(path: string): string {
  temporaryCounter = (temporaryCounter + 1) >>> 0;
  const tail = `.${process.pid}.${temporaryCounter.toString(16).padStart(8, '0')}${TEMP_SUFFIX}`;
  const name = basename(path);
  // Three bytes of UTF-8 at most per UTF-16 unit (an escaped raw byte is one): most names fit without counting.
  if (1 + name.length * 3 + tail.length <= NAME_MAX) return join(dirname(path), `.${name}${tail}`);
  // A long name (a 240-byte file name still has room for `.sig`) must not make the temporary's name
  // too long: shorten its copy of the name.
  let chars = Array.from(name);
  while (chars.length > 1 && encodeFsName(`.${chars.join('')}${tail}`).length > NAME_MAX) chars = chars.slice(0, -1);
  return join(dirname(path), `.${chars.join('')}${tail}`);
}

function interrupted(path: string): FileError {
  return new FileError(path, 'interrupted; nothing written', 'EINTR');
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

function fsyncOnPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

async function fsyncDirectoryNow(dir: string | Buffer): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch {
    return; // the rename is done and atomic; a directory we cannot open cannot be flushed either
  }
  try {
    await fsyncOnPool(fd);
  } catch {
    // Some filesystems (FUSE among them) refuse fsync on a directory; the rename is still atomic.
  } finally {
    closeSync(fd);
  }
}

/** Directory flushes by directory, each shared by every rename made into it while one was pending. */
const directoryFlushes = new Map<string, GroupCommit<string | Buffer>>();

/** Makes a rename into the directory of `path` durable (one flush shared by the renames made meanwhile). */
export function syncDirectoryOf(path: string): Promise<void> {
  const dir = fsDirPath(path);
  const key = typeof dir === 'string' ? dir : dir.toString('latin1');
  let flushes = directoryFlushes.get(key);
  if (!flushes) {
    flushes = new GroupCommit(fsyncDirectoryNow, () => directoryFlushes.delete(key));
    directoryFlushes.set(key, flushes);
  }
  return flushes.join(dir);
}

export interface WriteResult {
  /** The destination existed (and was a regular file) before. */
  readonly replaced: boolean;
}

/**
 * Whether `path` holds a regular file that a write will replace; throws for
 * anything else there (a symlink is never written through).
 */
export function existingRegularFile(path: string, what: string): boolean {
  try {
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

/** The temporary file being filled: its descriptor, and writes that go to its end. */
export interface NewFile {
  readonly fd: number;
  write(bytes: Uint8Array): Promise<void>;
}

export interface AtomicWriteOptions {
  /** What the file is, for messages ("sidecar", "destination"). */
  readonly what?: string;
  /** Permission bits (not subject to the umask); default 0644. */
  readonly mode?: number;
  /** An owner to give the file; only root can, and a failure is ignored. */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /** Access and modification times to give the file. */
  readonly times?: { readonly atime: Date; readonly mtime: Date };
  /**
   * Runs on the finished temporary file, after its content, mode and times,
   * before the flush and rename: the xattr goes here, last, since with IMA
   * active a later change of the file could rewrite security.ima. Throwing
   * aborts the write with nothing replaced.
   */
  readonly beforeRename?: (fd: number) => void | Promise<void>;
  /**
   * Once aborted (a second Ctrl-C), the write is rolled back at its next step
   * (its temporary removed, nothing replaced) and a write not yet begun does
   * not begin. Each file a run started is then finished or rolled back. A
   * write that completes a file already in place (migrate's sidecar for a copy
   * on FAT) is given none: rolling it back would leave a file without its signature.
   */
  readonly rollback?: AbortSignal;
}

/** FAT (vfat refuses some modes; FAT through FUSE answers chmod and chown with ENOSYS) has no permissions to set. */
function noPermissionsHere(e: unknown): boolean {
  const code = errnoOf(e);
  return code === 'ENOSYS' || code === 'EPERM' || code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

/** Runs one step of a write; a failure names the step (a full FAT fails in `write` or `flush`, not vaguely). */
async function step<T>(name: string, run: () => T | Promise<T>, stop: (() => void) | undefined): Promise<T> {
  stop?.();
  try {
    return await run();
  } catch (e) {
    if (e instanceof FileError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err === 'object') err.syscall = name;
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const from = (done: number): void =>
      write(fd, bytes, done, bytes.length - done, null, (e, n) => {
        if (e) reject(e);
        else if (done + n < bytes.length) from(done + n);
        else resolve();
      });
    from(0);
  });
}

/**
 * Writes `path` atomically, its content given as bytes or as a function that
 * fills the new file. Refuses to replace anything but a regular file (a
 * symlink at `path` is reported, never written through); `replaced` says
 * whether a file was there.
 */
export async function writeFileAtomic(
  path: string,
  content: Uint8Array | ((file: NewFile) => Promise<void>),
  opts: AtomicWriteOptions = {},
): Promise<WriteResult> {
  const what = opts.what ?? 'file';
  const replaced = existingRegularFile(path, what);
  const tmp = temporaryPathFor(path);
  const tmpAt = fsPath(tmp);
  const rollback = opts.rollback;
  const stopIfRolledBack = rollback
    ? (): void => {
        if (rollback.aborted) throw interrupted(path);
      }
    : undefined;
  stopIfRolledBack?.();
  let fd: number | undefined;
  try {
    const mode = opts.mode ?? 0o644;
    fd = await step(
      'create',
      () => openSync(tmpAt, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600),
      stopIfRolledBack,
    );
    const file = fd;
    const write = (b: Uint8Array): Promise<void> => {
      // A long copy is rolled back between its chunks, not only between steps.
      stopIfRolledBack?.();
      return writeAll(file, b);
    };
    if (typeof content === 'function') await step('write', () => content({ fd: file, write }), stopIfRolledBack);
    else
      await step(
        'write',
        () => {
          for (let done = 0; done < content.length;) done += writeSync(file, content, done, content.length - done);
        },
        stopIfRolledBack,
      );
    if (opts.owner) {
      const { uid, gid } = opts.owner;
      try {
        fchownSync(file, uid, gid);
      } catch {
        /* only root can give a file away; the copy is still whole */
      }
    }
    await step(
      'chmod',
      () => {
        try {
          fchmodSync(file, mode & 0o7777);
        } catch (e) {
          if (!noPermissionsHere(e)) throw e;
        }
      },
      stopIfRolledBack,
    );
    const times = opts.times;
    if (times) await step('utimes', () => futimesSync(file, times.atime, times.mtime), stopIfRolledBack);
    if (opts.beforeRename) await opts.beforeRename(file);
    await step('flush', () => fsyncOnPool(file), stopIfRolledBack);
    await step('rename', () => renameSync(tmpAt, fsPath(path)), stopIfRolledBack);
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
    if (e instanceof FileError) throw e;
    const syscall = (e as NodeJS.ErrnoException)?.syscall;
    throw new FileError(
      path,
      `cannot write ${what}${syscall ? ` (${syscall})` : ''}: ${describeSystemError(e)}`,
      errnoOf(e),
    );
  }
  closeSync(fd);
  await syncDirectoryOf(path);
  return { replaced };
}
