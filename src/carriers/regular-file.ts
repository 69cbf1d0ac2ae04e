/**
 * Opening a target or sidecar safely: never through a symlink, never blocking
 * on a FIFO, only regular files.
 */
import { constants, Stats } from 'node:fs';
import { FileHandle, open } from 'node:fs/promises';
import { FileError, describeSystemError, errnoOf } from '../errors.js';

export interface OpenedFile {
  readonly handle: FileHandle;
  readonly stat: Stats;
}

export function fileKind(st: Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/**
 * Opens a regular file for reading. O_NOFOLLOW refuses a symlink in the last
 * component; O_NONBLOCK keeps a FIFO from hanging the open (it is then refused
 * by the fstat check).
 */
export async function openRegularFile(path: string, what = 'file'): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ELOOP') throw new FileError(path, `${what} is a symbolic link; not followed`, code);
    throw new FileError(path, `cannot open ${what}: ${describeSystemError(e)}`, code);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new FileError(path, `${what} is a ${fileKind(stat)}, not a regular file`, 'EINVAL');
    return { handle, stat };
  } catch (e) {
    await handle.close().catch(() => {});
    if (e instanceof FileError) throw e;
    throw new FileError(path, `cannot stat ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
}

/** Device, inode, size and mtime: enough to notice that a file changed under us. */
export function sameFileVersion(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}
