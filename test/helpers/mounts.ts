// Real filesystems for system tests: ext4, xfs and btrfs on loop devices, FAT through FUSE (fusefat).
//
// Facts this file relies on (observed on Debian 12, util-linux 2.38.1, xfsprogs 6.1.0, btrfs-progs 6.2,
// dosfstools 4.2, fusefat 0.1a with libfuse 2.9.9):
//  - The kernel here has no vfat driver, so FAT is served by fusefat. fusefat refuses to mount unless told
//    "-o rw+" (read-write, "EXPERIMENTAL") or "-o ro"; there is no plain "-o rw".
//  - fusefat does not implement xattrs: setxattr fails with EOPNOTSUPP ("Operation not supported").
//  - fusefat ignores O_TRUNC: a shorter write over an existing file keeps the old tail. Tools that write
//    in place (evmctl --sigfile over a longer .sig) corrupt files there; ima-sidecar renames a new file in.
//    chmod/chown fail with ENOSYS. statfs(2) reports FUSE_SUPER_MAGIC 0x65735546 (stat -f calls it
//    "fuseblk") with f_blocks = 0; /proc/mounts lists it as type "fuse.fusefat".
//  - Without default_permissions fusefat checks no permissions at all, and without allow_other nobody but
//    the mounting user may enter the mount. We therefore always mount with allow_other,default_permissions
//    and umask=0022 (like a kernel vfat mount by root): everything is owned by root, mode 0755. Pass e.g.
//    mountOptions ['uid=65534', 'gid=65534'] or ['umask=0'] to let nobody write; later options win.
//  - fusefat writes its per-operation debug chatter on stderr; it goes to a log file in the temp dir and
//    is quoted when mounting fails. We run it with -f (foreground) as our own detached child, so we know
//    its pid and can wait for it to exit after fusermount -u (the image is complete once it has exited).
//  - mkfs minimums: xfs needs >= 300 MiB ("Filesystem must be larger than 300MB"); btrfs needs
//    114294784 bytes = 109 MiB; ext4 works from 1 MiB; FAT32 warns below 33 MiB (too few clusters).
//    Images are sparse, so the defaults below cost almost no disk.
//
// Cleanup: every mount is registered in a process-wide table until unmount() finishes. If the process
// exits anyway (a test threw, an uncaught exception, SIGINT/SIGTERM/SIGHUP), a synchronous safety net
// runs `umount -l` / `fusermount -u -z`, `losetup -d`, signals the fusefat child and removes the temp dir.
// Only SIGKILL of the test process can leave a mount behind.
import type { TestContext } from 'node:test';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { missing, skipOrFail } from './skip.js';

const execFileP = promisify(execFile);

export type FsKind = 'ext4' | 'xfs' | 'btrfs' | 'fat';

export const FS_KINDS: readonly FsKind[] = ['ext4', 'xfs', 'btrfs', 'fat'];

/** statfs(2) f_type of each kind as mounted here (fat is FUSE, so it reports FUSE_SUPER_MAGIC). */
export const FS_MAGIC: Readonly<Record<FsKind, number>> = {
  ext4: 0xef53,
  xfs: 0x58465342,
  btrfs: 0x9123683e,
  fat: 0x65735546,
};

export interface MountOptions {
  /** Image size; raised to the kind's minimum. Defaults: ext4 64, xfs 300, btrfs 128, fat 64. */
  sizeMiB?: number;
  /** Extra mount options (without "-o"), appended after the defaults; for fat they go to fusefat. */
  mountOptions?: string[];
}

