/**
 * The appended signature as a carrier: finding it at the end of an open file
 * (the last 40 bytes, then the CMS: never the whole file), and writing a file
 * made of a range of another plus some bytes, atomically and streaming, so
 * that a large kernel image never has to fit in memory.
 */
import { readSync } from 'node:fs';
import type { Stats } from 'node:fs';
import type { PositionalReader } from '../crypto/digest.js';
import {
  AppendedLayout,
  endsWithMagic,
  MODSIG_MAGIC_SIZE,
  MODSIG_TRAILER_SIZE,
  parseTrailer,
} from '../codec/modsig.js';
import { FormatError } from '../errors.js';
import { AtomicWriteOptions, NewFile, writeFileAtomic, WriteResult } from './atomic-write.js';

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
      `truncated: the file is ${size} bytes, too short for the ${MODSIG_TRAILER_SIZE}-byte trailer ` +
        'plus a signature and a payload',
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
  to: NewFile,
  buffer: Buffer,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const want = Math.min(buffer.length, length - done);
    const { bytesRead } = await from.read(buffer, 0, want, start + done);
    if (bytesRead === 0) throw new Error(`source ended after ${start + done} bytes (it shrank while being copied)`);
    await to.write(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
}

/**
 * Writes the concatenation of `parts` to `path` with the one atomic writer
 * (carriers/atomic-write.ts), streaming: a large kernel image never has to
 * fit in memory.
 */
export function writePartsAtomic(path: string, parts: readonly Part[], opts: AtomicWriteOptions): Promise<WriteResult> {
  return writeFileAtomic(
    path,
    async (file) => {
      const buffer = Buffer.allocUnsafe(CHUNK);
      for (const p of parts) {
        if (Buffer.isBuffer(p)) await file.write(p);
        else await copyRange(p.handle, p.start, p.length, file, buffer);
      }
    },
    opts,
  );
}

/** Mode and owner to give a rewritten copy of a file: its own, without set-id bits. */
export function keepModeOf(st: Stats): Pick<AtomicWriteOptions, 'mode' | 'owner'> {
  return { mode: st.mode & 0o777, owner: { uid: st.uid, gid: st.gid } };
}
