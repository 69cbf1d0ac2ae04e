/**
 * The shape every tree operation shares: select, run each target with bounded
 * concurrency, yield results in a stable order.
 */
import { availableParallelism } from 'node:os';
import { unlink } from 'node:fs/promises';
import { defaultJobs, runOrdered, withinOpenFileLimit } from '../select/runner.js';
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
   * operations that can use them (default: one per core, at most 8; 0 or 1:
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

export function defaultThreads(): number {
  return Math.min(8, availableParallelism());
}

export async function* processTree(paths: readonly string[], opts: TreeOptions, perTarget: (sel: TargetSelection) => Promise<FileResult>, parallel?: ParallelTask): AsyncGenerator<FileResult> {
  // Each file's operation reaches its directory through the descriptor the walk holds (carriers/fs-path.ts) until released.
  const select: SelectOptions = { ...opts.select, pinDirectories: true, ...(opts.cleanStaleTemporaries ? { onStaleTemporary: (_p: string, at: string | Buffer) => unlink(at).catch(() => {}) } : {}) };
  const threads = parallel ? (opts.threads ?? defaultThreads()) : 0;
  let pool: WorkerPool<WireTarget, FileResult> | undefined;
  const work = async (sel: Selected): Promise<FileResult> => {
    if (sel.kind !== 'target') return resultForNonTarget(sel, opts.orphanFails ?? false);
    try {
      // Started at the first file found inside a directory: a run over a few named files stays on this thread.
      if (threads > 1 && sel.rel !== '') pool ??= new WorkerPool(workerScript(), threads, parallel, reviveResult);
      return await (pool ? pool.run(targetToWire(sel)) : perTarget(sel));
    } finally {
      sel.pinned?.release();
    }
  };
  // Workers need a few batches each in flight to stay busy (unless --jobs says otherwise).
  const jobs = opts.jobs ?? withinOpenFileLimit(Math.max(opts.defaultJobs ?? defaultJobs(), threads > 1 ? threads * BATCH * 2 : 0));
  try {
    yield* runOrdered(selectFiles(paths, select), jobs, work, opts.shouldStop);
  } finally {
    await pool?.close();
  }
}
