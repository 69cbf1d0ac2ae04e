/**
 * Sidecar files: evmctl's `FILE.sig`, holding exactly the bytes of the
 * security.ima value.
 */
import { MAX_VALUE_SIZE } from '../codec/ima-value.js';
import { FileError } from '../errors.js';
import { AtomicWriteOptions, writeFileAtomic, WriteResult } from './atomic-write.js';
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
