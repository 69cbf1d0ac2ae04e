/**
 * What the kernel knows of a file when it appraises it, found out without
 * opening it for reading (which would itself be an appraisal): an O_PATH
 * descriptor gives fstat, statfs and the xattrs. Its superblock's type name
 * comes from /proc/self/mountinfo, its UUID from /dev/disk/by-uuid for the
 * filesystems whose superblock UUID is the one on disk. Symbolic links are
 * followed, as the kernel follows them when it opens or executes a file.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { decodeFsName, descriptorPath, fsPath } from '../carriers/fs-path.js';
import { filesystemName } from '../carriers/filesystem.js';
import { getXattrFd, isUnsupported, XattrError } from '../carriers/xattr.js';
import { FileError, describeSystemError, errnoOf } from '../errors.js';
import type { EvmFact, VerdictFile } from './verdict.js';

/** O_PATH (Linux): a descriptor for fstat, statfs and xattrs that neither reads nor appraises the file. */
const O_PATH = 0o10000000;

/** Filesystems without xattr handlers (no IOP_XATTR): the kernel has no value to read there at all. */
const NO_XATTR_HANDLERS = new Set([
  0x4d44, // vfat, msdos
  0x2011bab0, // exfat
  0x9660, // iso9660
  0x15013346, // udf
  0x9fa0, // proc
  0x28cd3d45, // cramfs
  0x7275, // romfs
]);

/** Filesystems whose superblock UUID is the UUID blkid shows (the others have none, or a random one). */
const UUID_ON_DISK = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'f2fs', 'btrfs']);
/** Filesystems whose superblock UUID stays all zeros in 6.1. */
const NULL_UUID_TYPES = new Set(['vfat', 'msdos', 'exfat', 'iso9660', 'udf', 'fuse', 'fuseblk', 'proc', 'sysfs']);
const NULL_UUID = '00000000-0000-0000-0000-000000000000';

const FUSE_MAGIC = 0x65735546;

export interface FileFacts extends VerdictFile {
  /** As given. */
  readonly path: string;
  /** What the kernel appraises: the path with symbolic links resolved. */
  readonly realPath: string;
  /** The path names a symbolic link (its last component). */
  readonly symlink: boolean;
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly size: number;
  /** mountinfo's type, with its subtype (fuse.sshfs); the magic number's name when not found. */
  readonly fsType: string;
  /** Mounted from a user namespace: false when this process is in the initial one (such mounts cannot reach it). */
  readonly untrustedMounter?: boolean;
}

export type XattrRead =
  { readonly bytes: Buffer } | { readonly state: 'absent' | 'unsupported' } | { readonly code: string };

export interface ExaminedFile {
  readonly facts: FileFacts;
  /** The attribute read as security.ima. */
  readonly ima: XattrRead;
  readonly evm: EvmFact;
}

let mountTypes: Map<string, string> | undefined;

/** major:minor -> superblock type, from /proc/self/mountinfo (read once). */
function mountTypeOf(dev: number): string | undefined {
  if (!mountTypes) {
    mountTypes = new Map();
    let text = '';
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      /* no /proc: the magic number names the filesystem */
    }
    for (const line of text.split('\n')) {
      const fields = line.split(' ');
      const sep = fields.indexOf('-');
      if (sep > 0 && fields[2] && fields[sep + 1]) mountTypes.set(fields[2], fields[sep + 1]!);
    }
  }
  return mountTypes.get(majorMinor(dev));
}

function majorMinor(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

let initialUserNamespace: boolean | undefined;

/** The identity uid_map of the initial user namespace: mounts made in another never propagate into it. */
function inInitialUserNamespace(): boolean {
  if (initialUserNamespace === undefined) {
    try {
      initialUserNamespace = /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      initialUserNamespace = false;
    }
  }
  return initialUserNamespace;
}

let uuidsByDevice: Map<number, string> | undefined;

/** The UUID of the block device `dev`, from the udev links in /dev/disk/by-uuid (read once). */
function diskUuid(dev: number): string | undefined {
  if (!uuidsByDevice) {
    uuidsByDevice = new Map();
    const dir = '/dev/disk/by-uuid';
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      /* no udev links */
    }
    for (const name of names) {
      if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(name)) continue;
      try {
        uuidsByDevice.set(statSync(join(dir, name)).rdev, name.toLowerCase());
      } catch {
        /* a dangling link */
      }
    }
  }
  return uuidsByDevice.get(dev);
}

function superblockUuid(fsName: string, dev: number): string | undefined {
  if (NULL_UUID_TYPES.has(fsName)) return NULL_UUID;
  return UUID_ON_DISK.has(fsName) ? diskUuid(dev) : undefined;
}

function readXattr(fd: number, path: string, name: string, fsName: string): XattrRead {
  try {
    const bytes = getXattrFd(fd, path, name, fsName);
    return bytes === undefined || bytes.length === 0 ? { state: 'absent' } : { bytes };
  } catch (e) {
    if (e instanceof XattrError && isUnsupported(e.code)) return { state: 'unsupported' };
    return { code: errnoOf(e) ?? 'EIO' };
  }
}

/**
 * Gathers the facts of `path` (symbolic links followed). Throws FileError when there is no regular file to
 * appraise (the kernel appraises regular files only).
 */
export function examineFile(path: string, imaXattrName = 'security.ima'): ExaminedFile {
  let realPath: string;
  let symlink: boolean;
  try {
    symlink = lstatSync(fsPath(path)).isSymbolicLink();
    realPath = decodeFsName(realpathSync(fsPath(path), { encoding: 'buffer' }));
  } catch (e) {
    throw new FileError(path, `cannot examine: ${describeSystemError(e)}`, errnoOf(e));
  }
  let fd: number;
  try {
    fd = openSync(fsPath(realPath), O_PATH | constants.O_NOFOLLOW);
  } catch (e) {
    throw new FileError(path, `cannot examine: ${describeSystemError(e)}`, errnoOf(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new FileError(path, 'not a regular file: the kernel appraises regular files only', 'EINVAL');
    const magic = Number(statfsSync(descriptorPath(fd)).type);
    const byMagic = filesystemName(magic);
    const fsType = mountTypeOf(st.dev) ?? byMagic;
    const fsName = fsType.replace(/\..*$/, '');
    const xattrHandlers = !NO_XATTR_HANDLERS.has(magic);
    const facts: FileFacts = {
      path,
      realPath,
      symlink,
      dev: st.dev,
      ino: st.ino,
      mode: st.mode,
      size: st.size,
      uid: st.uid,
      gid: st.gid,
      fsMagic: magic,
      fsName,
      fsType,
      fsUuid: superblockUuid(fsName, st.dev),
      xattrHandlers,
      unverifiableSignatures: magic === FUSE_MAGIC,
      untrustedMounter: magic === FUSE_MAGIC && !inInitialUserNamespace() ? undefined : false,
    };
    if (!xattrHandlers) return { facts, ima: { state: 'unsupported' }, evm: { state: 'unsupported' } };
    const ima = readXattr(fd, path, imaXattrName, fsName);
    const evmRead = readXattr(fd, path, 'security.evm', fsName);
    const evm: EvmFact =
      'bytes' in evmRead
        ? { state: 'present', type: evmRead.bytes[0]!, length: evmRead.bytes.length }
        : 'code' in evmRead
          ? { state: 'unreadable', code: evmRead.code }
          : { state: evmRead.state };
    return { facts, ima, evm };
  } finally {
    closeSync(fd);
  }
}
