/**
 * status: where each file's signature lives, whether the carriers agree, and
 * (with certificates) whether each verifies.
 */
import { Run } from '../carriers/run.js';
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { readTargetXattr, Target } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { AppendedInfo, endsWithAppendedMarker, readAppendedSignature } from '../carriers/appended.js';
import { FormatError } from '../errors.js';
import { CarrierCheck, CarrierName, CarrierValue, checkValues } from './check.js';
import { isPromise } from '../select/runner.js';
import { checkAppended } from './modsig.js';
import { withTarget } from './with-target.js';
import { FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

export type SyncState =
  'in-sync' | 'sidecar-only' | 'xattr-only' | 'appended-only' | 'mismatch' | 'unsigned' | 'orphan' | 'invalid';

/** What status reports for a file: its state, or the selection's skipped (orphan is a state as well). */
export type StatusStatus = SyncState | SelectionStatus;

export type StatusDetails = SelectionDetails & {
  readonly state?: SyncState;
  readonly filesystem?: string;
  /** The file ends with an appended signature (a well-formed one; else appendedProblem says why not). */
  readonly appended?: boolean;
  readonly appendedProblem?: string;
  /** The filesystem takes this xattr; absent when that cannot be known. */
  readonly xattrs?: boolean;
  /** The sidecar's value, hex (an orphan's: its path). */
  readonly sidecar?: string;
  /** The xattr's value, hex. */
  readonly xattr?: string;
  /** With certificates: each carrier's verdict, 'ok' or why not. */
  readonly verified?: Partial<Record<CarrierName, string>>;
};

export type StatusResult = FileResult<StatusStatus, StatusDetails>;

export interface StatusOptions {
  readonly xattrName: string;
  readonly suffix: string;
  /** When given, every carrier is verified. */
  readonly certs?: readonly Certificate[];
}

/** Where one file's signature lives (the library's call; a tree run uses statusOne). */
export async function statusOf(path: string, opts: StatusOptions): Promise<StatusResult> {
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
export function statusOne(path: string, opts: StatusOptions, run = new Run()): StatusResult | Promise<StatusResult> {
  return withTarget<StatusStatus, StatusDetails>(path, run, 'invalid', (target) => {
    // The third carrier: a signature appended to the file (it covers the payload only).
    if (endsWithAppendedMarker(target.handle.fd, target.stat.size))
      return findAppended(target).then((found) => statusWith(target, opts, found));
    return statusWith(target, opts, {});
  });
}

function statusWith(target: Target, opts: StatusOptions, found: AppendedFound): StatusResult | Promise<StatusResult> {
  const path = target.path;
  const sidecarPath = sidecarPathFor(path, opts.suffix);
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
  const takesNow = target.fs.takesXattrs(opts.xattrName) ?? (xattr ? true : undefined);
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
  const details: StatusDetails = {
    state,
    filesystem: target.fs.name,
    // Flags are booleans; a flag that cannot be known is left out rather than given another type.
    appended,
    ...(appendedProblem ? { appendedProblem } : {}),
    ...(takesNow !== undefined ? { xattrs: takesNow } : {}),
    ...(sidecar ? { sidecar: sidecar.toString('hex') } : {}),
    ...(xattr ? { xattr: xattr.toString('hex') } : {}),
  };
  const shown = sd && !('error' in sd) ? sd : xd && !('error' in xd) ? xd : undefined;
  const result = (failed: boolean, why: string | undefined, withDetails = details): StatusResult => ({
    path,
    status: state,
    failed,
    reason: why,
    value: sidecar ?? xattr,
    decoded: shown && !('error' in shown) ? shown.value : undefined,
    details: withDetails,
  });
  if (!opts.certs || !(sidecar || xattr || appended)) return result(state === 'invalid', reason);

  const certs = opts.certs;
  const values: CarrierValue[] = [];
  if (sidecar) values.push({ carrier: 'sidecar', bytes: sidecar });
  if (xattr) values.push({ carrier: 'xattr', bytes: xattr });
  const verdict = (checks: CarrierCheck[]): StatusResult => {
    const verified: Partial<Record<CarrierName, string>> = {};
    for (const c of checks) verified[c.carrier] = c.status === 'ok' ? 'ok' : c.reason;
    const bad = checks.filter((c) => c.status !== 'ok');
    return result(
      state === 'invalid' || bad.length > 0,
      reason ?? (bad.length ? bad.map((c) => `${c.carrier}: ${c.reason}`).join('; ') : undefined),
      { ...details, verified },
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
): TreeResults<StatusResult> {
  return processTree(paths, tree, (sel, run) => statusOne(sel.path, opts, run));
}
