/**
 * status: where each file's signature lives, whether the carriers agree, and
 * (with certificates) whether each verifies.
 */
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { readTargetXattr, targetTakesXattrs } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { AppendedInfo, readAppendedSignature } from '../carriers/appended.js';
import { FormatError } from '../errors.js';
import { CarrierValue, checkValues } from './check.js';
import { checkAppended } from './modsig.js';
import { withTarget } from './with-target.js';
import { FileResult, tryDecode } from './result.js';
import { processTree, TreeOptions } from './tree.js';
import { optionsToWire } from './wire.js';

export type SyncState = 'in-sync' | 'sidecar-only' | 'xattr-only' | 'appended-only' | 'mismatch' | 'unsigned' | 'orphan' | 'invalid';

export interface StatusOptions {
  readonly xattrName: string;
  readonly suffix: string;
  /** When given, every carrier is verified. */
  readonly certs?: readonly Certificate[];
}

export async function statusOf(path: string, opts: StatusOptions): Promise<FileResult> {
  return withTarget(path, 'invalid', async (target) => {
    const sidecarPath = sidecarPathFor(path, opts.suffix);
    const details: Record<string, unknown> = { state: '', filesystem: target.fs.name };
    let sidecar: Buffer | undefined;
    let sidecarProblem: string | undefined;
    try {
      sidecar = readSidecar(sidecarPath);
    } catch (e) {
      sidecarProblem = (e as { reason?: string }).reason ?? String(e);
    }
    const xattr = readTargetXattr(target, opts.xattrName);
    // The third carrier: a signature appended to the file (it covers the payload only).
    let appendedInfo: AppendedInfo | undefined;
    let appendedProblem: string | undefined;
    try {
      appendedInfo = await readAppendedSignature(target.handle, target.stat.size);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      appendedProblem = e.reason;
    }
    const appended = appendedInfo !== undefined;
    details.appended = appended ? 'yes' : appendedProblem ? 'invalid' : 'no';
    const takesNow = targetTakesXattrs(target, opts.xattrName);
    details.xattrs = takesNow === undefined ? (xattr ? 'yes' : 'unknown') : takesNow ? 'yes' : 'no';
    const sd = sidecar ? tryDecode(sidecar) : undefined;
    const xd = xattr ? tryDecode(xattr) : undefined;
    let state: SyncState;
    let reason: string | undefined;
    if (sidecarProblem) {
      state = 'invalid';
      reason = `sidecar: ${sidecarProblem}`;
    } else if ((sd && 'error' in sd) || (xd && 'error' in xd) || appendedProblem) {
      state = 'invalid';
      reason = [sd && 'error' in sd ? `sidecar: ${sd.error}` : '', xd && 'error' in xd ? `${opts.xattrName}: ${xd.error}` : '', appendedProblem ? `appended signature: ${appendedProblem}` : ''].filter(Boolean).join('; ');
    } else if (sidecar && xattr) state = sidecar.equals(xattr) ? 'in-sync' : 'mismatch';
    else if (sidecar) state = 'sidecar-only';
    else if (xattr) state = 'xattr-only';
    else if (appended) state = 'appended-only';
    else state = 'unsigned';
    details.state = state;
    if (sidecar) details.sidecar = sidecar.toString('hex');
    if (xattr) details.xattr = xattr.toString('hex');
    const shown = sd && !('error' in sd) ? sd : xd && !('error' in xd) ? xd : undefined;
    let failed = state === 'invalid';
    if (opts.certs && (sidecar || xattr || appended)) {
      const values: CarrierValue[] = [];
      if (sidecar) values.push({ carrier: 'sidecar', bytes: sidecar });
      if (xattr) values.push({ carrier: 'xattr', bytes: xattr });
      const checks = await checkValues(target, values, opts.certs);
      const appendedCheck = appended ? await checkAppended(target.handle, target.stat.size, opts.certs, appendedInfo) : undefined;
      if (appendedCheck) checks.push(appendedCheck);
      details.verified = Object.fromEntries(checks.map((c) => [c.carrier, c.status === 'ok' ? 'ok' : c.reason]));
      if (checks.some((c) => c.status !== 'ok')) {
        failed = true;
        reason ??= checks.filter((c) => c.status !== 'ok').map((c) => `${c.carrier}: ${c.reason}`).join('; ');
      }
    }
    return { path, status: state, failed, reason, value: (sidecar ?? xattr), decoded: shown && !('error' in shown) ? shown.value : undefined, details };
  });
}

export function statusTree(paths: readonly string[], tree: TreeOptions, opts: StatusOptions): AsyncGenerator<FileResult> {
  return processTree(paths, { ...tree, orphanFails: false }, (sel) => statusOf(sel.path, opts), { op: 'status', options: optionsToWire(opts) });
}
