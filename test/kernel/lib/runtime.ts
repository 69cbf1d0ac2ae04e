// The root the guest chroots into to run ima-sidecar itself: the host's node with its shared
// libraries, the package as it runs from a checkout (bin/, the bundle with its code cache,
// fs-xattr's addon), and the guest tools ima-sidecar calls (keyctl for doctor's keyring view,
// kexec, busybox as mount/umount/sh for kexec's staging tmpfs). It goes into a read-only ext4
// image (mkfs.ext4 -d: nothing is mounted on the host).
import { copyFileSync, cpSync, existsSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { which } from './exec.js';
import { makeExt4Image } from './fixtures.js';
import { repoRoot, sharedLibraries } from './initramfs.js';
import type { Toolchain } from './toolchain.js';

export interface Runtime {
  image: string;
  uuid: string;
  /** Folders the guest mounts over (the image is read-only, so they must exist in it). */
  mountPoints: string[];
}

/** Where ima-sidecar lives inside the runtime root. */
export const PKG = '/pkg';
/** The guest's mount points inside the runtime root, for the ESP and the ext4 data disk. */
export const ESP_DIR = '/mnt/esp';
export const DATA_DIR = '/mnt/data';
/** The live scenario's EVM disk: ext4 that no policy rule covers, written once an EVM key is loaded. */
export const EVM_DIR = '/mnt/evm';

function copyInto(root: string, at: string, from: string): void {
  const dest = join(root, at);
  if (existsSync(dest)) return;
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(from, dest); // keeps the mode bits
}

function copyWithLibraries(root: string, at: string, exe: string, libDirs: string[]): void {
  copyInto(root, at, exe);
  // The first provider of a library name wins: the host's glibc serves node and the guest
  // tools alike (the guest packages only add what the host lacks, e.g. libxen*).
  for (const [guestPath, hostFile] of sharedLibraries(exe, libDirs)) copyInto(root, guestPath, hostFile);
}

/** Builds the runtime image in WORK; extra files (e.g. certificates) go in as [path in root, host file]. */
export function makeRuntimeImage(tools: Toolchain, work: string, extra: [string, string][] = []): Runtime {
  const root = join(work, 'runtime-root');
  const repo = repoRoot();
  const node = realpathSync(which('node') ?? process.execPath);
  const guestLibDirs = ['lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu'].map((d) => join(tools.guestRoot, d));
  const mountPoints = [
    'proc',
    'sys',
    'dev',
    'tmp',
    'run',
    'mnt',
    ...[ESP_DIR, DATA_DIR, EVM_DIR].map((d) => d.slice(1)),
  ];
  for (const d of [...mountPoints, 'etc', 'bin', 'usr/bin', 'usr/sbin', 'root'])
    mkdirSync(join(root, d), { recursive: true });

  copyWithLibraries(root, '/usr/bin/node', node, []);
  copyWithLibraries(root, '/usr/bin/keyctl', tools.keyctl, guestLibDirs);
  copyWithLibraries(root, '/usr/sbin/kexec', tools.kexec, guestLibDirs);
  copyInto(root, '/bin/busybox', tools.busybox);
  // What ima-sidecar's kexec spawns besides kexec: mount and umount (its staging tmpfs).
  for (const n of ['sh', 'mount', 'umount', 'ls', 'cat']) symlinkSync('busybox', join(root, 'bin', n));

  const pkg = join(root, PKG.slice(1));
  for (const f of ['package.json', 'bin/ima-sidecar', 'bin/load-bundle.js', 'dist/src/cli/bundle.cjs']) {
    copyInto(pkg, f, join(repo, f));
  }
  // The code cache is what makes a start cheap (scripts/bundle.js); without it node compiles from source.
  if (existsSync(join(repo, 'dist/src/cli/bundle.cjs.cache')))
    copyInto(pkg, 'dist/src/cli/bundle.cjs.cache', join(repo, 'dist/src/cli/bundle.cjs.cache'));
  // fs-xattr is the only addon a run without pkcs11: keys loads (the bundle leaves it out).
  const xattr = realpathSync(join(repo, 'node_modules', 'fs-xattr'));
  cpSync(xattr, join(pkg, 'node_modules', 'fs-xattr'), {
    recursive: true,
    filter: (src) => !src.includes(`${xattr}/build/Release/obj.target`) && !src.endsWith('/src'),
  });
  for (const [guestPath, hostFile] of sharedLibraries(join(xattr, 'build/Release/xattr.node'), [])) {
    copyInto(root, guestPath, hostFile);
  }

  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  for (const [at, from] of extra) copyInto(root, at, from);

  const uuid = randomUUID();
  const image = join(work, 'runtime-ext4.img');
  makeExt4Image(root, image, uuid, 'imaruntime');
  return { image, uuid, mountPoints: mountPoints.map((d) => `/${d}`) };
}