export interface Mounted {
  kind: FsKind;
  /** The mount point, <tempdir>/mnt. The temp dir is mode 0711 so an unprivileged user can traverse it. */
  dir: string;
  /** The image file, <tempdir>/image; removed (with the temp dir) by unmount(). */
  image: string;
  /** The loop device for kernel filesystems (e.g. /dev/loop3); undefined for fat. */
  readonly loopDevice: string | undefined;
  /** Unmounts, detaches the loop device / waits for fusefat to exit, removes the temp dir. Idempotent. */
  unmount(): Promise<void>;
  /** Kernel fs: mount -o remount,ro. fat: fusermount -u, then fusefat -o ro (a new daemon, same dir). */
  remountReadOnly(): Promise<void>;
  /** Kernel fs: mount -o remount,rw. fat: fusermount -u, then fusefat -o rw+. */
  remountReadWrite(): Promise<void>;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const DEFAULT_MIB: Record<FsKind, number> = { ext4: 64, xfs: 300, btrfs: 128, fat: 64 };
const MIN_MIB: Record<FsKind, number> = { ext4: 8, xfs: 300, btrfs: 110, fat: 33 };
const MKFS: Record<FsKind, string> = { ext4: 'mkfs.ext4', xfs: 'mkfs.xfs', btrfs: 'mkfs.btrfs', fat: 'mkfs.vfat' };
const FAT_DEFAULT_OPTIONS = ['allow_other', 'default_permissions', 'umask=0022'];
const MOUNT_WAIT_MS = 10_000;
const DAEMON_EXIT_WAIT_MS = 10_000;

// ---------------------------------------------------------------------------------------------------
// availability

function kernelKnows(fs: string): boolean {
  try {
    const known = readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop());
    if (known.includes(fs)) return true;
  } catch {
    return false;
  }
  // Not loaded yet: mount(8) can still modprobe it if the module exists.
  try {
    const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    const r = spawnSync('modinfo', ['-k', release, fs], { stdio: 'ignore' });
    return r.status === 0;
  } catch {
    return false;
  }
}

/** Why this kind cannot be mounted here (not root, missing mkfs/fusefat, no /dev/fuse), or undefined. */
export function cannotMount(kind: FsKind): string | undefined {
  if (kind === 'fat') {
    const why = missing({ root: true, commands: [MKFS.fat, 'fusefat', 'fusermount'] });
    if (why) return why;
    if (!existsSync('/dev/fuse')) return 'needs /dev/fuse';
    if (!kernelKnows('fuse')) return 'the kernel has no fuse filesystem';
    return undefined;
  }
  const why = missing({ root: true, commands: [MKFS[kind], 'mount', 'umount', 'losetup'] });
  if (why) return why;
  if (!existsSync('/dev/loop-control') && !existsSync('/dev/loop0')) return 'needs loop devices (/dev/loop-control)';
  if (!kernelKnows(kind)) return `the kernel has no ${kind} driver`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// small utilities

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string; code?: unknown };
    const detail = (err.stderr || err.stdout || err.message || '').toString().trim();
    throw new Error(`${cmd} ${args.join(' ')} failed (${String(err.code)}): ${detail}`, { cause: e });
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Undoes the octal escapes (\040 etc.) that /proc/mounts uses in paths. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Entries of /proc/mounts: source, mount point, type, options (octal escapes decoded). */
export function readMounts(): { source: string; target: string; type: string; options: string[] }[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [source = '', target = '', type = '', options = ''] = line.split(' ');
      return {
        source: unescapeMountField(source),
        target: unescapeMountField(target),
        type,
        options: options.split(','),
      };
    });
}

/** Whether something is mounted on dir right now. */
export function isMounted(dir: string): boolean {
  return readMounts().some((m) => m.target === dir);
}

/** Whether the loop device (e.g. /dev/loop3) still has a backing file. */
export function loopInUse(device: string): boolean {
  const name = device.replace(/^\/dev\//, '');
  return existsSync(`/sys/block/${name}/loop/backing_file`);
}

/** uid and gid of nobody/nogroup (65534 on Debian), for fs.chown of dirs that runAsNobody must write. */
export function nobodyIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  return { uid: Number.isInteger(uid) ? uid : 65534, gid: Number.isInteger(gid) ? gid : 65534 };
}

// ---------------------------------------------------------------------------------------------------
// process-level safety net

interface LiveMount {
  /** Synchronous, best-effort, never throws: used from process 'exit' and signal handlers. */
  emergencyCleanup(): void;
}

const live = new Set<LiveMount>();
let netInstalled = false;

