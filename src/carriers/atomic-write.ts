/**
 * Writing a file so that readers see the old bytes or the new, never a mix:
 * a temporary name in the same directory, fsync, rename, fsync of the directory.
 * Temporary files in flight are registered, so that a signal handler can
 * remove them, and carry the writer's pid, so a later run can remove those a
 * killed run left behind.
 */
import { constants, lstatSync, unlinkSync } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { encodeFsName, fsDirPath, fsPath } from './fs-path.js';

export const TEMP_SUFFIX = '.ima-sidecar-tmp';
const TEMP_PATTERN = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.ima-sidecar-tmp$/;

/** Temporary path as named -> as handed to the kernel (resolved when registered, inside the file's operation). */
const inFlight = new Map<string, string | Buffer>();

const NAME_MAX = 255;

export function temporaryPathFor(path: string): string {
  const tail = `.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  // A long name (a 240-byte file name still has room for `.sig`) must not make the temporary's name too long: shorten its copy of the name.
  let chars = Array.from(basename(path));
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

async function fsyncDirectory(dir: string | Buffer): Promise<void> {
  try {
    const h = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Some filesystems (FUSE among them) refuse fsync on a directory; the rename is still atomic.
  }
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
    const st = await lstat(fsPath(path));
    if (st.isSymbolicLink()) throw new FileError(path, `${what} is a symbolic link; not written through`, 'ELOOP');
    if (!st.isFile()) throw new FileError(path, `${what} exists and is not a regular file`, 'EEXIST');
    return true;
  } catch (e) {
    if (e instanceof FileError) throw e;
    if (errnoOf(e) !== 'ENOENT') throw new FileError(path, `cannot stat ${what}: ${describeSystemError(e)}`, errnoOf(e));
    return false;
  }
}

/**
 * Writes `bytes` to `path` atomically. Refuses to replace anything but a
 * regular file (a symlink at `path` is reported, never written through).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, opts: { mode?: number; what?: string } = {}): Promise<WriteResult> {
  const what = opts.what ?? 'file';
  const replaced = await existingRegularFile(path, what);
  const tmp = temporaryPathFor(path);
  const tmpAt = fsPath(tmp);
  registerTemporary(tmp);
  try {
    const h = await open(tmpAt, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, opts.mode ?? 0o644);
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmpAt, fsPath(path));
    unregisterTemporary(tmp);
  } catch (e) {
    await unlink(tmpAt).catch(() => {});
    unregisterTemporary(tmp);
    throw new FileError(path, `cannot write ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
  await fsyncDirectory(fsDirPath(path));
  return { replaced };
}
