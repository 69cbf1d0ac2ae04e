/**
 * A folder's entries, listed through the descriptor the walk holds: names in
 * byte order (the same order on every machine, whatever the locale), decoded
 * losslessly (fs-path.ts), each with its type from the listing (d_type).
 */
import { closeSync, constants, Dirent, openSync, readdirSync } from 'node:fs';
import { descriptorCalls, systemError } from './descriptor-calls.js';
import { decodeFsName } from './fs-path.js';
import { fileFacts } from './regular-file.js';

/** An entry's type as the listing gave it: d_type's numbers (<dirent.h>). */
export const enum EntryType {
  Unknown = 0,
  Directory = 4,
  RegularFile = 8,
  SymbolicLink = 10,
}

export interface FolderListing {
  /** The names as text, lossless (decodeFsName). */
  readonly names: readonly string[];
  /** The same names as system calls take them: the text itself when it is plain, else the bytes. */
  readonly raw: readonly (string | Buffer)[];
  /** d_type of each name; another number than EntryType's for FIFOs, sockets and devices. */
  readonly types: Uint8Array;
}

/**
 * Lists the folder open as `fd` (also reachable as `fdPath`, /proc/PID/fd/N).
 * With the native calls one call does the listing, the sort and the decoding
 * (about a third of the walk's time with Node's Dirent and Buffer per name);
 * without them, Node's readdir of the descriptor path. Throws as readdirSync.
 */
export function listFolder(fd: number, fdPath: string): FolderListing {
  const native = descriptorCalls();
  if (native) {
    const r = native.listDir(fd);
    if (typeof r === 'number') throw systemError(r, 'scandir');
    const [raw, types] = r;
    // Raw bytes are rare: the names array is then the same as raw, no copy.
    let names = raw as string[];
    if (raw.some((n) => typeof n !== 'string')) names = raw.map((n) => (typeof n === 'string' ? n : decodeFsName(n)));
    return { names, raw, types };
  }
  // A Buffer path, so that Node can lstat an entry of unknown type (DT_UNKNOWN) by joining it with the name.
  const entries = readdirSync(Buffer.from(fdPath), { withFileTypes: true, encoding: 'buffer' });
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  return {
    names: entries.map((e) => decodeFsName(e.name)),
    raw: entries.map((e) => e.name),
    types: Uint8Array.from(entries, typeOfDirent),
  };
}

function typeOfDirent(e: Dirent<Buffer>): number {
  if (e.isFile()) return EntryType.RegularFile;
  if (e.isDirectory()) return EntryType.Directory;
  if (e.isSymbolicLink()) return EntryType.SymbolicLink;
  if (e.isFIFO()) return 1;
  if (e.isCharacterDevice()) return 2;
  if (e.isBlockDevice()) return 6;
  return e.isSocket() ? 12 : EntryType.Unknown;
}

/** How the walk opens a folder: never through a symlink, never blocking. */
export const FOLDER_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** `name` in the folder seen as `fdPath` (/proc/PID/fd/N), as a path a system call takes. */
export function pathThrough(fdPath: string, name: string | Buffer): string | Buffer {
  return typeof name === 'string' ? `${fdPath}/${name}` : Buffer.concat([Buffer.from(`${fdPath}/`), name]);
}

/**
 * Opens the subfolder `name` (as in FolderListing.raw) of the folder open as
 * `fd` without following a symlink, and returns its descriptor and device.
 * Throws as openSync (ELOOP for a symlink) or fstatSync.
 */
export function openSubfolder(fd: number, fdPath: string, name: string | Buffer): { fd: number; dev: number } {
  const native = descriptorCalls();
  let sub: number;
  if (native) {
    sub = native.openAt(fd, name, FOLDER_FLAGS);
    if (sub < 0) throw systemError(-sub, 'open');
  } else {
    sub = openSync(pathThrough(fdPath, name), FOLDER_FLAGS);
  }
  try {
    return { fd: sub, dev: fileFacts(sub).dev };
  } catch (e) {
    closeSync(sub); // the walk's folders are closed by Node's close (PinnedDir), on the main thread
    throw e;
  }
}
