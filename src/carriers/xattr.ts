/**
 * The one module that makes xattr calls, always on a descriptor of a file we
 * opened with O_NOFOLLOW and checked, so no symlink swapped in meanwhile can
 * redirect a call. With our native calls (carriers/descriptor-calls.ts) that is
 * fgetxattr/fsetxattr/fremovexattr: 2-3 us a call where fs-xattr through
 * /proc/PID/fd/N took 13-25 (resolving the magic link, two getxattr per read,
 * an exception per missing attribute), and "create only" is atomic.
 * Without them, fs-xattr: it works on paths, follows symlinks and has no
 * flags or fd calls, so every call goes through /proc/PID/fd/N
 * (descriptorPath): the kernel resolves that magic link to the very inode we
 * checked.
 *
 * Calls are synchronous, because fs-xattr 0.4's asynchronous ones leak
 * (LinusU/fs-xattr#47: the napi_async_work is never deleted, and getAttribute
 * never frees its value copy). Measured by bench/xattr-leak.js, 100,000 calls
 * on ext4, RSS growth after GC: getAttribute +89 MiB (~930 B/call),
 * setAttribute +44 MiB (~460 B/call), both linear in the call count (300,000
 * calls: +220 MiB, +123 MiB); getAttributeSync and setAttributeSync under
 * 3 MiB, the same at 300,000 calls (no growth per call). The sync calls are
 * also 6-10x faster (0.7-1.3 s against 6.5-8.4 s per 100,000 calls): the
 * syscall takes microseconds, less than a thread-pool round trip.
 */
import type * as FsXattr from 'fs-xattr';
import { FileError, errnoOf } from '../errors.js';
import { descriptorPath } from './fs-path.js';
import { errnoName, descriptorCalls, packageRequire } from './descriptor-calls.js';

export const DEFAULT_XATTR = 'security.ima';

let fsXattrModule: typeof FsXattr | undefined;

/** fs-xattr, loaded at the first call that needs it: with the native calls, never (its load was ~9 ms of every start). */
function fsXattr(): typeof FsXattr {
  return (fsXattrModule ??= packageRequire('fs-xattr') as typeof FsXattr);
}

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
  const native = descriptorCalls();
  let code: string | undefined;
  if (native) {
    const r = native.get(fd, name);
    if (typeof r !== 'number') return r;
    code = errnoName(r);
  } else {
    try {
      return quietly(() => fsXattr().getAttributeSync(descriptorPath(fd), name));
    } catch (e) {
      code = errnoOf(e);
    }
  }
  if (isMissing(code)) return undefined;
  throw new XattrError(path, xattrReason(code, name, fsName, 'read'), code);
}

/** Writes the attribute, replacing any value it had. */
export function setXattrFd(fd: number, path: string, name: string, value: Buffer, fsName: string): void {
  const native = descriptorCalls();
  let code: string | undefined;
  if (native) {
    const r = native.set(fd, name, value, 0);
    if (r === 0) return;
    code = errnoName(r);
  } else {
    try {
      fsXattr().setAttributeSync(descriptorPath(fd), name, value);
      return;
    } catch (e) {
      code = errnoOf(e);
    }
  }
  throw new XattrError(path, xattrReason(code, name, fsName, 'write'), code);
}

/**
 * Writes the attribute only if the file has none: false, and nothing
 * written, when it has one. Atomic with the native calls (XATTR_CREATE), so a
 * value another process wrote after we looked is never replaced unseen; with
 * fs-xattr a read and then a write.
 */
export function createXattrFd(fd: number, path: string, name: string, value: Buffer, fsName: string): boolean {
  const native = descriptorCalls();
  if (!native) {
    if (getXattrFd(fd, path, name, fsName) !== undefined) return false;
    setXattrFd(fd, path, name, value, fsName);
    return true;
  }
  const r = native.set(fd, name, value, native.XATTR_CREATE);
  if (r === 0) return true;
  const code = errnoName(r);
  if (code === 'EEXIST') return false;
  throw new XattrError(path, xattrReason(code, name, fsName, 'write'), code);
}

/** Removes the attribute; false when there was none. */
export function removeXattrFd(fd: number, path: string, name: string, fsName: string): boolean {
  const native = descriptorCalls();
  let code: string | undefined;
  if (native) {
    const r = native.remove(fd, name);
    if (r === 0) return true;
    code = errnoName(r);
  } else {
    try {
      quietly(() => fsXattr().removeAttributeSync(descriptorPath(fd), name));
      return true;
    } catch (e) {
      code = errnoOf(e);
    }
  }
  if (isMissing(code)) return false;
  throw new XattrError(path, xattrReason(code, name, fsName, 'remove'), code);
}
