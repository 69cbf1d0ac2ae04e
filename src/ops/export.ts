/**
 * export: xattr -> sidecar, beside the file or in a mirror tree under `dest`
 * (for staging onto a FAT partition).
 */
import { Run } from '../carriers/run.js';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readSidecar, sidecarPathFor, writeSidecar } from '../carriers/sidecar.js';
import { closeTarget, openTarget, readTargetXattr } from '../carriers/target.js';
import { oneAtATimePerName } from '../carriers/name-lock.js';
import { describeSystemError, FileError, errnoOf } from '../errors.js';
import { fsPath } from '../carriers/fs-path.js';
import { failure, FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TargetSelection, TreeOptions, TreeResults } from './tree.js';

export interface ExportOptions {
  readonly xattrName: string;
  readonly suffix: string;
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** Write sidecars into a mirror tree under this directory. */
  readonly dest?: string;
}

/** none: the file has no xattr (or its filesystem takes none): nothing to export, not a failure. */
export type ExportStatus =
  'exported' | 'unchanged' | 'would-export' | 'none' | 'conflict' | 'invalid' | 'failed' | SelectionStatus;

export type ExportDetails = SelectionDetails & {
  readonly filesystem?: string;
  /** Where the sidecar goes (an orphan's: the one found). */
  readonly sidecar?: string;
  /** The different value the sidecar held, hex: replaced (with `force`), or the conflict. */
  readonly replaced?: string;
};

export type ExportResult = FileResult<ExportStatus, ExportDetails>;

/** Where the sidecar of a selected file goes. */
export function exportPath(
  sel: Pick<TargetSelection, 'path' | 'rel'>,
  opts: Pick<ExportOptions, 'dest' | 'suffix'>,
): string {
  if (!opts.dest) return sidecarPathFor(sel.path, opts.suffix);
  return sidecarPathFor(join(opts.dest, sel.rel || basename(sel.path)), opts.suffix);
}

export async function exportFile(
  sel: Pick<TargetSelection, 'path' | 'rel'>,
  opts: ExportOptions,
  run = new Run(),
): Promise<ExportResult> {
  const path = sel.path;
  let target;
  try {
    target = openTarget(path, run);
  } catch (e) {
    return failure(path, 'failed', e);
  }
  const sidecarPath = exportPath(sel, opts);
  let details: ExportDetails = { filesystem: target.fs.name, sidecar: sidecarPath };
  try {
    const bytes = readTargetXattr(target, opts.xattrName);
    if (!bytes) {
      const why =
        target.fs.takesXattrs(opts.xattrName) === false
          ? `filesystem ${target.fs.name} does not support extended attributes`
          : `no ${opts.xattrName}`;
      return { path, status: 'none', failed: false, reason: why, details };
    }
    const d = tryDecode(bytes);
    if ('error' in d)
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: `malformed ${opts.xattrName}: ${d.error}; not exported`,
        value: bytes,
        details,
      };
    const base = { path, value: bytes, decoded: d.value, warnings: d.warnings };
    let existing: Buffer | undefined;
    try {
      existing = readSidecar(sidecarPath);
    } catch (e) {
      // An unreadable or odd file where the sidecar goes is never replaced silently.
      if (!opts.force || (e instanceof FileError && e.code === 'ELOOP'))
        return failure(path, 'conflict', e, { ...base, details });
    }
    if (existing?.equals(bytes)) return { ...base, status: 'unchanged', failed: false, details };
    if (existing) {
      details = { ...details, replaced: existing.toString('hex') };
      if (!opts.force)
        return {
          ...base,
          status: 'conflict',
          failed: true,
          reason: `${sidecarPath} holds a different value; use --force to replace it`,
          details,
        };
    }
    if (opts.dryRun) return { ...base, status: 'would-export', failed: false, details };
    if (opts.dest) {
      try {
        await mkdir(fsPath(dirname(sidecarPath)), { recursive: true });
      } catch (e) {
        throw new FileError(dirname(sidecarPath), `cannot create directory: ${describeSystemError(e)}`, errnoOf(e));
      }
    }
    await writeSidecar(sidecarPath, bytes, { rollback: run.rollback });
    return { ...base, status: 'exported', failed: false, details };
  } catch (e) {
    return failure(path, 'failed', e, { details });
  } finally {
    closeTarget(target);
  }
}

export function exportTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ExportOptions,
): TreeResults<ExportResult> {
  // Sidecars whose names differ only in case are one file on FAT: never written at the same time
  // (carriers/name-lock.ts).
  return processTree(paths, { ...tree, cleanStaleTemporaries: !opts.dryRun }, (sel, run) =>
    oneAtATimePerName(exportPath(sel, opts), () => exportFile(sel, opts, run)),
  );
}
