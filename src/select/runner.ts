import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * Longest stretch, in milliseconds, that runOrdered keeps the event loop
 * waiting. Work that is all synchronous calls (an import or a status of
 * files whose filesystem is already known) resolves in microtasks only, and
 * a run over 100,000 files would otherwise never let Node see a signal or
 * flush a timer: Ctrl-C was noticed after the last file.
 */
const EVENT_LOOP_TURN_MS = 20;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `r` is a promise (or any thenable) rather than a plain value. */
export function isPromise<R>(r: R | Promise<R>): r is Promise<R> {
  return typeof (r as Promise<R> | undefined)?.then === 'function';
}

/**
 * Runs a function over a stream of items with at most `jobs` in flight,
 * yielding results in input order. Memory is bounded by the window (jobs
 * plus the results waiting for a slower one before them), not by the number
 * of items. `work` may answer synchronously (a plain value) and `items` may
 * be a plain iterable: neither then costs a promise per item, and the event
 * loop still gets a turn at least every EVENT_LOOP_TURN_MS. Once `signal` is
 * aborted no new item starts (not even one the source has just handed over);
 * the items in flight finish and are yielded, then the run ends quietly.
 */
export function runOrdered<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  jobs: number,
  work: (item: T) => R | Promise<R>,
  signal?: AbortSignal,
): AsyncGenerator<R> {
  return oneByOne(runOrderedBatches(items, jobs, work, signal));
}

/** The items of batches, one by one. */
export async function* oneByOne<R>(batches: AsyncIterable<R[]>): AsyncGenerator<R> {
  for await (const batch of batches) yield* batch;
}

/**
 * As runOrdered, yielding the results a batch at a time: each batch is the
 * run of results ready at the head of the window, in order. An async
 * generator's round trip per result was a tenth of `import -r` once the
 * per-file work was all synchronous calls; a batch costs one.
 */
export async function* runOrderedBatches<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  jobs: number,
  work: (item: T) => R | Promise<R>,
  signal?: AbortSignal,
): AsyncGenerator<R[]> {
  const limit = Math.max(1, Math.floor(jobs));
  const window: (R | Promise<R>)[] = [];
  const sync = !(Symbol.asyncIterator in items);
  const iterator = (
    sync ? (items as Iterable<T>)[Symbol.iterator]() : (items as AsyncIterable<T>)[Symbol.asyncIterator]()
  ) as AsyncIterator<T> | Iterator<T>;
  let done = false;
  let turnAt = performance.now() + EVENT_LOOP_TURN_MS;
  const start = (item: T): void => {
    let r: R | Promise<R>;
    try {
      r = work(item);
    } catch (e) {
      r = Promise.reject(e); // thrown, not returned: still reported in its place
    }
    if (isPromise(r)) r.catch(() => {}); // awaited in order below; avoid an unhandled-rejection warning meanwhile
    window.push(r);
  };
  const room = (): boolean => !done && window.length < limit && !signal?.aborted;
  const fillSync = (): void => {
    while (room()) {
      const next = (iterator as Iterator<T>).next();
      if (next.done) done = true;
      else start(next.value);
    }
  };
  const fillAsync = async (): Promise<void> => {
    while (room()) {
      const next = await iterator.next();
      if (next.done) done = true;
      else if (signal?.aborted) {
        // Aborted while the source looked for it: not started (the finally below closes the source).
        return;
      } else start(next.value);
    }
  };
  try {
    if (sync) fillSync();
    else await fillAsync();
    while (window.length > 0) {
      const batch: R[] = [];
      const head = window[0]!;
      if (isPromise(head)) {
        window.shift();
        batch.push(await head);
      }
      // Then every plain result that follows, up to the next one still pending.
      let ready = 0;
      while (ready < window.length && !isPromise(window[ready]!)) ready++;
      for (const r of window.splice(0, ready)) batch.push(r as R);
      yield batch;
      if (performance.now() >= turnAt) {
        await nextTurn();
        turnAt = performance.now() + EVENT_LOOP_TURN_MS;
      }
      if (sync) fillSync();
      else await fillAsync();
    }
  } finally {
    // Stopped early (or the consumer left): let the source run its own cleanup (the walk closes its directories).
    if (!done) {
      try {
        await iterator.return?.();
      } catch {
        /* the source's own cleanup failed: nothing more to do here */
      }
    }
  }
}

/**
 * Files in flight by default. The small per-file calls are synchronous; what
 * runs in parallel is the thread pool's work (RSA signing, flushes, reads of
 * large files), and a file waiting there holds little (its sidecar, at most a
 * 1 MiB copy for the signer; large reads are bounded apart, crypto/digest.ts).
 * The flushes wait for the disk, so the pool stays fed only with many files
 * queued: sign -r over 5,000 files on 2 cores took 6.0-6.2 s with 16 in
 * flight, 5.2-5.7 s with 32, 5.2 s with 64, 4.9-5.1 s with 128 (bench/bench.js
 * corpus, same disk state). 32 per core, 32..128.
 */
export function defaultJobs(): number {
  return Math.max(32, Math.min(128, availableParallelism() * 32));
}

/**
 * Files in flight for operations that copy whole files (migrate): each holds a
 * 1 MiB copy buffer and a disk stream, and more streams than the disk can
 * serve at once only interleave them. Eight per core, 8..32.
 */
export function copyJobs(): number {
  return Math.max(8, Math.min(32, availableParallelism() * 8));
}

/** Descriptors a file in flight may hold at once (the file, a temporary or a copy, a sidecar, a directory to flush). */
const DESCRIPTORS_PER_FILE = 4;
/** Descriptors the process needs besides (standard streams, Node's own, the walk's open directories). */
const DESCRIPTORS_RESERVED = 48;

let openFileLimit: number | undefined | null = null;

/**
 * This process's soft limit on open files, from /proc/self/limits (Node has no
 * getrlimit); undefined when unknown or unlimited.
 */
function softOpenFileLimit(): number | undefined {
  if (openFileLimit === null) {
    try {
      const line = readFileSync('/proc/self/limits', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('Max open files'));
      const soft = Number(line?.split(/\s{2,}/)[1]);
      openFileLimit = Number.isFinite(soft) && soft > 0 ? soft : undefined;
    } catch {
      openFileLimit = undefined;
    }
  }
  return openFileLimit;
}

/**
 * A default number of files in flight lowered to what the open-file limit
 * allows: with `ulimit -n 64`, 64 files in flight made files fail with EMFILE.
 * An explicit --jobs is taken as given.
 */
export function withinOpenFileLimit(jobs: number): number {
  const limit = softOpenFileLimit();
  if (limit === undefined) return jobs;
  return Math.max(1, Math.min(jobs, Math.floor((limit - DESCRIPTORS_RESERVED) / DESCRIPTORS_PER_FILE)));
}
