/**
 * A folder's entries, listed through the descriptor the walk holds: names in
 * byte order (the same order on every machine, whatever the locale), decoded
 * losslessly (fs-path.ts), each with its type from the listing (d_type).
 */
import { closeSync, constants, Dirent, openSync, readdirSync } from 'node:fs';
import { decodeFsName } from './fs-path.js';
import { fileFacts } from './regular-file.js';

/** An entry's type as the listing gave it. */
export const enum EntryType {
  Unknown = 0,
  Fifo = 1,
  CharacterDevice = 2,
  Directory = 4,
  BlockDevice = 6,
  RegularFile = 8,
  SymbolicLink = 10,
  Socket = 12,
}

export interface FolderListing {
  /** The names as text, lossless (decodeFsName). */
  readonly names: readonly string[];
  /** The same names as bytes, as system calls take them. */
  readonly raw: readonly Buffer[];
  readonly types: readonly EntryType[];
}

/**
 * Lists the folder seen as `fdPath` (/proc/self/fd/N of the descriptor the
 * walk holds). Names are read as bytes, so a name that is not UTF-8 is listed,
 * sorted by its bytes and can be opened. Throws as readdirSync.
 */
export function listFolder(fdPath: string): FolderListing {
  // A Buffer path, so that Node can lstat an entry of unknown type (DT_UNKNOWN) by joining it with the name.
  const entries = readdirSync(Buffer.from(fdPath), { withFileTypes: true, encoding: 'buffer' });
  entries.sort((a, b) => Buffer.compare(a.name, b.name));
  return {
    names: entries.map((e) => decodeFsName(e.name)),
    raw: entries.map((e) => e.name),
    types: entries.map(typeOfDirent),
  };
}

function typeOfDirent(e: Dirent<Buffer>): EntryType {
  if (e.isFile()) return EntryType.RegularFile;
  if (e.isDirectory()) return EntryType.Directory;
  if (e.isSymbolicLink()) return EntryType.SymbolicLink;
  if (e.isFIFO()) return EntryType.Fifo;
  if (e.isCharacterDevice()) return EntryType.CharacterDevice;
  if (e.isBlockDevice()) return EntryType.BlockDevice;
  return e.isSocket() ? EntryType.Socket : EntryType.Unknown;
}

/** How the walk opens a folder: never through a symlink, never blocking. */
export const FOLDER_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** `name` (as in FolderListing.raw) in the folder seen as `fdPath`, as a path a system call takes. */
export function pathThrough(fdPath: string, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${fdPath}/`), name]);
}

/**
 * Opens the subfolder `name` of the folder seen as `fdPath` without following
 * a symlink, and returns its descriptor and device. Throws as openSync (ELOOP
 * for a symlink) or fstatSync.
 */
export function openSubfolder(fdPath: string, name: Buffer): { fd: number; dev: number } {
  const sub = openSync(pathThrough(fdPath, name), FOLDER_FLAGS);
  try {
    return { fd: sub, dev: fileFacts(sub).dev };
  } catch (e) {
    closeSync(sub);
    throw e;
  }
}
