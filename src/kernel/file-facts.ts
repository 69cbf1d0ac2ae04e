/**
 * What the kernel knows of a file when it appraises it, found out without
 * opening it for reading (which would itself be an appraisal): an O_PATH
 * descriptor gives fstat, statfs and the xattrs. Its superblock's type name
 * comes from /proc/self/mountinfo, its UUID from /dev/disk/by-uuid for the
 * filesystems whose superblock UUID is the one on disk, or, where udev made no
 * such links (an initramfs, a container), from that superblock on the block
 * device itself. Symbolic links are
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
  readSync,
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
/** major:minor -> the mount source (a device path for block filesystems), from the same lines. */
let mountSources: Map<string, string> | undefined;

/** major:minor -> superblock type, from /proc/self/mountinfo (read once). */
function mountTypeOf(dev: number): string | undefined {
  if (!mountTypes) {
    mountTypes = new Map();
    mountSources = new Map();
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
      // mountinfo escapes space, tab, newline and backslash as \ooo.
      const source = fields[sep + 2]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      if (sep > 0 && fields[2] && source && !mountSources.has(fields[2])) mountSources.set(fields[2], source);
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

/**
 * Where a filesystem keeps the UUID its kernel driver copies into the superblock (s_uuid, what fsuuid=
 * matches), and the magic that says it is that filesystem: ext2/3/4 s_uuid (struct ext4_super_block at
 * 1024), xfs sb_uuid (sector 0), btrfs fsid (the superblock at 64 KiB), f2fs uuid (at 1024).
 */
const SUPERBLOCK_UUIDS: ReadonlyMap<string, { uuidAt: number; magicAt: number; magic: Buffer }> = (() => {
  const ext = { uuidAt: 1024 + 0x68, magicAt: 1024 + 0x38, magic: Buffer.from([0x53, 0xef]) };
  return new Map([
    ['ext2', ext],
    ['ext3', ext],
    ['ext4', ext],
    ['xfs', { uuidAt: 32, magicAt: 0, magic: Buffer.from('XFSB') }],
    ['btrfs', { uuidAt: 0x10000 + 0x20, magicAt: 0x10000 + 0x40, magic: Buffer.from('_BHRfS_M') }],
    ['f2fs', { uuidAt: 1024 + 0x6c, magicAt: 1024, magic: Buffer.from([0x10, 0x20, 0xf5, 0xf2]) }],
  ]);
})();

function readAt(fd: number, at: number, length: number): Buffer | undefined {
  const b = Buffer.alloc(length);
  return readSync(fd, b, 0, length, at) === length ? b : undefined;
}

/**
 * The UUID in the superblock of `fsName` on `device` (a block device, or an image file), as the kernel
 * shows it; undefined when it cannot be read or the magic is not that filesystem's. Reads two small
 * ranges; never writes.
 */
export function uuidFromSuperblock(device: string, fsName: string): string | undefined {
  const where = SUPERBLOCK_UUIDS.get(fsName);
  if (!where) return undefined;
  let fd: number;
  try {
    fd = openSync(device, constants.O_RDONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const magic = readAt(fd, where.magicAt, where.magic.length);
    if (!magic?.equals(where.magic)) return undefined;
    const hex = readAt(fd, where.uuidAt, 16)?.toString('hex');
    if (!hex) return undefined;
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * The block device holding the filesystem of `dev`: the kernel's name for major:minor (sysfs's uevent
 * DEVNAME) under /dev, else the mount's source (btrfs gives its files an anonymous device number).
 */
function blockDeviceOf(dev: number): string | undefined {
  const mm = majorMinor(dev);
  const candidates: string[] = [];
  try {
    const name = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${mm}/uevent`, 'utf8'))?.[1];
    if (name && !name.split('/').includes('..')) candidates.push(`/dev/${name}`);
  } catch {
    /* not a block device's number, or no sysfs */
  }
  mountTypeOf(dev);
  const source = mountSources?.get(mm);
  if (source?.startsWith('/dev/')) candidates.push(source);
  for (const c of candidates) {
    try {
      if (statSync(c).isBlockDevice()) return c;
    } catch {
      /* not there (no devtmpfs) */
    }
  }
  return undefined;
}

function superblockUuid(fsName: string, dev: number): string | undefined {
  if (NULL_UUID_TYPES.has(fsName)) return NULL_UUID;
  if (!UUID_ON_DISK.has(fsName)) return undefined;
  const linked = diskUuid(dev);
  if (linked) return linked;
  const device = blockDeviceOf(dev);
  return device ? uuidFromSuperblock(device, fsName) : undefined;
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
