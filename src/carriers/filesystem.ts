/**
 * What filesystem a file is on (statfs f_type, linux/magic.h), and whether it
 * takes extended attributes: learnt from the first real attempt and
 * remembered per device for the length of a run (Filesystems).
 */
import { readFileSync, statfsSync } from 'node:fs';
import { fsPath, isDescriptorPath } from './fs-path.js';

const MAGIC: Record<number, string> = {
  0x4d44: 'vfat', // msdos too: the same magic
  0x2011bab0: 'exfat',
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x65735546: 'fuse',
  0x794c7630: 'overlay',
  0x6969: 'nfs',
  0x73717368: 'squashfs',
  0xe0f5e1e2: 'erofs',
  0x5346544e: 'ntfs',
  0x7366746e: 'ntfs3',
  0x2fc12fc1: 'zfs',
  0xf2f52010: 'f2fs',
  0x3153464a: 'jfs',
  0x52654973: 'reiserfs',
  0x9660: 'iso9660',
  0x15013346: 'udf',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x858458f6: 'ramfs',
  0x62656572: 'sysfs',
  0x9fa0: 'proc',
  0x01021997: 'v9fs',
  0xca451a4e: 'bcachefs',
};

/** Filesystems known to have no xattrs at all: the kernel answers EOPNOTSUPP. */
const NO_XATTRS = new Set(['vfat', 'msdos', 'exfat', 'iso9660', 'udf']);

/**
 * Filesystems whose successful setxattr has stored exactly the bytes given:
 * the kernel's own local ones, where the value goes from our buffer into the
 * inode or its xattr block in the same call, and a read-back would read that
 * very buffer again (8 us a file on ext4, 8% of `import -r`). A FUSE daemon
 * or a network server answers for itself and may accept a value and keep
 * something else, or nothing: there, and on any filesystem not named here,
 * every write is read back.
 */
const STORES_EXACTLY = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'tmpfs', 'f2fs']);

/** Whether a successful setxattr on this filesystem is known to have stored exactly the value (see STORES_EXACTLY). */
export function setxattrStoresExactly(fsName: string): boolean {
  return STORES_EXACTLY.has(fsName);
}

export function filesystemName(magic: number | bigint): string {
  const m = Number(magic);
  return MAGIC[m] ?? `0x${m.toString(16)}`;
}

export interface FilesystemFacts {
  readonly name: string;
  readonly magic: number;
}

/** The namespace of an attribute name (`security` of `security.ima`): support is per namespace. */
function namespaceOf(attrName: string): string {
  const dot = attrName.indexOf('.');
  return dot < 0 ? attrName : attrName.slice(0, dot);
}

/**
 * One filesystem a run has met, and what the run has learnt of it: whether it
 * takes xattrs, per namespace (tmpfs, for one, takes security.* but not always
 * user.*), from the first real attempt, since a name alone cannot say (FUSE may
 * or may not). Targets on the device carry this object.
 */
export class Filesystem implements FilesystemFacts {
  private readonly support = new Map<string, boolean>();
  constructor(
    readonly name: string,
    readonly magic: number,
  ) {}
  /** true / false once learnt; undefined before the first attempt (false at once for a filesystem without any). */
  takesXattrs(attrName: string): boolean | undefined {
    const learnt = this.support.get(namespaceOf(attrName));
    if (learnt !== undefined) return learnt;
    return NO_XATTRS.has(this.name) ? false : undefined;
  }
  learnXattrs(attrName: string, supported: boolean): void {
    this.support.set(namespaceOf(attrName), supported);
  }
}

function majorMinor(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/**
 * The filesystems one run meets, by device: one statfs per device and the
 * mount table once per run. Per run, not per process: after an unmount a
 * device number can name another filesystem (a loop device made xfs after it
 * was ext4), and a library caller's next run must see it.
 */
export class Filesystems {
  private readonly byDevice = new Map<number, Filesystem>();
  private mountTypes: Map<string, string> | undefined;

  /** The filesystem of a device already seen in this run, without a system call. */
  known(dev: number): Filesystem | undefined {
    return this.byDevice.get(dev);
  }

  /**
   * The filesystem of `path` on device `dev` (statfs follows symlinks, so
   * callers pass a directory, a descriptor path or a checked file).
   */
  of(path: string, dev: number): Filesystem {
    const hit = this.byDevice.get(dev);
    if (hit) return hit;
    const s = statfsSync(isDescriptorPath(path) ? path : fsPath(path));
    const byMagic = filesystemName(s.type);
    const mounted = this.mountTypesByDevice().get(majorMinor(dev));
    // Trust the mount table's name only when it agrees with the magic's family (vfat is vfat, fuse.* is fuse).
    const name =
      mounted &&
      (mounted === byMagic ||
        mounted.startsWith(`${byMagic}.`) ||
        (byMagic === 'ext4' && /^ext[234]$/.test(mounted)) ||
        (byMagic === 'fuse' && mounted === 'fuseblk'))
        ? mounted
        : byMagic;
    const fs = new Filesystem(name, Number(s.type));
    this.byDevice.set(dev, fs);
    return fs;
  }

  /** major:minor -> fstype from /proc/self/mountinfo: names FUSE filesystems (fuse.fusefat), tells ext4 from ext2. */
  private mountTypesByDevice(): Map<string, string> {
    if (this.mountTypes) return this.mountTypes;
    this.mountTypes = new Map<string, string>();
    let text: string;
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return this.mountTypes; // no /proc: the magic number's name
    }
    for (const line of text.split('\n')) {
      const fields = line.split(' ');
      const sep = fields.indexOf('-');
      if (sep > 0 && fields[2] && fields[sep + 1]) this.mountTypes.set(fields[2], fields[sep + 1]!);
    }
    return this.mountTypes;
  }
}
