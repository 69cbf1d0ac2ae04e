/**
 * Making a new file's bytes, and then its name, durable.
 *
 * A single file gets its own flushes: fdatasync before the rename, fsync of
 * its folder after. A tree run writes thousands of small sidecars, and those
 * flushes were a tenth of `sign -r`'s time: each writes a block or two and
 * waits for a flush of the device's cache. On the kernel's own disk
 * filesystems, where syncfs writes back every dirty page, inode and folder
 * of the filesystem and then flushes the device once (fs/sync.c
 * sync_filesystem; a journal commit on the journalled ones), the files
 * waiting at the same time share one syncfs instead, for their bytes before
 * the rename as for their names after it: a file that arrives while one
 * runs waits for the next, which starts only after it arrived, so what it
 * wrote is always in the flush it waits for. A group commit.
 *
 * A file alone (no other waiting for a flush on its filesystem, as in a
 * one-file command) gets its own flushes, and so does every file on FUSE,
 * where syncfs reaches the daemon only if it asked for it (fs/fuse/inode.c
 * fuse_sync_fs) and is otherwise a no-op, and on network filesystems. A
 * shared flush also writes other programs' dirty data: when one takes longer
 * than its files would have taken one by one (as timed by a file's own
 * flush), and over a second, the filesystem is busy with someone else's
 * writes, and the rest of the run goes back to a flush per file. A failed
 * shared flush may be another file's error: each of its files then learns
 * its own from its own flush.
 */
import { fdatasync } from 'node:fs';
import { descriptorCalls, systemError } from './descriptor-calls.js';
import { filesystemOf } from './filesystem.js';
import { fileFacts } from './regular-file.js';

/** Where syncfs writes back every dirty page and inode and flushes the device: the kernel's own disk filesystems. */
export const SHARED_FLUSH_FILESYSTEMS: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'f2fs']);

/** A shared flush over this long, and slower than its files' own flushes one by one, means the filesystem is busy. */
const BUSY_AFTER_MS = 1000;

export type FlushOne = (fd: number) => Promise<void>;

/**
 * One flush shared by everyone who waits at the same time: the one running,
 * and the next, begun only after the running one ended (failed or not) and
 * shared by every caller arriving meanwhile (the running one may have begun
 * before what they did, so it cannot count for them). `flushNow(arg,
 * covered)` gets the argument of the caller that queued it and how many wait
 * for it; `onIdle` runs when a flush ends with none queued after it.
 */
export class GroupCommit<A> {
  private running?: Promise<void>;
  private next?: Promise<void>;
  private nextCovered = 0;

  constructor(
    private readonly flushNow: (arg: A, covered: number) => Promise<void>,
    private readonly onIdle?: () => void,
  ) {}

  /** Settles as a flush begun after this call. */
  join(arg: A): Promise<void> {
    if (!this.running) return this.start(arg, 1);
    if (!this.next) {
      const startQueued = () => {
        const covered = this.nextCovered;
        this.next = undefined;
        this.nextCovered = 0;
        return this.start(arg, covered);
      };
      this.next = this.running.then(startQueued, startQueued);
    }
    this.nextCovered++;
    return this.next;
  }

  private start(arg: A, covered: number): Promise<void> {
    const flush: Promise<void> = this.flushNow(arg, covered).finally(() => {
      // A queued flush replaces this one when it starts; otherwise nobody is waiting.
      if (this.running === flush && !this.next) {
        this.running = undefined;
        this.onIdle?.();
      }
    });
    this.running = flush;
    return flush;
  }
}

/**
 * The flushes of one filesystem: a file's own when no other file is waiting
 * for one, else a shared one. The calls are parameters so that the
 * scheduling can be tested alone.
 */
export class FilesystemFlushes {
  /** flush() calls not yet resolved. */
  private waiting = 0;
  /** How long a file's own flush took (the first one timed), to judge a shared one by. */
  private soloMs = 0;
  private timedSolo = false;
  private busy = false;
  private readonly shared: GroupCommit<number>;
  /** Shared flushes made, the writes they covered, and own flushes (for tests). */
  readonly stats = { shared: 0, covered: 0, solo: 0 };

  constructor(
    flushFilesystem: FlushOne,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    // Through the descriptor of the file that queued the flush: it waits for it, so it stays open until then.
    this.shared = new GroupCommit((fd, covered) => this.sharedFlush(flushFilesystem, fd, covered));
  }

  /**
   * Resolves once what was written on this filesystem before the call is
   * durable: by a shared flush (syncfs through fd, a file on it kept open
   * until then), or by `own`, the file's own flush.
   */
  async flush(fd: number, own: () => Promise<void>): Promise<void> {
    const alone = this.waiting++ === 0;
    try {
      if (alone || this.busy) return await this.solo(own);
      try {
        await this.shared.join(fd);
      } catch {
        await this.solo(own);
      }
    } finally {
      this.waiting--;
    }
  }

  private async solo(own: () => Promise<void>): Promise<void> {
    this.stats.solo++;
    const start = this.now();
    await own();
    if (!this.timedSolo) {
      this.soloMs = this.now() - start;
      this.timedSolo = true;
    }
  }

  private async sharedFlush(flushFilesystem: FlushOne, fd: number, covered: number): Promise<void> {
    this.stats.shared++;
    this.stats.covered += covered;
    const start = this.now();
    try {
      await flushFilesystem(fd);
    } finally {
      const took = this.now() - start;
      if (took > BUSY_AFTER_MS && took > covered * this.soloMs) this.busy = true;
    }
  }
}

function fdatasyncOnPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

function syncfsOnPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const errno = descriptorCalls()!.syncFilesystem(fd, (e) => (e ? reject(systemError(e, 'syncfs')) : resolve()));
    if (errno) reject(systemError(errno, 'syncfs'));
  });
}

/** By device; null where each file gets its own flushes. */
const byDevice = new Map<number, FilesystemFlushes | null>();

function flushesOf(fd: number, dir: string): FilesystemFlushes | null {
  if (!descriptorCalls()) return null;
  const dev = fileFacts(fd).dev;
  let flushes = byDevice.get(dev);
  if (flushes === undefined) {
    flushes = SHARED_FLUSH_FILESYSTEMS.has(filesystemOf(dir, dev).name) ? new FilesystemFlushes(syncfsOnPool) : null;
    byDevice.set(dev, flushes);
  }
  return flushes;
}

/** Makes the bytes written to the new file open as fd, in the folder `dir`, durable: its fdatasync, or a share of a syncfs. */
export function flushNewFile(fd: number, dir: string): Promise<void> {
  const own = () => fdatasyncOnPool(fd);
  return flushesOf(fd, dir)?.flush(fd, own) ?? own();
}

/**
 * Makes the rename of the file open as fd into the folder `dir` durable:
 * `flushFolder` (an fsync of the folder), or a share of a syncfs.
 */
export function flushRename(fd: number, dir: string, flushFolder: () => Promise<void>): Promise<void> {
  return flushesOf(fd, dir)?.flush(fd, flushFolder) ?? flushFolder();
}
