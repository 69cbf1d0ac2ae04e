/**
 * The shape every tree operation shares: select, run each target with bounded
 * concurrency, yield results in a stable order.
 */
import { unlinkSync } from 'node:fs';
import { defaultJobs, isPromise, oneByOne, runOrderedBatches, withinOpenFileLimit } from '../select/runner.js';
import { Selected, SelectOptions, selectFiles } from '../select/walk.js';
import { FileResult, resultForNonTarget, SelectionResult } from './result.js';
import { Run } from '../carriers/run.js';

export interface TreeOptions {
  readonly select: SelectOptions;
  readonly jobs?: number;
  /** Files in flight when `jobs` is not given (default: defaultJobs()). */
  readonly defaultJobs?: number;
  /**
   * Once aborted, no new file starts; the files in flight finish and are
   * yielded, then the run ends without an error (the caller knows why from
   * the signal). Aborted before the run: no file starts, nothing is yielded.
   */
  readonly signal?: AbortSignal;
  /**
   * Once aborted (a second Ctrl-C), every write in flight is rolled back at
   * its next step, except one completing a file already in place, and no new
   * write starts; aborting it does not stop the run: abort `signal` too.
   */
  readonly rollback?: AbortSignal;
  /** Remove temporary files that killed runs left behind (operations that write). */
  readonly cleanStaleTemporaries?: boolean;
}

export type TargetSelection = Extract<Selected, { kind: 'target' }>;

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
export interface TreeResults<R extends FileResult<string, object> = FileResult> extends AsyncGenerator<R> {
  batches(): AsyncGenerator<R[]>;
}

/** Calls `each` with every result, in order, taking a TreeResults a batch at a time. */
export async function forEachResult<R>(results: AsyncIterable<R>, each: (r: R) => void): Promise<void> {
  for await (const batch of resultBatches(results)) for (const r of batch) each(r);
}

/** The results of any async iterable a batch at a time: a TreeResults' own batches, else one result per batch. */
export function resultBatches<R>(results: AsyncIterable<R>): AsyncIterable<R[]> {
  const own = (results as { batches?: () => AsyncGenerator<R[]> }).batches;
  if (typeof own === 'function') return own.call(results);
  return (async function* () {
    for await (const r of results) yield [r];
  })();
}

/**
 * Selects the targets and runs `perTarget` over them in order (see
 * TreeResults). `perTarget` may answer synchronously: the common case of an
 * import or a status is all synchronous calls, and a plain value costs no promise.
 * Entries that are not targets are the selection's own results (SelectionResult).
 */
export function processTree<R extends FileResult<string, object>>(
  paths: readonly string[],
  opts: TreeOptions,
  perTarget: (sel: TargetSelection, run: Run) => R | Promise<R>,
  run: Run = new Run(opts.rollback),
): TreeResults<R | SelectionResult> {
  const source = processTreeBatches(paths, opts, perTarget, run);
  return Object.assign(oneByOne(source), { batches: () => source });
}

async function* processTreeBatches<R extends FileResult<string, object>>(
  paths: readonly string[],
  opts: TreeOptions,
  perTarget: (sel: TargetSelection, run: Run) => R | Promise<R>,
  run: Run,
): AsyncGenerator<(R | SelectionResult)[]> {
  // Each file's operation reaches its directory through the descriptor the walk holds
  // (carriers/fs-path.ts) until released.
  const select: SelectOptions = {
    ...opts.select,
    pinDirectories: true,
    ...(opts.cleanStaleTemporaries ? { onStaleTemporary: removeQuietly } : {}),
  };
  const work = (sel: Selected): R | SelectionResult | Promise<R> => {
    if (sel.kind !== 'target') return resultForNonTarget(sel);
    let result: R | Promise<R>;
    try {
      result = perTarget(sel, run);
    } catch (e) {
      sel.pinned?.release();
      throw e;
    }
    if (isPromise(result)) return result.finally(() => sel.pinned?.release());
    sel.pinned?.release();
    return result;
  };
  const jobs = opts.jobs ?? withinOpenFileLimit(opts.defaultJobs ?? defaultJobs());
  yield* runOrderedBatches(selectFiles(paths, select), jobs, work, opts.signal);
}
