/**
 * The frame of every per-file operation: open the target (never through a
 * symlink), run the work on the open file, turn any error into a failed
 * record with the reason, and always close.
 */
import { closeTarget, openTarget, Target } from '../carriers/target.js';
import { failure, FileResult } from './result.js';

export async function withTarget(path: string, failStatus: string, work: (t: Target) => Promise<FileResult>): Promise<FileResult> {
  let target: Target;
  try {
    target = openTarget(path);
  } catch (e) {
    return failure(path, failStatus, e);
  }
  try {
    return await work(target);
  } catch (e) {
    return failure(path, failStatus, e);
  } finally {
    closeTarget(target);
  }
}
