/**
 * inspect: decode a value from a sidecar file, a file's xattr, or hex.
 */
import { Run } from '../carriers/run.js';
import { FileError } from '../errors.js';
import { readSidecar } from '../carriers/sidecar.js';
import { closeTarget, openTarget, readTargetXattr } from '../carriers/target.js';
import { failure, FileResult, tryDecode } from './result.js';

export type InspectSource =
  | { readonly kind: 'sidecar'; readonly path: string }
  | { readonly kind: 'xattr'; readonly path: string; readonly xattrName: string }
  | { readonly kind: 'hex'; readonly hex: string };

/** none: the file has no such xattr; failed: the sidecar or file cannot be read. */
export type InspectStatus = 'valid' | 'invalid' | 'none' | 'failed';

export type InspectDetails = {
  /** The value's length in bytes. */
  readonly size?: number;
};

export type InspectResult = FileResult<InspectStatus, InspectDetails>;

/** Decodes bytes into a result: `valid` or `invalid` with the reason. */
export function inspectBytes(label: string, bytes: Buffer): InspectResult {
  const d = tryDecode(bytes);
  if ('error' in d)
    return {
      path: label,
      status: 'invalid',
      failed: true,
      reason: d.error,
      value: bytes,
      details: { size: bytes.length },
    };
  return {
    path: label,
    status: 'valid',
    failed: false,
    value: bytes,
    decoded: d.value,
    warnings: d.warnings,
    details: { size: bytes.length },
  };
}

export async function inspect(src: InspectSource): Promise<InspectResult> {
  if (src.kind === 'hex') {
    const clean = src.hex.replace(/^0x/i, '').replace(/[\s:]/g, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(clean))
      return { path: src.hex, status: 'invalid', failed: true, reason: 'not an even number of hex digits' };
    return inspectBytes('(hex)', Buffer.from(clean, 'hex'));
  }
  if (src.kind === 'sidecar') {
    try {
      const bytes = readSidecar(src.path);
      if (!bytes) throw new FileError(src.path, 'no such file', 'ENOENT');
      return inspectBytes(src.path, bytes);
    } catch (e) {
      return failure(src.path, 'failed', e);
    }
  }
  let target;
  try {
    target = openTarget(src.path, new Run());
  } catch (e) {
    return failure(src.path, 'failed', e);
  }
  try {
    const bytes = readTargetXattr(target, src.xattrName);
    if (!bytes) return { path: src.path, status: 'none', failed: true, reason: `no ${src.xattrName}` };
    return inspectBytes(src.path, bytes);
  } catch (e) {
    return failure(src.path, 'failed', e);
  } finally {
    closeTarget(target);
  }
}
