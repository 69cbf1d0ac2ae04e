/**
 * Our descriptor calls (native/descriptor-calls.c, built by `npm install`
 * into build/Release/descriptor_calls.node), when they are there: xattrs of
 * an open file, and openat/fstatat in a held folder. Without them (a
 * checkout where only `tsc` ran, `npm install --ignore-scripts`), or with
 * IMA_SIDECAR_NATIVE=0, the same calls go through /proc/PID/fd paths (fs-xattr
 * for xattrs, Node's fs for the rest): as safe, slower, and without an atomic
 * "create only".
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DescriptorCalls {
  /** The value, or an errno number (ENODATA: no such attribute). */
  get(fd: number, name: string): Buffer | number;
  /** 0, or an errno number (EEXIST under XATTR_CREATE, ENODATA under XATTR_REPLACE). */
  set(fd: number, name: string, value: Buffer, flags: number): number;
  /** 0, or an errno number. */
  remove(fd: number, name: string): number;
  /** openat(dirfd, name, flags | O_CLOEXEC): the descriptor, or minus the errno. */
  openAt(dirfd: number, name: Buffer | string, flags: number): number;
  /** fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into out[0] (st_dev) and out[1] (st_ino): 0 or an errno. */
  lstatAt(dirfd: number, name: Buffer | string, out: Float64Array): number;
  /** fstat(fd) into out[0..4]: st_dev, st_ino, st_mode, st_size, mtime in ms (as Node's mtimeMs). 0 or an errno. */
  fstat(fd: number, out: Float64Array): number;
  /** close(fd) of a descriptor openAt gave (Node's closeSync warns about those in a worker thread): 0 or an errno. */
  close(fd: number): number;
  readonly XATTR_CREATE: number;
  readonly XATTR_REPLACE: number;
}

/** The bundle's folder: scripts/bundle.js defines it as __dirname; undefined in dist/src's ES modules. */
declare const __IMA_SIDECAR_BUNDLE_DIR__: string | undefined;

/**
 * The package's root. In dist/src/carriers/*.js (ES module) and in the bundle
 * dist/src/cli/bundle.cjs (CommonJS, where import.meta.url is rewritten for
 * yargs) the module's folder is three levels below it.
 */
function packageRoot(): string {
  const here = typeof __IMA_SIDECAR_BUNDLE_DIR__ === 'string' ? __IMA_SIDECAR_BUNDLE_DIR__ : dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', '..');
}

/** require() from the package's root: its node_modules and build/Release, wherever this module was bundled. */
export function packageRequire(id: string): unknown {
  return createRequire(join(packageRoot(), 'package.json'))(id);
}

let loaded: DescriptorCalls | null | undefined;
let loadError: string | undefined;

/** The native calls, or undefined when they are not built (or not wanted). */
export function descriptorCalls(): DescriptorCalls | undefined {
  if (loaded === undefined) {
    loaded = null;
    if (process.env.IMA_SIDECAR_NATIVE === '0') loadError = 'IMA_SIDECAR_NATIVE=0';
    else {
      const file = join(packageRoot(), 'build', 'Release', 'descriptor_calls.node');
      try {
        loaded = packageRequire(file) as DescriptorCalls;
      } catch (e) {
        loadError = `${file}: ${(e as Error).message.split('\n')[0]}`;
      }
    }
  }
  return loaded ?? undefined;
}

/** Whether this process uses the native calls, and why not when it does not (for the tests' messages). */
export function descriptorCallsBackend(): { readonly name: 'native' | 'fs-xattr'; readonly why?: string } {
  return descriptorCalls() ? { name: 'native' } : { name: 'fs-xattr', why: loadError };
}

let errnoNames: Map<number, string> | undefined;

/** ENODATA for 61: the name Node gives the same error. */
export function errnoName(n: number): string {
  errnoNames ??= new Map(Object.entries(constants.errno).map(([k, v]) => [v, k]));
  // Linux has two names for 95; Node's own errors say ENOTSUP, and so do ours.
  return n === constants.errno.ENOTSUP ? 'ENOTSUP' : (errnoNames.get(n) ?? `errno ${n}`);
}
