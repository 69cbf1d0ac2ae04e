/**
 * The frame of every per-file operation: open the target (never through a
 * symlink), run the work on the open file, turn any error into a failed
 * record with the reason, and always close.
 */
import { closeTarget, openTarget, Target } from '../carriers/target.js';
import type { Run } from '../carriers/run.js';
import { isPromise } from '../select/runner.js';
import { failure, FileResult } from './result.js';

/**
 * Synchronous when the work is (a plain result, no promise: the common case
 * of verify and status is all synchronous calls); else the work's promise,
 * the target closed once it settles. `S` and `D` are the operation's result
 * types: the failure status is one of them, and a failure carries no details.
 */
export function withTarget<S extends string, D extends object>(
  path: string,
  run: Run,
  failStatus: S,
  work: (t: Target) => FileResult<S, D> | Promise<FileResult<S, D>>,
): FileResult<S, D> | Promise<FileResult<S, D>> {
  let target: Target;
  try {
    target = openTarget(path, run);
  } catch (e) {
    return failure(path, failStatus, e);
  }
  let result: FileResult<S, D> | Promise<FileResult<S, D>>;
  try {
    result = work(target);
  } catch (e) {
    closeTarget(target);
    return failure(path, failStatus, e);
  }
  if (!isPromise(result)) {
    closeTarget(target);
    return result;
  }
  return result.then(
    (r) => {
      closeTarget(target);
      return r;
    },
    (e: unknown) => {
      closeTarget(target);
      return failure(path, failStatus, e);
    },
  );
}
