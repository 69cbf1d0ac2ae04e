/**
 * hash: the digest value `evmctl ima_hash` writes (0x01 for md5 and sha1, 0x04 otherwise).
 */
import { Run } from '../carriers/run.js';
import type { HashAlgo } from '../codec/hash-algo.js';
import { digestValue, encodeImaValue } from '../codec/ima-value.js';
import { readSidecarOrNothing, sidecarPathFor, writeSidecar } from '../carriers/sidecar.js';
import { assertUnchanged, readTargetXattr, Target, writeTargetXattr } from '../carriers/target.js';
import { DigestSink, streamHandle } from '../crypto/digest.js';
import { withTarget } from './with-target.js';
import { FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

export type HashDestination = 'stdout' | 'sidecar' | 'xattr';

/** hashed: to stdout; written: into a carrier that held no signature; conflict: one did (without `force`). */
export type HashStatus = 'hashed' | 'written' | 'replaced' | 'conflict' | 'failed' | SelectionStatus;

export type HashDetails = SelectionDetails & {
  readonly to?: HashDestination;
  /** conflict: the signature the destination holds, hex. */
  readonly current?: string;
  /** With `force`: the signature the digest replaced, hex. */
  readonly replaced?: string;
};

export type HashResult = FileResult<HashStatus, HashDetails>;

export interface HashOptions {
  readonly hashAlgo: HashAlgo;
  readonly to?: HashDestination;
  readonly xattrName: string;
  readonly suffix: string;
  /** Replace a signature with the digest (a digest value never carries a signature's authority). */
  readonly force?: boolean;
}

/** What the destination holds now, when it is a signature that a digest must not silently replace. */
async function signatureInTheWay(t: Target, to: HashDestination, opts: HashOptions): Promise<string | undefined> {
  // An unreadable sidecar (a symlink, a FIFO) is not a signature; the write reports it in its own words.
  const current =
    to === 'sidecar'
      ? readSidecarOrNothing(sidecarPathFor(t.path, opts.suffix))
      : to === 'xattr'
        ? readTargetXattr(t, opts.xattrName)
        : undefined;
  if (!current) return undefined;
  const d = tryDecode(current);
  return !('error' in d) && d.value.kind === 'signature' ? current.toString('hex') : undefined;
}

export async function hashFile(path: string, opts: HashOptions, run = new Run()): Promise<HashResult> {
  return withTarget<HashStatus, HashDetails>(path, run, 'failed', async (target) => {
    const before = target.stat;
    const sink = new DigestSink(opts.hashAlgo);
    await streamHandle(target.handle, [sink]);
    const decoded = digestValue(opts.hashAlgo, sink.digest());
    const value = encodeImaValue(decoded);
    const to = opts.to ?? 'stdout';
    let replaced = false;
    const signature = await signatureInTheWay(target, to, opts);
    if (signature && !opts.force) {
      const where = to === 'sidecar' ? sidecarPathFor(path, opts.suffix) : opts.xattrName;
      return {
        path,
        status: 'conflict',
        failed: true,
        reason: `${where} holds a signature; a digest would replace it (use --force)`,
        value,
        decoded,
        details: { to, current: signature },
      };
    }
    if (to === 'sidecar') assertUnchanged(target, before);
    if (to === 'sidecar')
      replaced = (await writeSidecar(sidecarPathFor(path, opts.suffix), value, { rollback: run.rollback })).replaced;
    if (to === 'xattr') writeTargetXattr(target, opts.xattrName, value, before);
    return {
      path,
      status: to === 'stdout' ? 'hashed' : replaced || signature ? 'replaced' : 'written',
      failed: false,
      value,
      decoded,
      details: { to, ...(signature ? { replaced: signature } : {}) },
    };
  });
}

export function hashTree(paths: readonly string[], tree: TreeOptions, opts: HashOptions): TreeResults<HashResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: opts.to === 'sidecar' }, (sel, run) =>
    hashFile(sel.path, opts, run),
  );
}
