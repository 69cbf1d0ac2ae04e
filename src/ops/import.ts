/**
 * import: sidecar -> xattr. The sidecar is validated first (and, for digests,
 * checked against the content; with `verify`, signatures against certificates);
 * then compared with what the xattr holds, so nothing is replaced silently.
 */
import { Run } from '../carriers/run.js';
import { unlinkSync } from 'node:fs';
import { ImaValue } from '../codec/ima-value.js';
import { canCompute } from '../codec/hash-algo.js';
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { closeTarget, openTarget, readTargetXattr, Target, WriteGuard, writeTargetXattr } from '../carriers/target.js';
import { isUnsupported, XattrError } from '../carriers/xattr.js';
import { fsPath } from '../carriers/fs-path.js';
import type { Certificate } from '../crypto/certificate.js';
import { describeSystemError, errnoOf, FileError } from '../errors.js';
import { checkValues } from './check.js';
import { failure, FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TargetSelection, TreeOptions, TreeResults } from './tree.js';

export interface ImportOptions {
  readonly xattrName: string;
  readonly suffix: string;
  /** Check signatures against these certificates before writing. */
  readonly verify?: boolean;
  readonly certs?: readonly Certificate[];
  readonly force?: boolean;
  readonly dryRun?: boolean;
  readonly removeSidecar?: boolean;
  /** A filesystem without xattrs is a failure, not a quiet `unsupported`. */
  readonly requireXattr?: boolean;
}

/**
 * no-sidecar: nothing to import (a failure only for a file named itself);
 * unsupported: the filesystem takes no xattrs (a failure with `requireXattr`).
 */
export type ImportStatus =
  | 'imported'
  | 'unchanged'
  | 'would-import'
  | 'no-sidecar'
  | 'unsupported'
  | 'conflict'
  | 'invalid'
  | 'failed'
  | SelectionStatus;

export type ImportDetails = SelectionDetails & {
  readonly filesystem?: string;
  /** The sidecar read (an orphan's too). */
  readonly sidecar?: string;
  /** The value the xattr held before, hex: replaced, or (conflict) left in place. */
  readonly replaced?: string;
  /** conflict: the value the xattr holds, hex. */
  readonly current?: string;
  /** With `removeSidecar`: the sidecar is gone, its value in the xattr. */
  readonly sidecarRemoved?: boolean;
};

export type ImportResult = FileResult<ImportStatus, ImportDetails>;

/**
 * Whether importing this value reads the file: a digest is always checked
 * against the content, a signature only with `verify`.
 */
function readsContent(value: ImaValue, verify: boolean): boolean {
  return value.kind === 'digest' || verify;
}

/**
 * Checks a value that readsContent against the file (a digest; a signature
 * under `verify`). Returns a reason when it must not be written.
 */
async function validateForWrite(
  t: Target,
  bytes: Buffer,
  certs: readonly Certificate[] | undefined,
  verify: boolean,
): Promise<string | undefined> {
  const [check] = await checkValues(t, [{ carrier: 'sidecar', bytes }], verify ? (certs ?? []) : []);
  return check && check.status !== 'ok' ? check.reason : undefined;
}

/** A sidecar read and decoded, about to be written. */
interface Candidate {
  readonly path: string;
  readonly sidecarPath: string;
  readonly bytes: Buffer;
  readonly decoded: ImaValue;
  readonly warnings: string[];
}

/** Facts every record of this file carries (the JSON output's fields). */
function fsDetails(t: Target, sidecarPath: string): { filesystem: string; sidecar: string } {
  return { filesystem: t.fs.name, sidecar: sidecarPath };
}

function record(
  c: Candidate,
  status: ImportStatus,
  failed: boolean,
  details: ImportDetails,
  reason?: string,
): ImportResult {
  const r: ImportResult = {
    path: c.path,
    status,
    failed,
    value: c.bytes,
    decoded: c.decoded,
    warnings: c.warnings,
    details,
  };
  return reason === undefined ? r : { ...r, reason };
}

/** Imports one file's sidecar (the library's call; a tree run uses importOne). */
export async function importFile(path: string, opts: ImportOptions, explicit = true): Promise<ImportResult> {
  return importOne(path, opts, explicit);
}

/**
 * As importFile, synchronously, and so a plain result, unless the content
 * must be read (a digest, or --verify): the common case is a handful of
 * system calls, and a promise per file was a measurable part of `import -r`.
 */
export function importOne(
  path: string,
  opts: ImportOptions,
  explicit = true,
  run = new Run(),
): ImportResult | Promise<ImportResult> {
  let target: Target;
  try {
    target = openTarget(path, run);
  } catch (e) {
    return failure(path, 'failed', e);
  }
  const sidecarPath = sidecarPathFor(path, opts.suffix);
  let closeHere = true;
  try {
    let bytes: Buffer | undefined;
    try {
      bytes = readSidecar(sidecarPath);
    } catch (e) {
      return failure(path, 'invalid', e, { details: fsDetails(target, sidecarPath) });
    }
    if (!bytes) {
      return {
        path,
        status: 'no-sidecar',
        failed: explicit,
        reason: explicit ? `no sidecar ${sidecarPath}` : undefined,
        details: fsDetails(target, sidecarPath),
      };
    }
    const d = tryDecode(bytes);
    if ('error' in d)
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: `malformed sidecar ${sidecarPath}: ${d.error}; nothing written`,
        value: bytes,
        details: fsDetails(target, sidecarPath),
      };
    const c: Candidate = { path, sidecarPath, bytes, decoded: d.value, warnings: d.warnings };
    // A value this tool cannot check (streebog, wp512...) is not written unseen, signature or digest.
    if (!canCompute(d.value.algo))
      return record(
        c,
        'failed',
        true,
        fsDetails(target, sidecarPath),
        `hash algorithm ${d.value.algo.name} cannot be computed here; nothing written`,
      );
    if (!readsContent(d.value, !!opts.verify)) return store(target, c, opts, 'name');
    // The content decides: read it (asynchronously, it may be a kernel image), then store.
    closeHere = false;
    return validateThenStore(target, c, opts);
  } catch (e) {
    return failure(path, 'failed', e, { details: fsDetails(target, sidecarPath) });
  } finally {
    if (closeHere) closeTarget(target);
  }
}

