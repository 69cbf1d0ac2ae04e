// Everything the kernel acceptance suite needs besides ima-sidecar, set up on demand.
//
// Host packages (installed with apt-get --no-install-recommends when a command is
// missing): qemu-system-x86, mtools, dosfstools, e2fsprogs, keyutils, openssl, attr.
//
// Downloaded with apt-get into the cache folder and unpacked there with dpkg -x, never
// installed: Debian's own kernel (linux-image-<abi>-amd64, the version the
// linux-image-amd64 metapackage points at), busybox-static and kexec-tools with the
// libraries it links that the host lacks (the libxen* family). busybox-static and
// kexec-tools are not installed on purpose: busybox-static conflicts with the busybox
// package initramfs-tools uses, and kexec-tools' package can make the host reboot
// through kexec.
//
// Cache layout (IMA_SIDECAR_KERNEL_CACHE, default /var/cache/ima-sidecar-kernel-test):
//   debs/kernel/*.deb, debs/guest/*.deb   the downloads
//   kernel/<abi>/                         vmlinuz, config, modules/NAME.ko, modules.order
//   guest/                                busybox-static + kexec-tools unpacked
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { run, which } from './exec.js';
import { MODULE_ROOTS, builtinModules, indexModules, moduleLoadOrder } from './modules.js';

export const CACHE_DIR = process.env.IMA_SIDECAR_KERNEL_CACHE || '/var/cache/ima-sidecar-kernel-test';

export interface Kernel {
  package: string;
  version: string;
  vmlinuz: string;
  config: string;
  /** Folder of NAME.ko files. */
  modulesDir: string;
  /** insmod order, dependencies first. */
  moduleOrder: string[];
}

export interface Toolchain {
  cacheDir: string;
  qemu: string;
  kernel: Kernel;
  guestRoot: string;
  busybox: string;
  kexec: string;
  keyctl: string;
  /** What this run had to install or download, for the test's diagnostics. */
  notes: string[];
}

export type Setup = { ok: true; tools: Toolchain } | { ok: false; reason: string };

const HOST_COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['mcopy', 'mtools'],
  ['mkfs.vfat', 'dosfstools'],
  ['mkfs.ext4', 'e2fsprogs'],
  ['debugfs', 'e2fsprogs'],
  ['keyctl', 'keyutils'],
  ['openssl', 'openssl'],
  ['getfattr', 'attr'],
  ['setfattr', 'attr'],
];

class SetupError extends Error {}

const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
// apt-get download drops to the _apt user unless told otherwise; the cache is root's.
const APT_OPTS = ['-o', 'APT::Sandbox::User=root'];
let aptUpdated = false;

function aptUpdate(notes: string[]): void {
  if (aptUpdated) return;
  aptUpdated = true;
  const r = run('apt-get', ['update'], { env: aptEnv });
  notes.push(`apt-get update: exit ${r.status}`);
}

/** Runs an apt command, and once more after apt-get update if it fails. */
function aptRetry(notes: string[], args: string[], cwd?: string): void {
  let r = run('apt-get', [...APT_OPTS, ...args], { env: aptEnv, cwd });
  if (r.status !== 0 && !aptUpdated) {
    aptUpdate(notes);
    r = run('apt-get', [...APT_OPTS, ...args], { env: aptEnv, cwd });
  }
  if (r.status !== 0) {
    throw new SetupError(
      `apt-get ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-600)}`,
    );
  }
}

function ensureHostCommands(notes: string[]): string | undefined {
  const missing = HOST_COMMANDS.filter(([cmd]) => !which(cmd));
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  if (!which('apt-get'))
    return `missing ${missing.map(([c]) => c).join(', ')} and no apt-get to install ${pkgs.join(' ')}`;
  try {
    aptRetry(notes, ['install', '-y', '--no-install-recommends', ...pkgs]);
    notes.push(`installed ${pkgs.join(' ')}`);
  } catch (e) {
    return `cannot install ${pkgs.join(' ')}: ${(e as Error).message}`;
  }
  const still = HOST_COMMANDS.filter(([cmd]) => !which(cmd));
  return still.length ? `still missing after apt-get install: ${still.map(([c]) => c).join(', ')}` : undefined;
}

