/**
 * status: where each file's signature lives, whether the carriers agree, and
 * (with certificates) whether each verifies.
 */
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { readTargetXattr, Target, targetTakesXattrs } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { AppendedInfo, endsWithAppendedMarker, readAppendedSignature } from '../carriers/appended.js';
import { FormatError } from '../errors.js';
import { CarrierCheck, CarrierValue, checkValues } from './check.js';
import { isPromise } from '../select/runner.js';
import { checkAppended } from './modsig.js';
import { withTarget } from './with-target.js';
import { FileResult, tryDecode } from './result.js';
import { processTree, TreeOptions } from './tree.js';

export type SyncState =
  'in-sync' | 'sidecar-only' | 'xattr-only' | 'appended-only' | 'mismatch' | 'unsigned' | 'orphan' | 'invalid';

export interface StatusOptions {
  readonly xattrName: string;
  readonly suffix: string;
  /** When given, every carrier is verified. */
  readonly certs?: readonly Certificate[];
}

/** Where one file's signature lives (the library's call; a tree run uses statusOne). */
export async function statusOf(path: string, opts: StatusOptions): Promise<FileResult> {
  return statusOne(path, opts);
}

/** An appended signature found at the end of the file, or why it is malformed. */
interface AppendedFound {
  readonly info?: AppendedInfo;
  readonly problem?: string;
}

async function findAppended(target: Target): Promise<AppendedFound> {
  try {
    return { info: await readAppendedSignature(target.handle, target.stat.size) };
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return { problem: e.reason };
  }
}

/**
 * As statusOf; synchronous, a plain result, unless the file has an appended
 * signature or a carrier must be checked against more than one read of
 * content (the common case of a tree is neither).
 */
export function statusOne(path: string, opts: StatusOptions): FileResult | Promise<FileResult> {
  return withTarget(path, 'invalid', (target) => {
    // The third carrier: a signature appended to the file (it covers the payload only).
    if (endsWithAppendedMarker(target.handle.fd, target.stat.size))
      return findAppended(target).then((found) => statusWith(target, opts, found));
    return statusWith(target, opts, {});
  });
}

function statusWith(target: Target, opts: StatusOptions, found: AppendedFound): FileResult | Promise<FileResult> {
  const path = target.path;
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
  const appendedProblem = found.problem;
  const appended = found.info !== undefined;
  // Flags are booleans; a flag that cannot be known is left out rather than given another type.
  details.appended = appended;
  if (appendedProblem) details.appendedProblem = appendedProblem;
  const takesNow = targetTakesXattrs(target, opts.xattrName) ?? (xattr ? true : undefined);
  if (takesNow !== undefined) details.xattrs = takesNow;
  const sd = sidecar ? tryDecode(sidecar) : undefined;
  const xd = xattr ? tryDecode(xattr) : undefined;
  let state: SyncState;
  let reason: string | undefined;
  if (sidecarProblem) {
    state = 'invalid';
    reason = `sidecar: ${sidecarProblem}`;
  } else if ((sd && 'error' in sd) || (xd && 'error' in xd) || appendedProblem) {
    state = 'invalid';
    reason = [
      sd && 'error' in sd ? `sidecar: ${sd.error}` : '',
      xd && 'error' in xd ? `${opts.xattrName}: ${xd.error}` : '',
      appendedProblem ? `appended signature: ${appendedProblem}` : '',
    ]
      .filter(Boolean)
      .join('; ');
  } else if (sidecar && xattr) state = sidecar.equals(xattr) ? 'in-sync' : 'mismatch';
  else if (sidecar) state = 'sidecar-only';
  else if (xattr) state = 'xattr-only';
  else if (appended) state = 'appended-only';
  else state = 'unsigned';
  details.state = state;
  if (sidecar) details.sidecar = sidecar.toString('hex');
  if (xattr) details.xattr = xattr.toString('hex');
  const shown = sd && !('error' in sd) ? sd : xd && !('error' in xd) ? xd : undefined;
  const result = (failed: boolean, why: string | undefined): FileResult => ({
    path,
    status: state,
    failed,
    reason: why,
    value: sidecar ?? xattr,
    decoded: shown && !('error' in shown) ? shown.value : undefined,
    details,
  });
  if (!opts.certs || !(sidecar || xattr || appended)) return result(state === 'invalid', reason);

  const certs = opts.certs;
  const values: CarrierValue[] = [];
  if (sidecar) values.push({ carrier: 'sidecar', bytes: sidecar });
  if (xattr) values.push({ carrier: 'xattr', bytes: xattr });
  const verdict = (checks: CarrierCheck[]): FileResult => {
    details.verified = Object.fromEntries(checks.map((c) => [c.carrier, c.status === 'ok' ? 'ok' : c.reason]));
    const bad = checks.filter((c) => c.status !== 'ok');
    return result(
      state === 'invalid' || bad.length > 0,
      reason ?? (bad.length ? bad.map((c) => `${c.carrier}: ${c.reason}`).join('; ') : undefined),
    );
  };
  const checked = checkValues(target, values, certs);
  if (!isPromise(checked) && !appended) return verdict(checked);
  return (async () => {
    const checks = await checked;
    const appendedCheck = appended
      ? await checkAppended(target.handle, target.stat.size, certs, found.info)
      : undefined;
    if (appendedCheck) checks.push(appendedCheck);
    return verdict(checks);
  })();
}

export function statusTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: StatusOptions,
): AsyncGenerator<FileResult> {
  return processTree(paths, tree, (sel) => statusOne(sel.path, opts));
}
