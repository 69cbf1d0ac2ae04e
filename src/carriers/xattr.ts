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
import { readFileSync } from 'node:fs';
import { getAttributeSync, listAttributesSync, removeAttributeSync, setAttributeSync } from 'fs-xattr';
import { FileError, errnoOf } from '../errors.js';
import { capSysAdminFromStatus, evmRefusalReason, EvmXattrState, parseEvmFlags } from '../kernel/evm.js';
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

/** The xattrs EVM protects (evm_main.c's evm_config_default_xattrnames, 6.1) and its own. */
const EVM_PROTECTED = new Set([
  'security.ima',
  'security.evm',
  'security.capability',
  'security.selinux',
  'security.apparmor',
  'security.SMACK64',
  'security.SMACK64EXEC',
  'security.SMACK64TRANSMUTE',
  'security.SMACK64MMAP',
]);

function textOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function evmXattrOf(fd: number): EvmXattrState {
  try {
    quietly(() => getAttributeSync(descriptorPath(fd), 'security.evm'));
    return 'present';
  } catch (e) {
    return isMissing(errnoOf(e)) ? 'absent' : 'unknown';
  }
}

/**
 * The reason for an EPERM on writing or removing a security.* xattr while this process holds
 * CAP_SYS_ADMIN (so not the capability check): EVM, when /sys/kernel/security/evm says a key is loaded,
 * else the other causes the kernel answers EPERM for. Undefined without CAP_SYS_ADMIN (or when it
 * cannot be told): xattrReason's wording holds then. Read at the time of the failure, nothing kept.
 */
function privilegedRefusal(fd: number, name: string, op: 'write' | 'remove'): string | undefined {
  if (!name.startsWith('security.')) return undefined;
  const status = textOrUndefined('/proc/self/status');
  if (status === undefined || capSysAdminFromStatus(status) !== true) return undefined;
  if (EVM_PROTECTED.has(name)) {
    const evm = textOrUndefined('/sys/kernel/security/evm');
    const reason = evm === undefined ? undefined : evmRefusalReason(name, op, parseEvmFlags(evm), evmXattrOf(fd));
    if (reason) return reason;
  }
  return (
    `permission denied (EPERM) although this process has CAP_SYS_ADMIN: the file may be immutable or ` +
    `append-only (lsattr), or a security module or the filesystem refused the ${op}`
  );
}

/** The reason for a failed write or removal: see privilegedRefusal and xattrReason. */
function refusalReason(
  fd: number,
  code: string | undefined,
  name: string,
  fsName: string,
  op: 'write' | 'remove',
): string {
  return (code === 'EPERM' ? privilegedRefusal(fd, name, op) : undefined) ?? xattrReason(code, name, fsName, op);
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
    throw new XattrError(path, refusalReason(fd, code, name, fsName, 'write'), code);
  }
}

/**
 * Writes the attribute only if the file has none: false, and nothing
 * written, when it has one. A look and then a write (see the top of this
 * file). The look is a listing of the file's attribute names, not a read:
 * a read of a missing attribute throws from fs-xattr, and in a tree run,
 * where most files have no value yet, that exception cost more than the two
 * listxattr calls (docs/performance.md). Whoever may read an attribute of
 * the security, trusted or user namespace sees its name listed.
 */
export function createXattrFd(fd: number, path: string, name: string, value: Buffer, fsName: string): boolean {
  let names: string[];
  try {
    names = listAttributesSync(descriptorPath(fd));
  } catch (e) {
    const code = errnoOf(e);
    throw new XattrError(path, xattrReason(code, name, fsName, 'read'), code);
  }
  if (names.includes(name)) return false;
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
    throw new XattrError(path, refusalReason(fd, code, name, fsName, 'remove'), code);
  }
}
