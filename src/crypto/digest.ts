/**
 * Streaming the bytes of a file through hashes, signers and verifiers, with a
 * fixed buffer so memory stays flat whatever the file size.
 */
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import type { HashAlgo } from '../codec/hash-algo.js';
import type { ContentSink } from './signature.js';

const CHUNK = 1 << 20;

/** Files smaller than this are read in one synchronous read (streamSmallSync). */
export const ONE_READ = CHUNK;

/** An open file that can be read at an offset: a FileHandle, or carriers' lighter ReadableFile. */
export interface PositionalReader {
  readonly fd: number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/**
 * Read buffers, reused from file to file. A fresh 1 MiB buffer per file made
 * the garbage collector a quarter of the CPU time of `verify -r` over small
 * files (measured with --cpu-prof); the pool holds at most one buffer per
 * file in flight, so memory stays flat.
 */
const spare: Buffer[] = [];
const MAX_SPARE = 16;

/**
 * Files streamed past their first chunk at once. Hashing runs on this thread,
 * so more large files at a time only interleave; the bound keeps their
 * buffers (2 MiB each) to a few MiB however many files are in flight.
 */
const LARGE_STREAMS = 4;
let largeStreams = 0;
const waitingForStream: (() => void)[] = [];

async function startLargeStream(): Promise<void> {
  if (largeStreams < LARGE_STREAMS) {
    largeStreams++;
    return;
  }
  // The slot is handed over by endLargeStream, still counted.
  await new Promise<void>((resolve) => waitingForStream.push(resolve));
}

function endLargeStream(): void {
  const next = waitingForStream.shift();
  if (next) next();
  else largeStreams--;
}

/**
 * Feeds every byte of the open file, from offset 0 up to `limit` (default: all), to each sink; returns the byte count.
 * A chunk handed to a sink is only valid during the call (the buffer is reused): a sink that keeps bytes copies them.
 *
 * The first chunk is read synchronously: most files fit in it, and a read from
 * the page cache takes microseconds where a thread-pool round trip costs tens
 * (bench/bench.js, verify -r). Past the first chunk, the next chunk is read on
 * the thread pool into a second buffer while this one is hashed: reading and
 * hashing a 1 GiB file one after the other took 1.66x evmctl's time, the
 * overlap brings it near OpenSSL's hashing speed; at most LARGE_STREAMS
 * files at a time get that far. The event loop keeps turning between chunks
 * (signals, other files).
 */
export async function streamHandle(
  handle: PositionalReader,
  sinks: readonly ContentSink[],
  limit = Infinity,
): Promise<number> {
  let current: Buffer | undefined = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  let other: Buffer | undefined;
  let pending: Promise<number> | undefined;
  let position = 0;
  let large = false;
  const feed = (bytes: Buffer): void => {
    for (const s of sinks) s.update(bytes);
  };
  try {
    let want = Math.min(CHUNK, limit);
    let bytesRead = want > 0 ? readSync(handle.fd, current, 0, want, 0) : 0;
    while (bytesRead > 0) {
      const next = position + bytesRead;
      want = Math.min(CHUNK, limit - next);
      if (want > 0 && next >= CHUNK && !large) {
        // A large file: wait for a stream slot holding no buffer (the first chunk is hashed first).
        feed(current!.subarray(0, bytesRead));
        position = next;
        if (spare.length < MAX_SPARE) spare.push(current!);
        current = undefined;
        await startLargeStream();
        large = true;
        current = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
        bytesRead = readSync(handle.fd, current, 0, want, position);
        continue;
      }
      if (want > 0 && large) {
        // Start reading the next chunk before hashing this one.
        other ??= spare.pop() ?? Buffer.allocUnsafe(CHUNK);
        pending = handle.read(other, 0, want, next).then((r) => r.bytesRead);
      }
      feed(current!.subarray(0, bytesRead));
      position = next;
      if (want <= 0) break;
      if (pending) {
        bytesRead = await pending;
        pending = undefined;
        [current, other] = [other!, current];
      } else {
        bytesRead = readSync(handle.fd, current!, 0, want, position);
      }
    }
  } finally {
    // Never hand back a buffer a read is still filling.
    if (pending) await pending.catch(() => 0);
    for (const b of [current, other]) if (b && spare.length < MAX_SPARE) spare.push(b);
    if (large) endLargeStream();
  }
  return position;
}

/**
 * As streamHandle, synchronously, for a file that fits in one chunk (most
 * files of a tree: the promise streamHandle costs is then a good part of the
 * work). Undefined, having fed nothing, when it is larger than a chunk
 * (or grew to that since its size was taken): stream it with streamHandle.
 */
export function streamSmallSync(fd: number, sinks: readonly ContentSink[], limit = Infinity): number | undefined {
  const buf = spare.pop() ?? Buffer.allocUnsafe(CHUNK);
  try {
    const want = Math.min(CHUNK, limit);
    let total = 0;
    for (;;) {
      const bytesRead = total < want ? readSync(fd, buf, total, want - total, total) : 0;
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    // A whole chunk and more to come: not a small file.
    if (total === CHUNK && limit > CHUNK && readSync(fd, Buffer.allocUnsafe(1), 0, 1, CHUNK) > 0) return undefined;
    const bytes = buf.subarray(0, total);
    for (const s of sinks) s.update(bytes);
    return total;
  } finally {
    if (spare.length < MAX_SPARE) spare.push(buf);
  }
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
