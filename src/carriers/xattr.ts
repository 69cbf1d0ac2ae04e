/**
 * The one module that makes xattr calls: fs-xattr's synchronous calls on
 * /proc/self/fd/N of a file we opened with O_NOFOLLOW and checked. fs-xattr
 * works on paths and follows symlinks; the kernel resolves that magic link to
 * the very inode we checked, so no symlink swapped in meanwhile can redirect
 * a call.
 *
 * Synchronous, because fs-xattr 0.4's asynchronous calls leak memory on every
 * call (LinusU/fs-xattr#47; bench/xattr-leak.js measures it) and the system
 * call takes less than a thread-pool round trip.
 *
 * fs-xattr has no XATTR_CREATE/XATTR_REPLACE flags: "create only" is a read
 * and then a write, not atomic against another writer of the same file's
 * attribute (docs/security.md).
 */
import { getAttributeSync, removeAttributeSync, setAttributeSync } from 'fs-xattr';
import { FileError, errnoOf } from '../errors.js';
import { descriptorPath } from './fs-path.js';

export const DEFAULT_XATTR = 'security.ima';

export class XattrError extends FileError {}

export function isUnsupported(code: string | undefined): boolean {
  return code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

/** A reason a person can act on, for an errno from an xattr call. */
export function xattrReason(
  code: string | undefined,
  name: string,
  fsName: string,
  op: 'read' | 'write' | 'remove',
): string {
  switch (code) {
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return `filesystem ${fsName} does not support extended attributes`;
    case 'EPERM':
    case 'EACCES':
      if (name.startsWith('security.') && op !== 'read')
        return `permission denied: writing ${name} needs CAP_SYS_ADMIN (run as root, or use --xattr user.ima)`;
      if (name.startsWith('user.') && op !== 'read')
        return `permission denied: cannot write ${name} (not the file's owner, or no write access)`;
      return `permission denied (${code})`;
    case 'EROFS':
      return 'read-only filesystem (EROFS)';
    case 'ENOSPC':
    case 'EDQUOT':
      return `no space left for the extended attribute (${code})`;
    case 'E2BIG':
    case 'ERANGE':
      return `value too large for this filesystem's extended attributes (${code})`;
    case 'EINVAL':
      return 'the kernel refused the value (EINVAL; IMA may be refusing its hash algorithm)';
    default:
      return `${op} of ${name} failed (${code ?? 'unknown error'})`;
  }
}

/**
 * Runs an fs-xattr call whose errors are answers (ENODATA: no such
 * attribute) without a stack trace on the error it throws: a file without
 * the attribute is the common case of a tree run, and the trace was a third
 * of the call's cost. Nothing here reads those traces.
 */
function quietly<T>(call: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return call();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

const isMissing = (code: string | undefined): boolean => code === 'ENODATA' || code === 'ENOATTR';

/** Reads the attribute of the open file; undefined when it has none. Throws XattrError (EOPNOTSUPP included). */
export function getXattrFd(fd: number, path: string, name: string, fsName: string): Buffer | undefined {
  try {
    return quietly(() => getAttributeSync(descriptorPath(fd), name));
  } catch (e) {
    const code = errnoOf(e);
    if (isMissing(code)) return undefined;
    throw new XattrError(path, xattrReason(code, name, fsName, 'read'), code);
  }
}

/** Writes the attribute, replacing any value it had. */
export function setXattrFd(fd: number, path: string, name: string, value: Buffer, fsName: string): void {
  try {
    setAttributeSync(descriptorPath(fd), name, value);
  } catch (e) {
    const code = errnoOf(e);
    throw new XattrError(path, xattrReason(code, name, fsName, 'write'), code);
  }
}

/**
 * Writes the attribute only if the file has none: false, and nothing
 * written, when it has one. A read and then a write (see the top of this file).
 */
export function createXattrFd(fd: number, path: string, name: string, value: Buffer, fsName: string): boolean {
  if (getXattrFd(fd, path, name, fsName) !== undefined) return false;
  setXattrFd(fd, path, name, value, fsName);
  return true;
}

/** Removes the attribute; false when there was none. */
export function removeXattrFd(fd: number, path: string, name: string, fsName: string): boolean {
  try {
    quietly(() => removeAttributeSync(descriptorPath(fd), name));
    return true;
  } catch (e) {
    const code = errnoOf(e);
    if (isMissing(code)) return false;
    throw new XattrError(path, xattrReason(code, name, fsName, 'remove'), code);
  }
}
