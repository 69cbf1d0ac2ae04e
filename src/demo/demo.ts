/**
 * `npm start`: the project's story on throwaway data in a temporary folder, printed as the commands a person
 * would type and what they answered. Every file the demo makes or changes is made by a shell command it
 * prints (the key and certificate excepted: they are made in-process, and it says so).
 *
 * As root with dosfstools and fusefat, the "boot partition" esp/ is a real FAT32 image mounted through FUSE
 * (kernels like this one may have no vfat driver); otherwise it is a plain folder, and the demo says so. The
 * xattr side, boot/, is the temporary folder's own filesystem.
 *
 * `npm start -- --keep` keeps the folder: the FAT is unmounted, its image left to mount again.
 * The FAT is unmounted and the folder removed on every way out: success, failure, SIGINT/SIGTERM/SIGHUP.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeThrowawayIdentity } from './throwaway-cert.js';

const bin = fileURLToPath(new URL('../../../bin/ima-sidecar', import.meta.url));
const isRoot = process.getuid?.() === 0;
// Only root may write security.ima (the default); anyone may write user.ima on a filesystem that takes xattrs.
const xattrArgs = isRoot ? [] : ['--xattr', 'user.ima'];
const xattrName = isRoot ? 'security.ima' : 'user.ima';
const KERNEL = 512 * 1024;
const INITRD = 256 * 1024;
const MOUNT_WAIT_MS = 10_000;
const DAEMON_EXIT_WAIT_MS = 10_000;

const out = (text: string) => process.stdout.write(text);
const say = (text: string) => out(`\n# ${text}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class Interrupted extends Error {}

/** The demo's state, for the cleanup that every way out runs. */
const demo = {
  dir: '',
  keep: false,
  /** The fusefat daemon while the FAT may be mounted. */
  fusefat: undefined as ChildProcess | undefined,
  fusefatExited: undefined as Promise<void> | undefined,
  interruptedBy: undefined as NodeJS.Signals | undefined,
  abort: new AbortController(),
  cleanedUp: false,
};

const espDir = () => join(demo.dir, 'esp');

const interrupted = () => new Interrupted(`interrupted by ${demo.interruptedBy}`);

function checkInterrupted(): void {
  if (demo.interruptedBy) throw interrupted();
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Ran {
  status: number;
  output: string;
}

/** Runs a program in the demo folder after printing `shown`, and prints its output (stdout and stderr as they came). */
function runShown(shown: string, file: string, args: string[], expect: number): Promise<Ran> {
  checkInterrupted();
  out(`$ ${shown}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: demo.dir, stdio: ['ignore', 'pipe', 'pipe'], signal: demo.abort.signal });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', (e) => reject(demo.interruptedBy ? interrupted() : e));
    child.on('close', (code, signal) => {
      if (demo.interruptedBy) return reject(interrupted());
      const output = Buffer.concat(chunks).toString('utf8').trimEnd();
      if (output) out(output.replace(/^/gm, '  ') + '\n');
      const status = code ?? 128;
      if (status !== 0) out(`  (exit status ${status})\n`);
      if (status !== expect) {
        const what = signal ? `was killed by ${signal}` : `exited ${status}`;
        return reject(new Error(`\`${shown}\` ${what}, expected ${expect}`));
      }
      resolve({ status, output });
    });
  });
}

/** An ima-sidecar command, shown as typed. */
const cli = (args: string[], expect = 0) =>
  runShown(`ima-sidecar ${args.map(quote).join(' ')}`, process.execPath, [bin, ...args], expect);

/** A shell command, run by sh exactly as shown. */
const sh = (command: string, expect = 0) => runShown(command, '/bin/sh', ['-c', command], expect);

/** The FS and XATTRS columns of `ima-sidecar status` for one path. */
function fsOf(status: Ran, path: string): { fs: string; xattrs: boolean } {
  for (const line of status.output.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.at(-1) === path) return { fs: fields[1] ?? '?', xattrs: fields[2] === 'yes' };
  }
  throw new Error(`status printed no row for ${path}`);
}

// ---------------------------------------------------------------------------------------------------------------
// the FAT "boot partition"

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, cmd)));
}

/** Why esp/ cannot be a real FAT here, or undefined. */
function whyNoFat(): string | undefined {
  if (!isRoot) return 'not root';
  for (const cmd of ['mkfs.fat', 'fusefat', 'fusermount']) if (!onPath(cmd)) return `no ${cmd}`;
  if (!existsSync('/dev/fuse')) return 'no /dev/fuse';
  return undefined;
}

function isMounted(dir: string): boolean {
  // /proc/mounts writes a space in a path as \040 (and so on, in octal).
  const unescape = (f: string) => f.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => unescape(line.split(' ')[1] ?? '') === dir);
}

