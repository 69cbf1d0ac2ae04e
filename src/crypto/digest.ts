/**
 * Streaming the bytes of a file through hashes, signers and verifiers, with a
 * fixed buffer so memory stays flat whatever the file size.
 */
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { HashAlgo } from '../codec/hash-algo.js';
import type { ContentSink } from './signature.js';

const CHUNK = 1 << 20;

/**
 * Read buffers, reused from file to file. A fresh 1 MiB buffer per file made
 * the garbage collector a quarter of the CPU time of `verify -r` over small
 * files (measured with --cpu-prof); the pool holds at most one buffer per
 * file in flight, so memory stays flat.
 */
const spare: Buffer[] = [];
const MAX_SPARE = 16;

/**
 * Feeds every byte of the open file, from offset 0 up to `limit` (default: all), to each sink; returns the byte count.
 * A chunk handed to a sink is only valid during the call (the buffer is reused): a sink that keeps bytes copies them.
 *
 * The first chunk is read synchronously: most files fit in it, and a read from
 * the page cache takes microseconds where a thread-pool round trip costs tens
 * (bench/bench.js, verify -r). The rest of a larger file is read
 * asynchronously, so the event loop (signals, other files) keeps turning.
 */
export async function streamHandle(handle: FileHandle, sinks: readonly ContentSink[], limit = Infinity): Promise<number> {
  const buffer = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  let position = 0;
  try {
    for (;;) {
      const want = Math.min(CHUNK, limit - position);
      if (want <= 0) break;
      const bytesRead = position < CHUNK ? readSync(handle.fd, buffer, 0, want, position) : (await handle.read(buffer, 0, want, position)).bytesRead;
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      for (const s of sinks) s.update(chunk);
      position += bytesRead;
    }
  } finally {
    if (spare.length < MAX_SPARE) spare.push(buffer);
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
