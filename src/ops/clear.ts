/**
 * clear: remove the xattr, but never the only copy of a signature.
 */
import { Run } from '../carriers/run.js';
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { readTargetXattr, removeTargetXattr } from '../carriers/target.js';
import { withTarget } from './with-target.js';
import { FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

/** none: no xattr to remove; refused: a signature with no identical sidecar (without `force`). */
export type ClearStatus = 'cleared' | 'would-clear' | 'none' | 'refused' | 'failed' | SelectionStatus;

export type ClearDetails = SelectionDetails & {
  readonly filesystem?: string;
  /** The value removed (or that would be, or was refused), hex. */
  readonly removed?: string;
};

export type ClearResult = FileResult<ClearStatus, ClearDetails>;

export interface ClearOptions {
  readonly xattrName: string;
  readonly suffix: string;
  readonly force?: boolean;
  readonly dryRun?: boolean;
}

export async function clearFile(path: string, opts: ClearOptions, run = new Run()): Promise<ClearResult> {
  return withTarget<ClearStatus, ClearDetails>(path, run, 'failed', async (target) => {
    const before = target.stat;
    const current = readTargetXattr(target, opts.xattrName);
    if (!current) return { path, status: 'none', failed: false, details: { filesystem: target.fs.name } };
    const d = tryDecode(current);
    const decoded = 'error' in d ? undefined : d.value;
    const base = {
      path,
      value: current,
      decoded,
      details: { filesystem: target.fs.name, removed: current.toString('hex') },
    };
    if (decoded?.kind === 'signature' && !opts.force) {
      let backup: Buffer | undefined;
      try {
        backup = readSidecar(sidecarPathFor(path, opts.suffix));
      } catch {
        backup = undefined;
      }
      if (!backup?.equals(current)) {
        return {
          ...base,
          status: 'refused',
          failed: true,
          reason:
            `the signature in ${opts.xattrName} has no identical sidecar to back it up; ` +
            'export it first, or use --force',
        };
      }
    }
    if (opts.dryRun) return { ...base, status: 'would-clear', failed: false };
    removeTargetXattr(target, opts.xattrName, before);
    return { ...base, status: 'cleared', failed: false };
  });
}

export function clearTree(paths: readonly string[], tree: TreeOptions, opts: ClearOptions): TreeResults<ClearResult> {
  return processTree(paths, tree, (sel, run) => clearFile(sel.path, opts, run));
}
