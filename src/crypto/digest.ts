/**
 * Streaming the bytes of a file through hashes, signers and verifiers, with a
 * fixed buffer so memory stays flat whatever the file size.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { HashAlgo } from '../codec/hash-algo.js';
import type { ContentSink } from './signature.js';

const CHUNK = 1 << 20;

/** Feeds every byte of the open file, from offset 0 up to `limit` (default: all), to each sink; returns the byte count. */
export async function streamHandle(handle: FileHandle, sinks: readonly ContentSink[], limit = Infinity): Promise<number> {
  const buffer = Buffer.allocUnsafe(CHUNK);
  let position = 0;
  for (;;) {
    const want = Math.min(CHUNK, limit - position);
    if (want <= 0) break;
    const { bytesRead } = await handle.read(buffer, 0, want, position);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    for (const s of sinks) s.update(chunk);
    position += bytesRead;
  }
  return position;
}

/** A sink that computes one digest. */
export class DigestSink implements ContentSink {
  private readonly hash;
  constructor(readonly algo: HashAlgo) {
    this.hash = createHash(algo.nodeName!);
  }
  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): Buffer {
    return this.hash.digest();
  }
}

export function digestBytes(algo: HashAlgo, bytes: Uint8Array): Buffer {
  return createHash(algo.nodeName!).update(bytes).digest();
}