async function validateThenStore(target: Target, c: Candidate, opts: ImportOptions): Promise<ImportResult> {
  try {
    // The version read now is the one checked: the write below refuses if the content changes meanwhile.
    const before = target.stat;
    const rejection = await validateForWrite(target, c.bytes, opts.certs, !!opts.verify);
    if (rejection) return record(c, 'failed', true, fsDetails(target, c.sidecarPath), `${rejection}; nothing written`);
    return store(target, c, opts, before);
  } catch (e) {
    return failure(c.path, 'failed', e, { details: fsDetails(target, c.sidecarPath) });
  } finally {
    closeTarget(target);
  }
}

/**
 * Writes a validated value into the xattr, never replacing a different
 * signature unseen. Errors are thrown to the caller (importOne,
 * validateThenStore).
 */
function store(target: Target, c: Candidate, opts: ImportOptions, guard: WriteGuard): ImportResult {
  if (target.fs.takesXattrs(opts.xattrName) === false) return unsupported(c, target, opts);
  // The common case, a file with no value yet, is one atomic "create only" write; a value already
  // there (or one that appears meanwhile) is then read and compared: never replaced unseen.
  if (!opts.dryRun) {
    try {
      if (writeTargetXattr(target, opts.xattrName, c.bytes, guard, { mode: 'create', confirm: removesSidecar(opts) }))
        return imported(c, target, opts);
    } catch (e) {
      if (e instanceof XattrError && isUnsupported(e.code)) return unsupported(c, target, opts);
      throw e;
    }
  }
  const current = readTargetXattr(target, opts.xattrName);
  if (target.fs.takesXattrs(opts.xattrName) === false) return unsupported(c, target, opts);

  if (current && current.equals(c.bytes)) {
    const removed = maybeRemoveSidecar(opts, c.sidecarPath, c.bytes);
    return record(c, 'unchanged', false, {
      ...fsDetails(target, c.sidecarPath),
      ...(removed ? { sidecarRemoved: true } : {}),
    });
  }
  let replaced: string | undefined;
  if (current) {
    const cur = tryDecode(current);
    replaced = current.toString('hex');
    if (('error' in cur || cur.value.kind !== 'digest') && !opts.force) {
      const what = 'error' in cur ? `a malformed value (${cur.error})` : 'a different signature';
      return record(
        c,
        'conflict',
        true,
        { ...fsDetails(target, c.sidecarPath), replaced, current: replaced },
        `${opts.xattrName} holds ${what}; use --force to replace it`,
      );
    }
  }
  if (opts.dryRun)
    return record(
      c,
      'would-import',
      false,
      replaced === undefined ? fsDetails(target, c.sidecarPath) : { ...fsDetails(target, c.sidecarPath), replaced },
    );
  try {
    writeTargetXattr(target, opts.xattrName, c.bytes, guard, { confirm: removesSidecar(opts) });
  } catch (e) {
    if (e instanceof XattrError && isUnsupported(e.code)) return unsupported(c, target, opts);
    throw e;
  }
  return imported(c, target, opts, replaced);
}

function imported(c: Candidate, target: Target, opts: ImportOptions, replaced?: string): ImportResult {
  const removed = maybeRemoveSidecar(opts, c.sidecarPath, c.bytes);
  return record(c, 'imported', false, {
    ...fsDetails(target, c.sidecarPath),
    ...(replaced !== undefined ? { replaced } : {}),
    ...(removed ? { sidecarRemoved: true } : {}),
  });
}

function unsupported(c: Candidate, t: Target, opts: ImportOptions): ImportResult {
  return record(
    c,
    'unsupported',
    !!opts.requireXattr,
    fsDetails(t, c.sidecarPath),
    `filesystem ${t.fs.name} does not support extended attributes; sidecar kept`,
  );
}

/** Whether the sidecar goes once its value is in the xattr: then the write is always read back first. */
function removesSidecar(opts: ImportOptions): boolean {
  return !!opts.removeSidecar && !opts.dryRun;
}

/** Removes the sidecar only when it still holds exactly the value now in the xattr. */
function maybeRemoveSidecar(opts: ImportOptions, sidecarPath: string, imported: Buffer): boolean {
  if (!removesSidecar(opts)) return false;
  const again = readSidecar(sidecarPath);
  if (!again || !again.equals(imported))
    throw new FileError(sidecarPath, 'sidecar changed during the import; not removed', 'ECHANGED');
  try {
    unlinkSync(fsPath(sidecarPath));
  } catch (e) {
    throw new FileError(sidecarPath, `cannot remove sidecar: ${describeSystemError(e)}`, errnoOf(e));
  }
  return true;
}

export function importTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ImportOptions,
): TreeResults<ImportResult> {
  return processTree(paths, tree, (sel: TargetSelection, run) => importOne(sel.path, opts, sel.rel === '', run));
}
