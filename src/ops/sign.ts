/**
 * sign: hash a file and write its signature into a sidecar, the xattr, or both.
 */
import { Run } from '../carriers/run.js';
import { encodeImaValue, SignatureValue } from '../codec/ima-value.js';
import type { HashAlgo } from '../codec/hash-algo.js';
import { writeSidecar, sidecarPathFor } from '../carriers/sidecar.js';
import { assertUnchanged, writeTargetXattr } from '../carriers/target.js';
import { isUnsupported, XattrError } from '../carriers/xattr.js';
import { PositionalReader, streamHandle } from '../crypto/digest.js';
import type { SigningKey } from '../crypto/keys.js';
import { ContentSigner } from '../crypto/signature.js';
import { withTarget } from './with-target.js';
import { FileResult, SelectionDetails, SelectionStatus } from './result.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

export type SignDestination = 'sidecar' | 'xattr' | 'both';

export type SignStatus = 'signed' | 'replaced' | 'would-sign' | 'failed' | SelectionStatus;

export type SignDetails = SelectionDetails & {
  /** Where the signature was written, in order. */
  readonly carriers?: readonly ('sidecar' | 'xattr')[];
  readonly filesystem?: string;
  /** Into both on a filesystem without xattrs: the sidecar was written, the xattr could not be. */
  readonly xattr?: 'unsupported';
};

export type SignResult = FileResult<SignStatus, SignDetails>;

export interface SignOptions {
  readonly key: SigningKey;
  /** 8 hex digits, from the certificate's SKID or given. */
  readonly keyid: string;
  readonly hashAlgo: HashAlgo;
  readonly version?: 2 | 3;
  readonly to?: SignDestination;
  readonly xattrName: string;
  readonly suffix: string;
  readonly dryRun?: boolean;
  /**
   * With `to: 'both'`, a filesystem without xattrs fails the file (as import
   * --require-xattr); else the sidecar is enough.
   */
  readonly requireXattr?: boolean;
}

/** Computes the security.ima value of a signature over the open target. */
export async function signatureValueFor(
  handle: PositionalReader,
  opts: Pick<SignOptions, 'key' | 'keyid' | 'hashAlgo' | 'version'>,
): Promise<{ value: SignatureValue; bytes: Buffer }> {
  const version = opts.version ?? 2;
  const signer = new ContentSigner(opts.key, opts.hashAlgo, version);
  await streamHandle(handle, [signer]);
  const { signature } = await signer.finishAsync();
  const value: SignatureValue = {
    kind: 'signature',
    type: 0x03,
    version,
    algo: opts.hashAlgo,
    keyid: opts.keyid,
    signature,
  };
  return { value, bytes: encodeImaValue(value) };
}

export async function signFile(path: string, opts: SignOptions, run = new Run()): Promise<SignResult> {
  const to = opts.to ?? 'sidecar';
  return withTarget<SignStatus, SignDetails>(path, run, 'failed', async (target) => {
    const before = target.stat;
    const { value, bytes } = await signatureValueFor(target.handle, opts);
    const base = { path, value: bytes, decoded: value };
    if (opts.dryRun) return { ...base, status: 'would-sign', failed: false };
    const wrote: ('sidecar' | 'xattr')[] = [];
    let replaced = false;
    if (to === 'sidecar' || to === 'both') {
      const sidecar = sidecarPathFor(path, opts.suffix);
      // A file that changed while it was read was signed torn: no sidecar for it either.
      assertUnchanged(target, before);
      replaced = (await writeSidecar(sidecar, bytes, { rollback: run.rollback })).replaced;
      wrote.push('sidecar');
    }
    let xattrRefusal: string | undefined;
    if (to === 'xattr' || to === 'both') {
      try {
        writeTargetXattr(target, opts.xattrName, bytes, before);
        wrote.push('xattr');
      } catch (e) {
        // Into both on FAT: the sidecar is written, and the run says the xattr part could not be.
        if (!(to === 'both' && e instanceof XattrError && isUnsupported(e.code))) throw e;
        xattrRefusal = e.reason;
      }
    }
    const details: SignDetails = {
      carriers: wrote,
      filesystem: target.fs.name,
      ...(xattrRefusal ? { xattr: 'unsupported' as const } : {}),
    };
    return {
      ...base,
      status: replaced ? 'replaced' : 'signed',
      failed: xattrRefusal !== undefined && !!opts.requireXattr,
      ...(xattrRefusal ? { reason: `${opts.xattrName} not written: ${xattrRefusal}; sidecar written` } : {}),
      details,
    };
  });
}

export function signTree(paths: readonly string[], tree: TreeOptions, opts: SignOptions): TreeResults<SignResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: !opts.dryRun }, (sel, run) =>
    signFile(sel.path, opts, run),
  );
}
