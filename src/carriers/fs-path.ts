/**
 * How a path string reaches the kernel. Two problems are solved here, in one
 * place, so that every other module can keep using plain strings:
 *
 * 1. File names are bytes, not text. Node turns a string path into bytes as
 *    UTF-8 and a name read as a string loses every byte that is not UTF-8
 *    (it becomes U+FFFD), so a file called `lat\xe9` could be listed but
 *    never opened. Latin-1 round-tripping does not help (Node would encode the
 *    string back as UTF-8, and it would mangle every valid UTF-8 name), and
 *    passing Buffers everywhere would touch every operation. We use the
 *    convention of Python's PEP 383 ("surrogateescape"): names are decoded as
 *    UTF-8, and each byte that is not part of a valid UTF-8 sequence becomes
 *    the lone surrogate U+DC80..U+DCFF. Valid UTF-8 never decodes to a lone
 *    surrogate, so the mapping is one-to-one; `fsPath` turns such a string
 *    back into the exact bytes (a Buffer) just before a system call, and
 *    output escapes the lone surrogates as `\xNN`. JSON output keeps them as
 *    `\udcNN`, which Python's `os.fsencode` turns back into the bytes.
 *
 * 2. Only the last component of a path is protected by O_NOFOLLOW. A tree
 *    that other people can write into could have `dir/sub` replaced by a
 *    symlink to /usr/bin between the walk listing `sub` and the operation
 *    opening `dir/sub/ls`, and the operation would then read, sign, write
 *    beside or clear /usr/bin/ls. Node has no openat(2), so the walker holds
 *    each directory it lists open (O_DIRECTORY | O_NOFOLLOW, itself opened
 *    through its parent's descriptor) for as long as files found there are
 *    being worked on: any path whose directory is a held one is then reached
 *    as /proc/PID/fd/DIRFD/NAME (see descriptorPath). The kernel resolves that
 *    magic link to the very directory that was listed, whatever was renamed
 *    or swapped since, and only NAME is looked up (with O_NOFOLLOW where it
 *    matters). Temporary files, renames, sidecars and the target itself all
 *    go through it.
 */
import { closeSync, readFileSync } from 'node:fs';
import { basename, dirname, normalize } from 'node:path';

/** A path the kernel resolves to the file or directory open as `fd`, whatever has been renamed since. */
export function descriptorPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

/** Whether `path` is one made by descriptorPath (already safe to hand to the kernel as it is). */
export function isDescriptorPath(path: string): boolean {
  return path.startsWith('/proc/self/fd/');
}

const LONE_ESCAPE = /[\udc80-\udcff]/u;
const strict = new TextDecoder('utf-8', { fatal: true });

/** Length of the well-formed UTF-8 sequence at b[i] (Unicode table 3-7), 0 when there is none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** A file name's bytes as a string, losslessly: bytes outside valid UTF-8 become U+DC80..U+DCFF. */
export function decodeFsName(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    /* not valid UTF-8: escape the bytes that are not */
  }
  let out = '';
  let run = 0;
  let i = 0;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (i < buf.length) {
    const n = sequenceLength(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += buf.toString('utf8', run, i) + String.fromCharCode(0xdc00 + buf[i]!);
    i++;
    run = i;
  }
  return out + buf.toString('utf8', run, i);
}

/** Whether the string holds escaped bytes (lone U+DC80..U+DCFF). */
export function hasEscapedBytes(s: string): boolean {
  return LONE_ESCAPE.test(s);
}

