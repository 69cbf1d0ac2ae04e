/**
 * The appended signature as a carrier: finding it at the end of an open file
 * (the last 40 bytes, then the CMS: never the whole file), and writing a file
 * made of a range of another plus some bytes, atomically and streaming, so
 * that a large kernel image never has to fit in memory.
 */
import { constants, readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { FileHandle, open, rename, unlink } from 'node:fs/promises';
import type { PositionalReader } from '../crypto/digest.js';
import {
  AppendedLayout,
  endsWithMagic,
  MODSIG_MAGIC_SIZE,
  MODSIG_TRAILER_SIZE,
  parseTrailer,
} from '../codec/modsig.js';
import { FileError, FormatError, describeSystemError, errnoOf } from '../errors.js';
import { fsPath } from './fs-path.js';
import {
  existingRegularFile,
  registerTemporary,
  syncDirectoryOf,
  temporaryPathFor,
  unregisterTemporary,
} from './atomic-write.js';

export interface AppendedInfo {
  readonly layout: AppendedLayout;
  /** The sig_len bytes of the PKCS#7 message, not yet parsed. */
  readonly cms: Buffer;
}

async function readExactly(handle: PositionalReader, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, position + got);
    if (bytesRead === 0)
      throw new FormatError(
        `the file ended early: read ${position + got} of ${position + length} bytes (did it shrink?)`,
      );
    got += bytesRead;
  }
  return buf;
}

/**
 * Whether the open file of `size` bytes ends with the appended-signature
 * marker: one small synchronous read, so that the common case, no appended
 * signature, costs no promise. A file that shrank meanwhile answers true:
 * readAppendedSignature then reports it.
 */
export function endsWithAppendedMarker(fd: number, size: number): boolean {
  if (size < MODSIG_MAGIC_SIZE) return false;
  const tail = Buffer.allocUnsafe(MODSIG_MAGIC_SIZE);
  for (let got = 0; got < MODSIG_MAGIC_SIZE;) {
    const bytesRead = readSync(fd, tail, got, MODSIG_MAGIC_SIZE - got, size - MODSIG_MAGIC_SIZE + got);
    if (bytesRead === 0) return true;
    got += bytesRead;
  }
  return endsWithMagic(tail);
}

/**
 * Looks for an appended signature at the end of an open file of `size`
 * bytes. Undefined when there is none (no marker); FormatError when the
 * marker is there but the trailer breaks the kernel's rules. Reads 40 bytes,
 * then sig_len bytes.
 */
export async function readAppendedSignature(handle: PositionalReader, size: number): Promise<AppendedInfo | undefined> {
  if (size < MODSIG_MAGIC_SIZE) return undefined;
  const tailLength = Math.min(size, MODSIG_TRAILER_SIZE);
  const tail = await readExactly(handle, tailLength, size - tailLength);
  if (!endsWithMagic(tail)) return undefined;
  if (tailLength < MODSIG_TRAILER_SIZE) {
    throw new FormatError(
      `truncated: the file is ${size} bytes, too short for the ${MODSIG_TRAILER_SIZE}-byte trailer plus a signature and a payload`,
    );
  }
  const layout = parseTrailer(tail, size);
  const cms = await readExactly(handle, layout.sigLen, layout.cmsOffset);
  return { layout, cms };
}

/** A piece of the output: a byte range of an open file, or bytes. */
export type Part = { readonly handle: PositionalReader; readonly start: number; readonly length: number } | Buffer;

const CHUNK = 1 << 20;

async function copyRange(
  from: PositionalReader,
  start: number,
  length: number,
  to: FileHandle,
  buffer: Buffer,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const want = Math.min(buffer.length, length - done);
    const { bytesRead } = await from.read(buffer, 0, want, start + done);
    if (bytesRead === 0) throw new Error(`source ended after ${start + done} bytes (it shrank while being copied)`);
    await to.write(buffer, 0, bytesRead);
    done += bytesRead;
  }
}

export interface StreamWriteOptions {
  /** Permission bits of the new file (not subject to the umask). */
  readonly mode: number;
  /** Try to give the new file this owner (only works for root; failures are ignored). */
  readonly owner?: { uid: number; gid: number };
  /** Runs after the data is on disk and before the rename; throwing aborts with nothing replaced. */
  readonly beforeRename?: () => void | Promise<void>;
  readonly what?: string;
}

/**
 * Writes the concatenation of `parts` to `path` atomically: a temporary file
 * beside it (named and registered as writeFileAtomic names them, so signal
 * handlers and later runs clean it up), fsync, rename, fsync of the
 * directory. Refuses to replace anything but a regular file.
 */
export async function writePartsAtomic(
  path: string,
  parts: readonly Part[],
  opts: StreamWriteOptions,
): Promise<{ replaced: boolean }> {
  const what = opts.what ?? 'file';
  const replaced = await existingRegularFile(path, what);
  const tmp = temporaryPathFor(path);
  registerTemporary(tmp);
  try {
    const h = await open(
      fsPath(tmp),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (const p of parts) {
        if (Buffer.isBuffer(p)) await h.write(p, 0, p.length);
        else await copyRange(p.handle, p.start, p.length, h, buffer);
      }
      if (opts.owner) await h.chown(opts.owner.uid, opts.owner.gid).catch(() => {});
      await h.chmod(opts.mode & 0o7777);
      await h.sync();
    } finally {
      await h.close();
    }
    if (opts.beforeRename) await opts.beforeRename();
    await rename(fsPath(tmp), fsPath(path));
    unregisterTemporary(tmp);
  } catch (e) {
    await unlink(fsPath(tmp)).catch(() => {});
    unregisterTemporary(tmp);
    if (e instanceof FileError && e.code === 'ECHANGED') throw e;
    throw new FileError(path, `cannot write ${what}: ${describeSystemError(e)}`, errnoOf(e));
  }
  await syncDirectoryOf(path);
  return { replaced };
}

/** Mode and owner to give a rewritten copy of a file: its own, without set-id bits. */
export function keepModeOf(st: Stats): Pick<StreamWriteOptions, 'mode' | 'owner'> {
  return { mode: st.mode & 0o777, owner: { uid: st.uid, gid: st.gid } };
}
