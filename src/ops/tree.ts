/**
 * The shape every tree operation shares: select, run each target with bounded
 * concurrency, yield results in a stable order.
 */
import { defaultJobs, runOrdered } from '../select/runner.js';
import { Selected, SelectOptions, selectFiles } from '../select/walk.js';
import { unlink } from 'node:fs/promises';
import { FileResult, resultForNonTarget } from './result.js';

export interface TreeOptions {
  readonly select: SelectOptions;
  readonly jobs?: number;
  /** Polled between files; in-flight files finish, no new ones start. */
  readonly shouldStop?: () => boolean;
  /** Whether a sidecar without its file counts as a failure for this operation. */
  readonly orphanFails?: boolean;
  /** Remove temporary files that killed runs left behind (operations that write). */
  readonly cleanStaleTemporaries?: boolean;
}

export type TargetSelection = Extract<Selected, { kind: 'target' }>;

export function processTree(paths: readonly string[], opts: TreeOptions, perTarget: (sel: TargetSelection) => Promise<FileResult>): AsyncGenerator<FileResult> {
  // Each file's operation reaches its directory through the descriptor the walk holds (carriers/fs-path.ts) until released.
  const select: SelectOptions = { ...opts.select, pinDirectories: true, ...(opts.cleanStaleTemporaries ? { onStaleTemporary: (_p: string, at: string | Buffer) => unlink(at).catch(() => {}) } : {}) };
  const work = async (sel: Selected): Promise<FileResult> => {
    if (sel.kind !== 'target') return resultForNonTarget(sel, opts.orphanFails ?? false);
    try {
      return await perTarget(sel);
    } finally {
      sel.pinned?.release();
    }
  };
  return runOrdered(selectFiles(paths, select), opts.jobs ?? defaultJobs(), work, opts.shouldStop);
}
