/**
 * import: sidecar -> xattr. The sidecar is validated first (and, for digests,
 * checked against the content; with `verify`, signatures against certificates);
 * then compared with what the xattr holds, so nothing is replaced silently.
 */
import { unlink } from 'node:fs/promises';
import { ImaValue } from '../codec/ima-value.js';
import { canCompute } from '../codec/hash-algo.js';
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { closeTarget, openTarget, readTargetXattr, Target, targetTakesXattrs, writeTargetXattr } from '../carriers/target.js';
import { isUnsupported, XattrError } from '../carriers/xattr.js';
import { fsPath } from '../carriers/fs-path.js';
import type { Certificate } from '../crypto/certificate.js';
import { FileError } from '../errors.js';
import { checkValues } from './check.js';
import { failure, FileResult, tryDecode } from './result.js';
import { processTree, TargetSelection, TreeOptions } from './tree.js';
import { optionsToWire } from './wire.js';

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

function isDigest(v: ImaValue | undefined): boolean {
  return v?.kind === 'digest';
}

/** Validates a value against the file: digests always, signatures when asked. Returns a reason when it must not be written. */
export async function validateForWrite(t: Target, bytes: Buffer, value: ImaValue, certs: readonly Certificate[] | undefined, verify: boolean): Promise<string | undefined> {
  // A value this tool cannot check (streebog, wp512...) is not written unseen, signature or digest.
  if (!canCompute(value.algo)) return `hash algorithm ${value.algo.name} cannot be computed here`;
  if (value.kind === 'signature' && !verify) return undefined;
  const [check] = await checkValues(t, [{ carrier: 'sidecar', bytes }], verify ? certs ?? [] : []);
  return check && check.status !== 'ok' ? check.reason : undefined;
}

export async function importFile(path: string, opts: ImportOptions, explicit = true): Promise<FileResult> {
  let target;
  try {
    target = await openTarget(path);
  } catch (e) {
    return failure(path, 'failed', e);
  }
  const sidecarPath = sidecarPathFor(path, opts.suffix);
  const fsDetails = { filesystem: target.fs.name, sidecar: sidecarPath };
  try {
    const before = target.stat;
    let bytes: Buffer | undefined;
    try {
      bytes = readSidecar(sidecarPath);
    } catch (e) {
      return failure(path, 'invalid', e, { details: fsDetails });
    }
    if (!bytes) {
      return { path, status: 'no-sidecar', failed: explicit, reason: explicit ? `no sidecar ${sidecarPath}` : undefined, details: fsDetails };
    }
    const d = tryDecode(bytes);
    if ('error' in d) return { path, status: 'invalid', failed: true, reason: `malformed sidecar ${sidecarPath}: ${d.error}; nothing written`, value: bytes, details: fsDetails };
    const base = { path, value: bytes, decoded: d.value, warnings: d.warnings };
    const rejection = await validateForWrite(target, bytes, d.value, opts.certs, !!opts.verify);
    if (rejection) return { ...base, status: 'failed', failed: true, reason: `${rejection}; nothing written`, details: fsDetails };

    if (targetTakesXattrs(target, opts.xattrName) === false) return unsupported(base, target, opts, fsDetails);
    // The common case, a file with no value yet, is one atomic "create only" write; a value already
    // there (or one that appears meanwhile) is then read and compared: never replaced unseen.
    if (!opts.dryRun) {
      try {
        if (writeTargetXattr(target, opts.xattrName, bytes, before, 'create')) {
          const removed = await maybeRemoveSidecar(opts, sidecarPath, bytes);
          return { ...base, status: 'imported', failed: false, details: { ...fsDetails, ...(removed ? { sidecarRemoved: true } : {}) } };
        }
      } catch (e) {
        if (e instanceof XattrError && isUnsupported(e.code)) return unsupported(base, target, opts, fsDetails);
        throw e;
      }
    }
    const current = readTargetXattr(target, opts.xattrName);
    if (targetTakesXattrs(target, opts.xattrName) === false) return unsupported(base, target, opts, fsDetails);

    if (current && current.equals(bytes)) {
      const removed = await maybeRemoveSidecar(opts, sidecarPath, bytes);
      return { ...base, status: 'unchanged', failed: false, details: { ...fsDetails, ...(removed ? { sidecarRemoved: true } : {}) } };
    }
    let replaced: Record<string, unknown> = {};
    if (current) {
      const cur = tryDecode(current);
      const curIsDigest = !('error' in cur) && isDigest(cur.value);
      replaced = { replaced: current.toString('hex') };
      if (!curIsDigest && !opts.force) {
        const what = 'error' in cur ? `a malformed value (${cur.error})` : 'a different signature';
        return { ...base, status: 'conflict', failed: true, reason: `${opts.xattrName} holds ${what}; use --force to replace it`, details: { ...fsDetails, ...replaced, current: current.toString('hex') } };
      }
    }
    if (opts.dryRun) return { ...base, status: 'would-import', failed: false, details: { ...fsDetails, ...replaced } };
    try {
      writeTargetXattr(target, opts.xattrName, bytes, before);
    } catch (e) {
      if (e instanceof XattrError && isUnsupported(e.code)) return unsupported(base, target, opts, fsDetails);
      throw e;
    }
    const removed = await maybeRemoveSidecar(opts, sidecarPath, bytes);
    return { ...base, status: 'imported', failed: false, details: { ...fsDetails, ...replaced, ...(removed ? { sidecarRemoved: true } : {}) } };
  } catch (e) {
    return failure(path, 'failed', e, { details: fsDetails });
  } finally {
    closeTarget(target);
  }
}

function unsupported(base: Pick<FileResult, 'path' | 'value' | 'decoded'>, t: Target, opts: ImportOptions, details: Record<string, unknown>): FileResult {
  return {
    ...base,
    status: 'unsupported',
    failed: !!opts.requireXattr,
    reason: `filesystem ${t.fs.name} does not support extended attributes; sidecar kept`,
    details,
  };
}

/** Removes the sidecar only when it still holds exactly the value now in the xattr. */
async function maybeRemoveSidecar(opts: ImportOptions, sidecarPath: string, imported: Buffer): Promise<boolean> {
  if (!opts.removeSidecar || opts.dryRun) return false;
  const again = readSidecar(sidecarPath);
  if (!again || !again.equals(imported)) throw new FileError(sidecarPath, 'sidecar changed during the import; not removed', 'ECHANGED');
  await unlink(fsPath(sidecarPath));
  return true;
}

export function importTree(paths: readonly string[], tree: TreeOptions, opts: ImportOptions): AsyncGenerator<FileResult> {
  return processTree(paths, { ...tree, orphanFails: true }, (sel: TargetSelection) => importFile(sel.path, opts, sel.rel === ''), { op: 'import', options: optionsToWire(opts) });
}