function debsIn(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.deb'))
        .map((f) => join(dir, f))
    : [];
}

function resolveKernelPackage(notes: string[]): string | undefined {
  const ask = (): string | undefined => {
    const r = run('apt-cache', ['depends', 'linux-image-amd64']);
    return /Depends:\s*(linux-image-[0-9]\S*-amd64)\b/.exec(r.stdout)?.[1];
  };
  let pkg = ask();
  if (!pkg) {
    aptUpdate(notes);
    pkg = ask();
  }
  return pkg;
}

function ensureKernel(cache: string, notes: string[]): Kernel {
  let pkg = process.env.IMA_SIDECAR_KERNEL_PACKAGE || (which('apt-cache') ? resolveKernelPackage(notes) : undefined);
  const kernelRoot = join(cache, 'kernel');
  if (!pkg) {
    // Offline: fall back on a kernel unpacked by an earlier run.
    const cached = existsSync(kernelRoot)
      ? readdirSync(kernelRoot).filter((d) => existsSync(join(kernelRoot, d, 'ready')))
      : [];
    if (cached.length === 0)
      throw new SetupError('cannot resolve the kernel package of linux-image-amd64 (apt-cache) and none is cached');
    pkg = `linux-image-${cached.sort().at(-1)}`;
    notes.push(`apt-cache could not resolve linux-image-amd64; using the cached ${pkg}`);
  }
  const version = pkg.replace(/^linux-image-/, '');
  const dir = join(kernelRoot, version);
  const roots = MODULE_ROOTS.join(' ');
  const wanted = (): Kernel => ({
    package: pkg!,
    version,
    vmlinuz: join(dir, 'vmlinuz'),
    config: join(dir, 'config'),
    modulesDir: join(dir, 'modules'),
    moduleOrder: readFileSync(join(dir, 'modules.order'), 'utf8').split('\n').filter(Boolean),
  });
  if (existsSync(join(dir, 'ready')) && readFileSync(join(dir, 'roots'), 'utf8') === roots) return wanted();

  const debDir = join(cache, 'debs', 'kernel');
  mkdirSync(debDir, { recursive: true });
  let deb = debsIn(debDir).find((f) => f.split('/').pop()!.startsWith(`${pkg}_`));
  if (!deb) {
    aptRetry(notes, ['download', pkg], debDir);
    deb = debsIn(debDir).find((f) => f.split('/').pop()!.startsWith(`${pkg}_`));
    if (!deb) throw new SetupError(`apt-get download ${pkg} left no .deb in ${debDir}`);
    notes.push(`downloaded ${deb}`);
  }

  const tmp = mkdtempSync(join(cache, 'tmp-kernel-'));
  try {
    const x = join(tmp, 'x');
    const r = run('dpkg', ['-x', deb, x]);
    if (r.status !== 0) throw new SetupError(`dpkg -x ${deb}: ${r.stderr.trim()}`);
    const src = join(x, 'lib', 'modules', version);
    const index = indexModules(join(src, 'kernel'));
    const order = moduleLoadOrder(index, builtinModules(src), MODULE_ROOTS);
    const out = join(tmp, 'out');
    mkdirSync(join(out, 'modules'), { recursive: true });
    copyFileSync(join(x, 'boot', `vmlinuz-${version}`), join(out, 'vmlinuz'));
    copyFileSync(join(x, 'boot', `config-${version}`), join(out, 'config'));
    for (const m of order) copyFileSync(index.get(m)!, join(out, 'modules', `${m}.ko`));
    writeFileSync(join(out, 'modules.order'), order.join('\n') + '\n');
    writeFileSync(join(out, 'roots'), roots);
    writeFileSync(join(out, 'ready'), `${pkg} from ${deb}\n`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(kernelRoot, { recursive: true });
    try {
      renameSync(out, dir);
    } catch (e) {
      // Another run of the suite finished the same unpacking first.
      if (!existsSync(join(dir, 'ready'))) throw e;
    }
    notes.push(`unpacked ${pkg}: modules ${order.join(' ')}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Older kernels (the metapackage moved on) are of no further use.
  for (const d of readdirSync(kernelRoot))
    if (d !== version) rmSync(join(kernelRoot, d), { recursive: true, force: true });
  for (const f of debsIn(debDir)) if (f !== deb) rmSync(f, { force: true });
  return wanted();
}

function findIn(root: string, candidates: string[]): string | undefined {
  return candidates.map((c) => join(root, c)).find((p) => existsSync(p));
}

function ensureGuestUserland(cache: string, notes: string[]): { root: string; busybox: string; kexec: string } {
  const root = join(cache, 'guest');
  const paths = () => ({
    root,
    busybox: findIn(root, ['bin/busybox', 'usr/bin/busybox']),
    kexec: findIn(root, ['sbin/kexec', 'usr/sbin/kexec']),
  });
  if (existsSync(join(root, 'ready'))) {
    const p = paths();
    if (p.busybox && p.kexec) return { root, busybox: p.busybox, kexec: p.kexec };
  }
  const debDir = join(cache, 'debs', 'guest');
  mkdirSync(join(debDir, 'partial'), { recursive: true });
  const have = (name: string) => debsIn(debDir).some((f) => f.split('/').pop()!.startsWith(`${name}_`));
  const want = ['busybox-static', 'kexec-tools'].filter((p) => !have(p));
  if (want.length) {
    aptRetry(notes, ['download', ...want], debDir);
    notes.push(`downloaded ${want.join(' ')}`);
  }
  // The libraries kexec links that the host does not have (apt fetches only what is
  // missing here; the rest comes from the host's own /lib at initramfs time).
  aptRetry(notes, [
    'install',
    '-d',
    '-y',
    '--no-install-recommends',
    '-o',
    `Dir::Cache::archives=${debDir}`,
    'kexec-tools',
  ]);
  rmSync(join(debDir, 'partial'), { recursive: true, force: true });
  rmSync(join(debDir, 'lock'), { force: true });

  const tmp = mkdtempSync(join(cache, 'tmp-guest-'));
  try {
    const x = join(tmp, 'root');
    for (const deb of debsIn(debDir)) {
      const r = run('dpkg', ['-x', deb, x]);
      if (r.status !== 0) throw new SetupError(`dpkg -x ${deb}: ${r.stderr.trim()}`);
    }
    writeFileSync(
      join(x, 'ready'),
      debsIn(debDir)
        .map((f) => f.split('/').pop())
        .join('\n') + '\n',
    );
    rmSync(root, { recursive: true, force: true });
    try {
      renameSync(x, root);
    } catch (e) {
      if (!existsSync(join(root, 'ready'))) throw e;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const p = paths();
  if (!p.busybox || !p.kexec) throw new SetupError(`busybox or kexec missing from ${root} after unpacking`);
  notes.push(`unpacked guest userland into ${root}`);
  return { root, busybox: p.busybox, kexec: p.kexec };
}

/** Prepares what the suite needs, or says why it cannot run here. */
export function setupToolchain(): Setup {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return { ok: false, reason: 'needs an x86-64 Linux host' };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, reason: 'needs root (apt-get, and security.ima on the files that go into the disk images)' };
  }
  const notes: string[] = [];
  const hostProblem = ensureHostCommands(notes);
  if (hostProblem) return { ok: false, reason: `qemu and friends cannot be installed: ${hostProblem}` };
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const kernel = ensureKernel(CACHE_DIR, notes);
    const guest = ensureGuestUserland(CACHE_DIR, notes);
    return {
      ok: true,
      tools: {
        cacheDir: CACHE_DIR,
        qemu: which('qemu-system-x86_64')!,
        kernel,
        guestRoot: guest.root,
        busybox: guest.busybox,
        kexec: guest.kexec,
        keyctl: which('keyctl')!,
        notes,
      },
    };
  } catch (e) {
    if (e instanceof SetupError) return { ok: false, reason: e.message };
    throw e;
  }
}
