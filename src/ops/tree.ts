/**
 * The shape every tree operation shares: select, run each target with bounded
 * concurrency, yield results in a stable order.
 */
import { availableParallelism } from 'node:os';
import { unlinkSync } from 'node:fs';
import { defaultJobs, isPromise, oneByOne, runOrderedBatches, withinOpenFileLimit } from '../select/runner.js';
import { Selected, SelectOptions, selectFiles } from '../select/walk.js';
import { BATCH, WorkerPool } from '../select/worker-pool.js';
import { FileResult, resultForNonTarget } from './result.js';
import type { ParallelTask } from './parallel.js';
import { reviveResult, targetToWire, WireTarget } from './wire.js';
import { workerScript } from './worker-script.js';

export interface TreeOptions {
  readonly select: SelectOptions;
  readonly jobs?: number;
  /** Files in flight when `jobs` is not given (default: defaultJobs()). */
  readonly defaultJobs?: number;
  /**
   * Worker threads for the files found below directory arguments, for the
   * operations that can use them (default: defaultThreads(); 0 or 1:
   * none). Files named on the command line are always done on this thread,
   * so a one-file run never starts a worker.
   */
  readonly threads?: number;
  /** Polled between files; in-flight files finish, no new ones start. */
  readonly shouldStop?: () => boolean;
  /** Whether a sidecar without its file counts as a failure for this operation. */
  readonly orphanFails?: boolean;
  /** Remove temporary files that killed runs left behind (operations that write). */
  readonly cleanStaleTemporaries?: boolean;
}

export type TargetSelection = Extract<Selected, { kind: 'target' }>;

/**
 * Worker threads by default: none on one or two cores, else one per core
 * but the main thread's, at most 8. A tree run on one thread already keeps
 * about 1.3 cores busy (the walk, V8's compiler and collector, the thread
 * pool), and on this project's 2-core machine workers cost more than they
 * gave, every operation (5,000-file trees, medians: verify -r 1.47 s with one
 * thread, 1.59 s with two workers; import -r 1.10 s against 1.31 s; status -r
 * over 20,000 tiny files 2.91 s and 106 MiB against 3.22 s and 139 MiB).
 * Above two cores this is untested here.
 */
export function defaultThreads(): number {
  const cores = availableParallelism();
  return cores <= 2 ? 1 : Math.min(8, cores - 1);
}

/** A stale temporary's removal: one it cannot remove is left for the next run (or for whoever owns it). */
function removeQuietly(_path: string, at: string | Buffer): void {
  try {
    unlinkSync(at);
  } catch {
    /* left where it is */
  }
}

/**
 * A tree operation's results: one by one (the library's view, an async
 * generator), or a batch at a time (`batches`, what the command line reads:
 * one async round trip per batch rather than per file, see
 * runOrderedBatches). Both draw from the same run: take one or the other.
 */
export interface TreeResults extends AsyncGenerator<FileResult> {
  batches(): AsyncGenerator<FileResult[]>;
}

/** Calls `each` with every result, in order, taking a TreeResults a batch at a time. */
export async function forEachResult(results: AsyncIterable<FileResult>, each: (r: FileResult) => void): Promise<void> {
  for await (const batch of resultBatches(results)) for (const r of batch) each(r);
}

/** The results of any async iterable a batch at a time: a TreeResults' own batches, else one result per batch. */
export function resultBatches(results: AsyncIterable<FileResult>): AsyncIterable<FileResult[]> {
  const own = (results as Partial<TreeResults>).batches;
  if (typeof own === 'function') return own.call(results);
  return (async function* () {
    for await (const r of results) yield [r];
  })();
}

/**
 * Selects the targets and runs `perTarget` over them in order (see
 * TreeResults). `perTarget` may answer synchronously: the common case of an
 * import or a status is all synchronous calls, and a plain value costs no promise.
 */
export function processTree(
  paths: readonly string[],
  opts: TreeOptions,
  perTarget: (sel: TargetSelection) => FileResult | Promise<FileResult>,
  parallel?: ParallelTask,
): TreeResults {
  const source = processTreeBatches(paths, opts, perTarget, parallel);
  return Object.assign(oneByOne(source), { batches: () => source });
}

async function* processTreeBatches(
  paths: readonly string[],
  opts: TreeOptions,
  perTarget: (sel: TargetSelection) => FileResult | Promise<FileResult>,
  parallel?: ParallelTask,
): AsyncGenerator<FileResult[]> {
  // Each file's operation reaches its directory through the descriptor the walk holds (carriers/fs-path.ts) until released.
  const select: SelectOptions = {
    ...opts.select,
    pinDirectories: true,
    ...(opts.cleanStaleTemporaries ? { onStaleTemporary: removeQuietly } : {}),
  };
  const threads = parallel ? (opts.threads ?? defaultThreads()) : 0;
  let pool: WorkerPool<WireTarget, FileResult> | undefined;
  const work = (sel: Selected): FileResult | Promise<FileResult> => {
    if (sel.kind !== 'target') return resultForNonTarget(sel, opts.orphanFails ?? false);
    let result: FileResult | Promise<FileResult>;
    try {
      // Started at the first file found inside a directory: a run over a few named files stays on this thread.
      if (threads > 1 && sel.rel !== '') pool ??= new WorkerPool(workerScript(), threads, parallel, reviveResult);
      result = pool ? pool.run(targetToWire(sel)) : perTarget(sel);
    } catch (e) {
      sel.pinned?.release();
      throw e;
    }
    if (isPromise(result)) return result.finally(() => sel.pinned?.release());
    sel.pinned?.release();
    return result;
  };
  // Workers need a few batches each in flight to stay busy (unless --jobs says otherwise).
  const jobs =
    opts.jobs ??
    withinOpenFileLimit(Math.max(opts.defaultJobs ?? defaultJobs(), threads > 1 ? threads * BATCH * 2 : 0));
  try {
    yield* runOrderedBatches(selectFiles(paths, select), jobs, work, opts.shouldStop);
  } finally {
    await pool?.close();
  }
}