async function mountFat(): Promise<void> {
  // Sparse, so it costs almost no disk; mkfs.fat warns below 33 MiB for FAT32 (too few clusters).
  await sh('truncate -s 64M esp.img');
  await sh('mkfs.fat -F 32 esp.img');
  await sh('mkdir esp');
  // fusefat has no plain "rw": "rw+" is its (experimental) read-write mode. -f keeps it in the foreground as our
  // child, so we know when it has exited (and so flushed the image) after unmounting; -s because its FAT code is
  // not thread-safe. Its debug chatter goes to a log.
  const args = ['-f', '-s', '-o', 'rw+', 'esp.img', 'esp'];
  checkInterrupted();
  out(`$ fusefat ${args.join(' ')} >fusefat.log 2>&1 &\n`);
  const log = openSync(join(demo.dir, 'fusefat.log'), 'a', 0o600);
  let child: ChildProcess;
  try {
    // detached: its own process group, so a terminal's ^C reaches only us, and we unmount in order.
    child = spawn('fusefat', args, { cwd: demo.dir, stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
  demo.fusefat = child;
  let exitInfo: string | undefined;
  demo.fusefatExited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `status ${code}`;
      resolve();
    });
    child.once('error', (e) => {
      exitInfo = e.message;
      resolve();
    });
  });
  child.unref(); // the daemon alone must not keep the demo alive; unmountFat waits for it
  const deadline = Date.now() + MOUNT_WAIT_MS;
  while (!isMounted(espDir())) {
    checkInterrupted();
    if (exitInfo !== undefined) throw new Error(`fusefat exited (${exitInfo}) before mounting: see fusefat.log`);
    if (Date.now() > deadline) throw new Error(`fusefat did not mount esp within ${MOUNT_WAIT_MS} ms`);
    await sleep(10);
  }
}

function fusermount(args: string[]): boolean {
  return spawnSync('fusermount', args, { stdio: 'ignore' }).status === 0;
}

/** fusermount -u, then wait until the daemon has exited: only then is the image complete. */
async function unmountFat(): Promise<void> {
  const child = demo.fusefat;
  if (!child) return;
  const dir = espDir();
  if (isMounted(dir)) {
    out('$ fusermount -u esp\n');
    // EBUSY while something still has a file open there: retry for a while, then detach lazily.
    for (let i = 0; i < 20 && !fusermount(['-u', dir]) && isMounted(dir); i++) await sleep(100);
    if (isMounted(dir)) {
      out('$ fusermount -u -z esp\n');
      fusermount(['-u', '-z', dir]);
    }
  }
  child.ref();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    demo.fusefatExited!.then(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), DAEMON_EXIT_WAIT_MS))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await demo.fusefatExited;
  }
  demo.fusefat = undefined;
  if (timedOut) throw new Error(`fusefat did not exit within ${DAEMON_EXIT_WAIT_MS} ms of unmounting`);
}

/** Synchronous and best effort: never leave the mount (or the daemon) behind. */
function emergencyUnmount(): void {
  const child = demo.fusefat;
  if (!child) return;
  demo.fusefat = undefined;
  fusermount(['-u', '-z', espDir()]);
  if (isMounted(espDir())) spawnSync('umount', ['-l', espDir()], { stdio: 'ignore' });
  child.kill('SIGTERM');
}

/** For a second signal and for process exit: nothing asynchronous may run any more. */
function emergencyCleanup(): void {
  if (demo.cleanedUp) return;
  demo.cleanedUp = true;
  emergencyUnmount();
  if (demo.dir && !demo.keep) rmSync(demo.dir, { recursive: true, force: true });
}

