/**
 * Sidecar files: evmctl's `FILE.sig`, holding exactly the bytes of the
 * security.ima value.
 */
import { readSync } from 'node:fs';
import { MAX_VALUE_SIZE } from '../codec/ima-value.js';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import { writeFileAtomic, WriteResult } from './atomic-write.js';
import { openRegularFileIfPresent } from './regular-file.js';

export const DEFAULT_SUFFIX = '.sig';

export function sidecarPathFor(target: string, suffix = DEFAULT_SUFFIX): string {
  return target + suffix;
}

const scratch = Buffer.allocUnsafe(MAX_VALUE_SIZE + 1);

/**
 * Reads a sidecar's bytes; undefined when there is none. Symlinks, FIFOs,
 * devices and oversized files are refused. Synchronous: a few hundred bytes
 * from the page cache, less than the promises an async call costs.
 */
export function readSidecar(path: string): Buffer | undefined {
  let opened;
  try {
    opened = openRegularFileIfPresent(path, 'sidecar');
  } catch (e) {
    // Gone between the lstat and the open: as good as never there.
    if (e instanceof FileError && e.code === 'ENOENT') return undefined;
    throw e;
  }
  if (!opened) return undefined;
  const { handle, stat } = opened;
  try {
    if (stat.size > MAX_VALUE_SIZE) throw new FileError(path, `sidecar is ${stat.size} bytes, larger than the ${MAX_VALUE_SIZE}-byte xattr limit`, 'E2BIG');
    // Read synchronously into one scratch buffer: a sidecar is a few hundred bytes, a
    // thread-pool round trip per read and a zeroed 64 KiB buffer per file cost more than the reads.
    const buf = scratch;
    let total = 0;
    for (;;) {
      const bytesRead = readSync(handle.fd, buf, total, buf.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      // Short of the buffer and exactly the size fstat gave: the end, without a read that returns 0.
      if (total === stat.size && total < buf.length) break;
      if (total > MAX_VALUE_SIZE) throw new FileError(path, `sidecar is larger than the ${MAX_VALUE_SIZE}-byte xattr limit`, 'E2BIG');
    }
    return Buffer.from(buf.subarray(0, total));
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(path, `cannot read sidecar: ${describeSystemError(e)}`, errnoOf(e));
  } finally {
    handle.closeSync();
  }
}

/** As readSidecar, with an unreadable sidecar taken as none (for a value about to be replaced or only reported). */
export function readSidecarOrNothing(path: string): Buffer | undefined {
  try {
    return readSidecar(path);
  } catch {
    return undefined;
  }
}

export async function writeSidecar(path: string, value: Buffer): Promise<WriteResult> {
  return writeFileAtomic(path, value, { what: 'sidecar' });
}
