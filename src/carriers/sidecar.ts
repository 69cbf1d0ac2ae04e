/**
 * Sidecar files: evmctl's `FILE.sig`, holding exactly the bytes of the
 * security.ima value.
 */
import { accessSync, constants } from 'node:fs';
import { MAX_VALUE_SIZE } from '../codec/ima-value.js';
import { FileError } from '../errors.js';
import { AtomicWriteOptions, writeFileAtomic, WriteResult } from './atomic-write.js';
import { fsPath } from './fs-path.js';
import { readSmallFileIfPresent } from './regular-file.js';

export const DEFAULT_SUFFIX = '.sig';

export function sidecarPathFor(target: string, suffix = DEFAULT_SUFFIX): string {
  return target + suffix;
}

/** Where sidecars are read: one more byte than a value can have, so that a larger sidecar is seen as such. */
const scratch = Buffer.allocUnsafe(MAX_VALUE_SIZE + 1);

/**
 * Reads a sidecar's bytes; undefined when there is none. Symlinks, FIFOs,
 * devices and oversized files are refused. Synchronous: a few hundred bytes
 * from the page cache, less than the promises an async call costs; read into
 * one scratch buffer, not a fresh zeroed one per file.
 */
export function readSidecar(path: string): Buffer | undefined {
  let read;
  try {
    read = readSmallFileIfPresent(path, 'sidecar', scratch);
  } catch (e) {
    // Gone between the lstat and the open: as good as never there.
    if (e instanceof FileError && e.code === 'ENOENT') return undefined;
    if (e instanceof FileError && e.code === 'EACCES') throw unreadableSidecar(path, passesAccessCheck(path));
    throw e;
  }
  if (!read) return undefined;
  const { length, stat } = read;
  if (stat.size > MAX_VALUE_SIZE)
    throw new FileError(
      path,
      `sidecar is ${stat.size} bytes, larger than the ${MAX_VALUE_SIZE}-byte xattr limit`,
      'E2BIG',
    );
  return Buffer.from(scratch.subarray(0, length));
}

/** Whether access(2) lets this process read `path`: the permission bits, ACLs and LSMs' inode checks. */
function passesAccessCheck(path: string): boolean {
  try {
    accessSync(fsPath(path), constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The refusal of a sidecar's open with EACCES. When access(2) allows the read, what refused it acts at
 * open time only: IMA appraisal (a policy covering the sidecar, which carries no signature of its own)
 * or another security module's file_open hook. Otherwise it is plain permissions.
 */
export function unreadableSidecar(path: string, accessAllows: boolean): FileError {
  const why = accessAllows
    ? "permission denied on open although its permissions allow reading it (the kernel's IMA policy may " +
      'cover the sidecar itself: exclude sidecars from it or sign them; or a security module refused it)'
    : 'permission denied (EACCES)';
  return new FileError(path, `cannot read sidecar ${path}: ${why}`, 'EACCES');
}

/** As readSidecar, with an unreadable sidecar taken as none (for a value about to be replaced or only reported). */
export function readSidecarOrNothing(path: string): Buffer | undefined {
  try {
    return readSidecar(path);
  } catch {
    return undefined;
  }
}

export async function writeSidecar(
  path: string,
  value: Buffer,
  opts: Pick<AtomicWriteOptions, 'rollback'> = {},
): Promise<WriteResult> {
  return writeFileAtomic(path, value, { what: 'sidecar', ...opts });
}