function emergencyCleanupAll(): void {
  for (const m of [...live]) {
    live.delete(m);
    try {
      m.emergencyCleanup();
    } catch {
      // best effort: keep going with the others
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  emergencyCleanupAll();
  // Re-deliver the signal with our handler gone, so the default action (or another listener) applies.
  process.removeListener(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installSafetyNet(): void {
  if (netInstalled) return;
  netInstalled = true;
  process.on('exit', emergencyCleanupAll);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
}

function register(m: LiveMount): void {
  installSafetyNet();
  live.add(m);
}

// ---------------------------------------------------------------------------------------------------
// mounting

async function makeImage(kind: FsKind, image: string, sizeMiB: number): Promise<void> {
  const fh = await open(image, 'wx', 0o600);
  await fh.close();
  await truncate(image, sizeMiB * 1024 * 1024);
  switch (kind) {
    case 'ext4':
      await run('mkfs.ext4', ['-q', '-F', image]);
      break;
    case 'xfs':
      await run('mkfs.xfs', ['-q', '-f', image]);
      break;
    case 'btrfs':
      await run('mkfs.btrfs', ['-q', '-f', image]);
      break;
    case 'fat':
      await run('mkfs.vfat', ['-F', '32', image]);
      break;
  }
}

/** Makes and mounts a fresh filesystem image of sizeMiB (sensible per-kind defaults and minimums). */
export async function mountFresh(kind: FsKind, opts: MountOptions = {}): Promise<Mounted> {
  const why = cannotMount(kind);
  if (why) throw new Error(`cannot mount ${kind}: ${why}`);
  const sizeMiB = Math.max(MIN_MIB[kind], Math.ceil(opts.sizeMiB ?? DEFAULT_MIB[kind]));
  const base = await mkdtemp(join(tmpdir(), `ima-sidecar-${kind}-`));
  const image = join(base, 'image');
  const dir = join(base, 'mnt');
  try {
    // 0711: others may traverse to dir (for runAsNobody) but not list the temp dir or read the image.
    await chmod(base, 0o711);
    await mkdir(dir);
    await makeImage(kind, image, sizeMiB);
    const m = kind === 'fat' ? new FatMount(base, image, dir, opts) : new KernelMount(kind, base, image, dir, opts);
    await m.start();
    return m;
  } catch (e) {
    await rm(base, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
}

abstract class BaseMount implements Mounted, LiveMount {
  abstract readonly kind: FsKind;
  abstract readonly loopDevice: string | undefined;
  /** Serialises start/remount/unmount so they never interleave. */
  private chain: Promise<void> = Promise.resolve();
  private unmounting: Promise<void> | undefined;
  protected gone = false;

  constructor(
    readonly base: string,
    readonly image: string,
    readonly dir: string,
  ) {}

  protected serial(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch(() => {});
    return next;
  }

  protected abstract doMount(readOnly: boolean): Promise<void>;
  protected abstract doUnmount(): Promise<void>;
  protected abstract doRemount(readOnly: boolean): Promise<void>;
  abstract emergencyCleanup(): void;

  async start(): Promise<void> {
    register(this);
    try {
      await this.serial(() => this.doMount(false));
    } catch (e) {
      await this.unmount().catch(() => {});
      throw e;
    }
  }

  unmount(): Promise<void> {
    this.unmounting ??= this.serial(async () => {
      try {
        await this.doUnmount();
      } catch (e) {
        // Never leave it behind: fall back to the lazy synchronous path, then report the first failure.
        this.emergencyCleanup();
        live.delete(this);
        throw e;
      }
      live.delete(this);
      this.gone = true;
      await rm(this.base, { recursive: true, force: true });
    });
    return this.unmounting;
  }

  remountReadOnly(): Promise<void> {
    return this.serial(() => this.checkedRemount(true));
  }

  remountReadWrite(): Promise<void> {
    return this.serial(() => this.checkedRemount(false));
  }

  private async checkedRemount(readOnly: boolean): Promise<void> {
    if (this.unmounting || this.gone) throw new Error(`${this.dir} is already unmounted`);
    await this.doRemount(readOnly);
  }
}

class KernelMount extends BaseMount {
  loopDevice: string | undefined;

  constructor(
    readonly kind: Exclude<FsKind, 'fat'>,
    base: string,
    image: string,
    dir: string,
    private readonly opts: MountOptions,
  ) {
    super(base, image, dir);
  }

  protected async doMount(readOnly: boolean): Promise<void> {
    this.loopDevice = (await run('losetup', ['--find', '--show', this.image])).trim();
    const options = [readOnly ? 'ro' : 'rw', ...(this.opts.mountOptions ?? [])];
    await run('mount', ['-t', this.kind, '-o', options.join(','), this.loopDevice, this.dir]);
  }

  protected async doRemount(readOnly: boolean): Promise<void> {
    await run('mount', ['-o', readOnly ? 'remount,ro' : 'remount,rw', this.dir]);
  }

  protected async doUnmount(): Promise<void> {
    if (isMounted(this.dir)) {
      let lastError: unknown;
      for (let attempt = 0; attempt < 20 && isMounted(this.dir); attempt++) {
        try {
          await run('umount', [this.dir]);
        } catch (e) {
          lastError = e; // typically EBUSY: a process still has a file open; retry for ~2 s
          await sleep(100);
        }
      }
      if (isMounted(this.dir)) {
        await run('umount', ['-l', this.dir]);
        process.emitWarning(`${this.dir} was busy and was lazily unmounted: ${String(lastError)}`);
      }
    }
    if (this.loopDevice) {
      const dev = this.loopDevice;
      if (loopInUse(dev)) await run('losetup', ['-d', dev]);
      // LOOP_CLR_FD is asynchronous when the device is still open; wait until it is really free.
      for (let i = 0; i < 100 && loopInUse(dev) && backingIs(dev, this.image); i++) await sleep(20);
      this.loopDevice = undefined;
    }
  }

  emergencyCleanup(): void {
    spawnSync('umount', ['-l', this.dir], { stdio: 'ignore' });
    if (this.loopDevice && backingIs(this.loopDevice, this.image)) {
      spawnSync('losetup', ['-d', this.loopDevice], { stdio: 'ignore' });
    }
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Whether the loop device is backed by this image (so we never detach a device someone else now uses). */
function backingIs(device: string, image: string): boolean {
  try {
    const name = device.replace(/^\/dev\//, '');
    const backing = readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    return backing === image || backing === `${image} (deleted)`;
  } catch {
    return false;
  }
}

class FatMount extends BaseMount {
  readonly kind = 'fat' as const;
  readonly loopDevice = undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private readonly log: string;

  constructor(
    base: string,
    image: string,
    dir: string,
    private readonly opts: MountOptions,
  ) {
    super(base, image, dir);
    this.log = join(base, 'fusefat.log');
  }

  protected async doMount(readOnly: boolean): Promise<void> {
    const options = [readOnly ? 'ro' : 'rw+', ...FAT_DEFAULT_OPTIONS, ...(this.opts.mountOptions ?? [])];
    const logFd = await open(this.log, 'a', 0o600);
    let child: ChildProcess;
    try {
      // -f: stay in the foreground as our child, so we hold its pid and see it exit.
      // detached: its own process group, so a terminal's ^C reaches us and we unmount in order.
      // -s: single-threaded. fusefat's FAT library is not thread-safe: multi-threaded, a thread was seen
      // spinning for minutes with a rename unanswered (the writer stuck in D state).
      child = spawn('fusefat', ['-f', '-s', '-o', options.join(','), this.image, this.dir], {
        stdio: ['ignore', 'ignore', logFd.fd],
        detached: true,
      });
    } finally {
      await logFd.close();
    }
    this.child = child;
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `status ${code}`;
        resolve();
      });
      child.once('error', (e) => {
        exitInfo = `spawn error ${e.message}`;
        resolve();
      });
    });
    // Do not keep the event loop alive just for the daemon; unmount() re-refs it while it waits.
    child.unref();

    const deadline = Date.now() + MOUNT_WAIT_MS;
    while (!isMounted(this.dir)) {
      if (exitInfo !== undefined) {
        throw new Error(`fusefat exited (${exitInfo}) before ${this.dir} was mounted: ${await this.logTail()}`);
      }
      if (Date.now() > deadline) {
        this.killChild('SIGTERM');
        throw new Error(`fusefat did not mount ${this.dir} within ${MOUNT_WAIT_MS} ms: ${await this.logTail()}`);
      }
      await sleep(10);
    }
  }

  private async logTail(): Promise<string> {
    try {
      const text = await readFile(this.log, 'utf8');
      return text.slice(-2000).trim() || '(no output)';
    } catch {
      return '(no log)';
    }
  }

  private killChild(signal: NodeJS.Signals): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      try {
        c.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /** fusermount -u, then wait (with a timeout) until the fusefat child has exited and so flushed the image. */
  protected async doUnmount(): Promise<void> {
    if (isMounted(this.dir)) {
      let lastError: unknown;
      for (let attempt = 0; attempt < 20 && isMounted(this.dir); attempt++) {
        try {
          await run('fusermount', ['-u', this.dir]);
        } catch (e) {
          lastError = e;
          await sleep(100);
        }
      }
      if (isMounted(this.dir)) {
        await run('fusermount', ['-u', '-z', this.dir]);
        process.emitWarning(`${this.dir} was busy and was lazily unmounted: ${String(lastError)}`);
      }
    }
    const child = this.child;
    if (child && this.exited) {
      child.ref(); // keep the process alive until the daemon is gone
      try {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.exited.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), DAEMON_EXIT_WAIT_MS))),
        ]);
        clearTimeout(timer); // a pending timer would keep the process alive for DAEMON_EXIT_WAIT_MS
        if (timedOut) {
          this.killChild('SIGKILL');
          await this.exited;
          throw new Error(`fusefat (pid ${child.pid}) did not exit within ${DAEMON_EXIT_WAIT_MS} ms of unmounting`);
        }
      } finally {
        child.unref();
      }
    }
    this.child = undefined;
    this.exited = undefined;
  }

  protected async doRemount(readOnly: boolean): Promise<void> {
    // fusefat cannot switch modes in place: stop this daemon and start a new one on the same dir.
    await this.doUnmount();
    await this.doMount(readOnly);
  }

  emergencyCleanup(): void {
    spawnSync('fusermount', ['-u', '-z', this.dir], { stdio: 'ignore' });
    // If it is still mounted (fusermount missing or failing), umount -l as root does the same.
    if (isMountedSafe(this.dir)) spawnSync('umount', ['-l', this.dir], { stdio: 'ignore' });
    // The daemon exits by itself once its connection is gone; SIGTERM makes sure of it.
    this.killChild('SIGTERM');
    rmSync(this.base, { recursive: true, force: true });
  }
}