/** Unmounts the FAT and removes the folder (or, with --keep, says how to look at it again). */
async function cleanup(): Promise<void> {
  if (demo.cleanedUp) return;
  const wasFat = demo.fusefat !== undefined;
  if (demo.keep) say(wasFat ? 'Unmount the FAT; --keep leaves the folder and the image' : '--keep leaves the folder');
  else say('Clean up');
  try {
    await unmountFat();
  } finally {
    emergencyUnmount(); // a no-op unless unmountFat failed half-way
    demo.cleanedUp = true;
    if (!demo.keep) {
      out(`$ rm -rf ${demo.dir}\n`);
      rmSync(demo.dir, { recursive: true, force: true });
    }
  }
  if (!demo.keep) return;
  out(`\nKept ${demo.dir} (remove it with: rm -rf ${demo.dir}).\n`);
  if (wasFat) {
    const img = join(demo.dir, 'esp.img');
    out(`The FAT image is ${img}; mount it again with\n  fusefat -o rw+ ${img} ${espDir()}\n`);
    out(`and unmount it with\n  fusermount -u ${espDir()}\n`);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (demo.interruptedBy) {
    // A second signal: do not wait for anything.
    emergencyCleanup();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  }
  demo.interruptedBy = signal;
  demo.abort.abort(); // ends the running command; main's finally unmounts and removes
}

// ---------------------------------------------------------------------------------------------------------------
// the story

async function story(): Promise<void> {
  out(
    `ima-sidecar demo in ${demo.dir} ` +
      (isRoot
        ? '(as root: signatures go into security.ima)\n'
        : '(not root: user.ima, as only root may write security.ima)\n'),
  );

  say('A throwaway signing key and self-signed certificate, made in-process: signing-key.pem, signing-cert.pem');
  const id = await makeThrowawayIdentity();
  writeFileSync(join(demo.dir, 'signing-key.pem'), id.keyPem, { mode: 0o600 });
  writeFileSync(join(demo.dir, 'signing-cert.pem'), id.certPem);
  checkInterrupted();
  await cli(['keyid', 'signing-cert.pem']);

  const noFat = whyNoFat();
  if (noFat) {
    say(`No real FAT here (${noFat}): esp/ is a plain folder on the temporary folder's filesystem instead`);
    await sh('mkdir esp');
  } else {
    say('The "boot partition": a FAT32 image made by mkfs.fat, mounted on esp/ by fusefat (FUSE)');
    await mountFat();
  }
  say('A kernel and an initramfs on it (random bytes stand in for them)');
  await sh(`head -c ${KERNEL} /dev/urandom > esp/vmlinuz`);
  await sh(`head -c ${INITRD} /dev/urandom > esp/initrd.img`);

  say('Sign both into evmctl-format sidecars: vmlinuz.sig holds exactly the bytes security.ima would');
  await cli(['sign', '--key', 'signing-key.pem', '--cert', 'signing-cert.pem', '-r', 'esp']);

  say('Status: the FS column names the filesystem, XATTRS whether it can keep a signature in an xattr');
  const espStatus = await cli(['status', '-r', ...xattrArgs, 'esp']);
  const esp = fsOf(espStatus, 'esp/vmlinuz');
  if (!esp.xattrs) {
    say(`esp/ is ${esp.fs}, which keeps no xattrs: import cannot put the signatures there, says so, and exits 0`);
    await cli(['import', '-r', ...xattrArgs, 'esp']);
  }

  say(`Migrate to the xattr side, boot/: each signature is checked, then goes into ${xattrName}`);
  await cli(['migrate', '-r', '--verify', '--cert', 'signing-cert.pem', ...xattrArgs, 'esp', 'boot']);
  say('Verify from the xattr alone');
  await cli(['verify', '-r', '--from', 'xattr', '--cert', 'signing-cert.pem', ...xattrArgs, 'boot']);
  const bootStatus = await cli(['status', '-r', '--cert', 'signing-cert.pem', ...xattrArgs, 'boot']);
  const boot = fsOf(bootStatus, 'boot/vmlinuz');
  say(
    boot.xattrs
      ? `boot/ is ${boot.fs}, which keeps xattrs: the signatures are in ${xattrName} only`
      : `boot/ is ${boot.fs}, which keeps no xattrs either: the signatures stayed in sidecars`,
  );

  say('Tamper with the kernel there: verification fails and says why');
  await sh('echo tampered >> boot/vmlinuz');
  await cli(['verify', '--cert', 'signing-cert.pem', ...xattrArgs, 'boot/vmlinuz'], 1);

  say('A new kernel, signed on the xattr side into the xattr; export puts its signature onto the FAT beside it');
  await sh(`head -c ${KERNEL} /dev/urandom > boot/vmlinuz-next`);
  await cli([
    'sign',
    '--key',
    'signing-key.pem',
    '--cert',
    'signing-cert.pem',
    '--to',
    'xattr',
    ...xattrArgs,
    'boot/vmlinuz-next',
  ]);
  await sh('cp boot/vmlinuz-next esp/');
  await cli(['export', '-r', ...xattrArgs, '--dest', 'esp', 'boot']);

  say('A kernel that came with an appended signature (made here as scripts/sign-file would) becomes a sidecar');
  await sh(`head -c ${KERNEL} /dev/urandom > esp/vmlinuz-vendor`);
  await cli(['modsig', 'sign', '--key', 'signing-key.pem', '--cert', 'signing-cert.pem', 'esp/vmlinuz-vendor']);
  await cli(['modsig', 'detach', '--cert', 'signing-cert.pem', 'esp/vmlinuz-vendor']);

  say('Everything on the boot partition verifies from its sidecars (the tampering was on the other copy)');
  await cli(['verify', '-r', '--cert', 'signing-cert.pem', ...xattrArgs, 'esp']);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--keep');
  if (unknown.length > 0) {
    process.stderr.write(`usage: npm start [-- --keep]   (unknown: ${unknown.join(' ')})\n`);
    process.exitCode = 2;
    return;
  }
  demo.keep = args.includes('--keep');
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  process.on('exit', emergencyCleanup);
  // realpath: the mount point must match /proc/mounts, which shows no symlinks.
  demo.dir = realpathSync(mkdtempSync(join(tmpdir(), 'ima-sidecar-demo-')));
  try {
    await story();
  } catch (e) {
    process.stderr.write(`demo ${e instanceof Interrupted ? 'stopped' : 'failed'}: ${(e as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`demo failed: ${(e as Error).message}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    const signal = demo.interruptedBy;
    if (signal) {
      // Die of the signal, as an interrupted command should, now that everything is cleaned up.
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    }
  });
