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
import { getSystemErrorMap } from 'node:util';

export interface DescriptorCalls {
  /** The value, or an errno number (ENODATA: no such attribute). */
  get(fd: number, name: string): Buffer | number;
  /** 0, or an errno number (EEXIST under XATTR_CREATE, ENODATA under XATTR_REPLACE). */
  set(fd: number, name: string, value: Buffer, flags: number): number;
  /** 0, or an errno number. */
  remove(fd: number, name: string): number;
  /** openat(dirfd, name, flags | O_CLOEXEC): the descriptor, or minus the errno. With `facts`, also the fstat as fstat() gives it (nothing left open on an error). */
  openAt(dirfd: number, name: Buffer | string, flags: number, facts?: Float64Array): number;
  /**
   * openAt with facts, then, for a regular file smaller than `buffer`, reads it whole (up to
   * the size fstat gave) and closes it: the bytes read, 0 when facts show another kind or a
   * larger file, or minus the errno, with facts[5] naming the call (0 openat, 1 fstat, 2 read).
   * facts: a Float64Array of 6.
   */
  readAt(dirfd: number, name: Buffer | string, flags: number, buffer: Buffer, facts: Float64Array): number;
  /** fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into out[0] (st_dev) and out[1] (st_ino): 0 or an errno. */
  lstatAt(dirfd: number, name: Buffer | string, out: Float64Array): number;
  /** fstat(fd) into out[0..4]: st_dev, st_ino, st_mode, st_size, mtime in ms (as Node's mtimeMs). 0 or an errno. */
  fstat(fd: number, out: Float64Array): number;
  /**
   * The names in the folder open as dirfd (not . and ..), sorted by their bytes: a string
   * when valid UTF-8, else the bytes; and one type byte per name (DT_REG, DT_DIR, DT_LNK...,
   * DT_UNKNOWN for one gone meanwhile). Or an errno.
   */
  listDir(dirfd: number): [names: (string | Buffer)[], types: Buffer] | number;
  /** syncfs(fd) on the thread pool, then callback(0 or an errno) on this thread; fd must stay open until then. Returns 0, or an errno when the call could not be queued. */
  syncFilesystem(fd: number, callback: (errno: number) => void): number;
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
  const here =
    typeof __IMA_SIDECAR_BUNDLE_DIR__ === 'string'
      ? __IMA_SIDECAR_BUNDLE_DIR__
      : dirname(fileURLToPath(import.meta.url));
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

let systemErrors: Map<number, [string, string]> | undefined;

/** The error Node would have thrown for errno `n` from `syscall` (for an errno a native call returned). */
export function systemError(n: number, syscall: string): NodeJS.ErrnoException {
  systemErrors ??= getSystemErrorMap();
  const code = errnoName(n);
  const text = systemErrors.get(-n)?.[1] ?? 'unknown error';
  const e: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall}`);
  e.code = code;
  e.errno = -n;
  e.syscall = syscall;
  return e;
}
