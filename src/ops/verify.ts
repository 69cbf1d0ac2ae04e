/**
 * verify: check every signature carrier a file has (or the one named).
 */
import { Run } from '../carriers/run.js';
import { readSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { readTargetXattr, Target } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { CarrierCheck, CarrierName, CarrierValue, checkValues } from './check.js';
import { checkAppended } from './modsig.js';
import { withTarget } from './with-target.js';
import { isPromise } from '../select/runner.js';
import { endsWithAppendedMarker } from '../carriers/appended.js';
import { FileResult, SelectionDetails, SelectionStatus } from './result.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

export type VerifySource = 'auto' | 'sidecar' | 'xattr' | 'appended';

export type VerifyStatus = 'ok' | 'failed' | SelectionStatus;

/** One carrier checked, as the JSON output shows it. */
export type VerifiedCarrier = {
  readonly carrier: CarrierName;
  readonly status: CarrierCheck['status'];
  readonly reason?: string;
  /** The certificate that verified a signature. */
  readonly signer?: string;
  /** The carrier's value, hex (an appended signature's CMS). */
  readonly value?: string;
};

export type VerifyDetails = SelectionDetails & {
  readonly carriers?: readonly VerifiedCarrier[];
  readonly filesystem?: string;
};

export type VerifyResult = FileResult<VerifyStatus, VerifyDetails>;

export interface VerifyOptions {
  readonly certs: readonly Certificate[];
  readonly from?: VerifySource;
  readonly xattrName: string;
  readonly suffix: string;
}

/** Reads the carriers the source names; a broken sidecar becomes a failed carrier, not a thrown error. */
export function collectCarriers(
  t: Target,
  from: VerifySource,
  opts: Pick<VerifyOptions, 'xattrName' | 'suffix'>,
): { values: CarrierValue[]; problems: CarrierCheck[] } {
  const values: CarrierValue[] = [];
  const problems: CarrierCheck[] = [];
  if (from === 'auto' || from === 'sidecar') {
    try {
      const bytes = readSidecar(sidecarPathFor(t.path, opts.suffix));
      if (bytes) values.push({ carrier: 'sidecar', bytes });
    } catch (e) {
      problems.push({
        carrier: 'sidecar',
        status: 'invalid',
        value: Buffer.alloc(0),
        reason: (e as { reason?: string }).reason ?? String(e),
      });
    }
  }
  if (from === 'auto' || from === 'xattr') {
    const bytes = readTargetXattr(t, opts.xattrName);
    if (bytes) values.push({ carrier: 'xattr', bytes });
  }
  return { values, problems };
}

function carrierJson(c: CarrierCheck): VerifiedCarrier {
  // Fields in this order, absent rather than undefined: the JSON output is built from it as is.
  return {
    carrier: c.carrier,
    status: c.status,
    ...(c.reason ? { reason: c.reason } : {}),
    ...(c.signer ? { signer: c.signer } : {}),
    ...(c.value.length ? { value: c.value.toString('hex') } : {}),
  };
}

/** Verifies one file's carriers (the library's call; a tree run uses verifyOne). */
export async function verifyFile(path: string, opts: VerifyOptions): Promise<VerifyResult> {
  return verifyOne(path, opts);
}

/**
 * As verifyFile; synchronous, a plain result, when the file fits in one read
 * and has no appended signature to check (the common case of a tree).
 */
export function verifyOne(path: string, opts: VerifyOptions, run = new Run()): VerifyResult | Promise<VerifyResult> {
  return withTarget<VerifyStatus, VerifyDetails>(path, run, 'failed', (target) => {
    const from = opts.from ?? 'auto';
    const { values, problems } = collectCarriers(target, from, opts);
    const checked = checkValues(target, values, opts.certs);
    // An appended signature covers the payload only; sidecar and xattr signatures cover the whole file.
    const appendedToo =
      (from === 'auto' || from === 'appended') && endsWithAppendedMarker(target.handle.fd, target.stat.size);
    if (!isPromise(checked) && !appendedToo) return verdict(target, [...problems, ...checked], from, opts);
    return (async () => {
      const checks = [...problems, ...(await checked)];
      const appended = appendedToo ? await checkAppended(target.handle, target.stat.size, opts.certs) : undefined;
      if (appended) checks.push(appended);
      return verdict(target, checks, from, opts);
    })();
  });
}

function verdict(target: Target, checks: CarrierCheck[], from: VerifySource, opts: VerifyOptions): VerifyResult {
  const path = target.path;
  if (checks.length === 0) {
    const where =
      from === 'sidecar'
        ? `no sidecar ${sidecarPathFor(path, opts.suffix)}`
        : from === 'xattr'
          ? `no ${opts.xattrName}`
          : from === 'appended'
            ? 'no appended signature'
            : `no sidecar, no ${opts.xattrName} and no appended signature`;
    return { path, status: 'failed', failed: true, reason: `no signature (${where})` };
  }
  const bad = checks.filter((c) => c.status !== 'ok');
  const first = checks.find((c) => c.decoded) ?? checks[0]!;
  const details: VerifyDetails = { carriers: checks.map(carrierJson), filesystem: target.fs.name };
  const warnings = [...new Set(checks.flatMap((c) => c.warnings ?? []))];
  if (bad.length === 0) {
    return { path, status: 'ok', failed: false, value: first.value, decoded: first.decoded, warnings, details };
  }
  const reason = bad.map((c) => (checks.length > 1 ? `${c.carrier}: ${c.reason}` : c.reason)).join('; ');
  return {
    path,
    status: 'failed',
    failed: true,
    reason,
    value: bad[0]!.value.length ? bad[0]!.value : undefined,
    decoded: bad[0]!.decoded,
    warnings,
    details,
  };
}

export function verifyTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: VerifyOptions,
): TreeResults<VerifyResult> {
  return processTree(paths, tree, (sel, run) => verifyOne(sel.path, opts, run));
}