function isMountedSafe(dir: string): boolean {
  try {
    return isMounted(dir);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// node:test glue

/**
 * For use in node:test: skips (or fails under CI=true, via skipOrFail) when the kind cannot be mounted;
 * otherwise mounts, registers t.after() cleanup, returns it.
 *
 *   const m = await useMount(t, 'xfs');
 *   if (!m) return;
 */
export async function useMount(t: TestContext, kind: FsKind, opts?: MountOptions): Promise<Mounted | undefined> {
  const why = cannotMount(kind);
  if (why) {
    skipOrFail(t, `cannot mount ${kind}: ${why}`);
    return undefined;
  }
  const m = await mountFresh(kind, opts);
  t.after(() => m.unmount());
  return m;
}

// ---------------------------------------------------------------------------------------------------
// unprivileged commands

let dropper: 'setpriv' | 'runuser' | undefined;

function privilegeDropper(): 'setpriv' | 'runuser' {
  if (dropper) return dropper;
  // setpriv --inh-caps and user names for --reuid/--regid need util-linux >= 2.33 (2.38.1 here).
  const probe = spawnSync(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--', 'true'],
    { stdio: 'ignore' },
  );
  dropper = probe.status === 0 ? 'setpriv' : 'runuser';
  return dropper;
}

/**
 * Runs a command as the unprivileged user nobody (group nogroup, no supplementary groups, no
 * capabilities), with `setpriv`, or `runuser -u nobody --` where setpriv is too old. Needs root.
 *
 * nobody must be able to reach what the command touches: mountFresh's temp dir is 0711, and fresh
 * ext4/xfs/btrfs roots are root-owned 0755, so nobody can read but not write there. Callers must chmod
 * (or chown to nobodyIds()) the dirs nobody writes, and every dir above a path nobody opens must be
 * searchable (os.tmpdir() dirs made with mkdtemp are 0700!). On fat, chmod/chown fail with ENOSYS:
 * choose ownership at mount time (mountOptions ['uid=65534','gid=65534'] or ['umask=0']).
 * cwd is entered before privileges drop, but relative paths still need nobody's search permission.
 * The environment defaults to a minimal one (PATH, HOME=/, LANG=C.UTF-8), not the caller's.
 */
export function runAsNobody(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer | string } = {},
): Promise<RunResult> {
  const how = privilegeDropper();
  const argv =
    how === 'setpriv'
      ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--', cmd, ...args]
      : ['runuser', '-u', 'nobody', '--', cmd, ...args];
  const env = opts.env ?? {
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin',
    HOME: '/',
    LANG: 'C.UTF-8',
  };
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.stdin.on('error', () => {}); // EPIPE when the command does not read its input
    child.stdin.end(opts.input ?? '');
    child.on('close', (status, signal) =>
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}