/** The bytes a decoded name or path stands for (the inverse of decodeFsName). */
export function encodeFsName(s: string): Buffer {
  if (!hasEscapedBytes(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let text = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch.length === 1 && cp >= 0xdc80 && cp <= 0xdcff) {
      if (text) parts.push(Buffer.from(text, 'utf8'));
      text = '';
      parts.push(Buffer.of(cp - 0xdc00));
    } else {
      text += ch;
    }
  }
  if (text) parts.push(Buffer.from(text, 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Directories held open, by normalize(path as the walker spelt it). A registry
 * rather than a context passed down through every call: any code reaching a
 * path in a held directory goes through it, and an AsyncLocalStorage context
 * would turn on promise hooks that cost every promise of a tree run.
 */
const held = new Map<string, HeldDirectory[]>();

interface HeldDirectory {
  readonly fdPath: string;
  /** Its descriptor. */
  readonly fd: number;
  /** Names the walker's listing showed as regular files (d_type), when it recorded them. */
  readonly regularFiles?: ReadonlySet<string>;
}

function register(key: string, dir: HeldDirectory): void {
  const same = held.get(key);
  if (same) same.push(dir);
  else held.set(key, [dir]);
}

function unregister(key: string, dir: HeldDirectory): void {
  const same = held.get(key);
  if (!same) return;
  const i = same.indexOf(dir);
  if (i >= 0) same.splice(i, 1);
  if (same.length === 0) held.delete(key);
}

/** A directory the walker listed and holds open, shared by the files found in it. */
export class PinnedDir {
  private refs = 1;
  /** normalize(dirname(p)) of every path p in this directory, as the walker spelt them. */
  readonly key: string;
  readonly fdPath: string;
  /** Set by the walker once it has listed the directory (see listedAsRegularFile). */
  regularFiles?: ReadonlySet<string>;
  constructor(
    readonly fd: number,
    samplePath: string,
  ) {
    this.key = dirKey(samplePath);
    this.fdPath = descriptorPath(fd);
    register(this.key, this);
  }
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs !== 0) return;
    unregister(this.key, this);
    try {
      closeSync(this.fd);
    } catch {
      /* a directory opened for reading has nothing to flush */
    }
  }
}

let lastDir = '';
let lastKey = '';

/**
 * normalize(dirname(p)), remembering the last folder: a file's calls come in
 * runs on one folder, so a path directly in the last one (checked on the
 * string, without making its dirname) costs no new string.
 */
function dirKey(p: string): string {
  const n = lastDir.length;
  if (n > 0 && p.length > n + 1 && p.charCodeAt(n) === 0x2f && p.startsWith(lastDir) && p.indexOf('/', n + 1) < 0)
    return lastKey;
  const dir = dirname(p);
  if (dir !== lastDir) {
    lastKey = normalize(dir);
    lastDir = dir;
  }
  return lastKey;
}

function heldFor(p: string): HeldDirectory | undefined {
  if (held.size === 0) return undefined;
  const same = held.get(dirKey(p));
  return same?.[same.length - 1];
}

/**
 * Whether the walker's listing of the held folder `p` is in showed its name as
 * a regular file. Only ever a reason to skip the lstat that keeps a device
 * from being opened at all (regular-file.ts): the fstat after the open still
 * decides, and a name the listing did not show is looked up as usual (it may
 * be new since, like a sidecar this run wrote).
 */
export function listedAsRegularFile(p: string): boolean {
  return heldFor(p)?.regularFiles?.has(basename(p)) ?? false;
}

/**
 * The path to hand to a system call for `p`: through the held directory when
 * `p` is in one, and as bytes when it holds escaped bytes.
 */
export function fsPath(p: string): string | Buffer {
  const dir = heldFor(p);
  const q = dir ? `${dir.fdPath}/${basename(p)}` : p;
  return hasEscapedBytes(q) ? encodeFsName(q) : q;
}

/** The path to hand to a system call for the directory that holds `p` (the held one when it is). */
export function fsDirPath(p: string): string | Buffer {
  const dir = heldFor(p);
  if (dir) return dir.fdPath;
  const d = dirname(p);
  return hasEscapedBytes(d) ? encodeFsName(d) : d;
}

/**
 * The raw bytes of the command line arguments (after node and the script),
 * recovered from /proc/self/cmdline where Node's decoding lost some.
 */
export function rawArguments(decoded: readonly string[]): string[] {
  if (!decoded.some((a) => a.includes('\ufffd'))) return [...decoded];
  let raw: Buffer[];
  try {
    raw = splitNul(readFileSync('/proc/self/cmdline'));
  } catch {
    return [...decoded];
  }
  const tail = raw.slice(raw.length - decoded.length);
  if (tail.length !== decoded.length) return [...decoded];
  // Use a raw argument only where it is the one Node decoded (same text once made lossy).
  return decoded.map((d, i) => (tail[i]!.toString('utf8') === d ? decodeFsName(tail[i]!) : d));
}

function splitNul(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) {
      out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < b.length) out.push(b.subarray(start));
  return out;
}
