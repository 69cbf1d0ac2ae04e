/**
 * hash: the digest value `evmctl ima_hash` writes (0x01 for sha1, 0x04 otherwise).
 */
import type { HashAlgo } from '../codec/hash-algo.js';
import { digestValue, encodeImaValue } from '../codec/ima-value.js';
import { sidecarPathFor, writeSidecar } from '../carriers/sidecar.js';
import { assertUnchanged, closeTarget, openTarget, writeTargetXattr } from '../carriers/target.js';
import { DigestSink, streamHandle } from '../crypto/digest.js';
import { failure, FileResult } from './result.js';
import { processTree, TreeOptions } from './tree.js';

export type HashDestination = 'stdout' | 'sidecar' | 'xattr';

export interface HashOptions {
  readonly hashAlgo: HashAlgo;
  readonly to?: HashDestination;
  readonly xattrName: string;
  readonly suffix: string;
}

export async function hashFile(path: string, opts: HashOptions): Promise<FileResult> {
  let target;
  try {
    target = await openTarget(path);
  } catch (e) {
    return failure(path, 'failed', e);
  }
  try {
    const before = target.stat;
    const sink = new DigestSink(opts.hashAlgo);
    await streamHandle(target.handle, [sink]);
    const decoded = digestValue(opts.hashAlgo, sink.digest());
    const value = encodeImaValue(decoded);
    const to = opts.to ?? 'stdout';
    let replaced = false;
    if (to === 'sidecar') await assertUnchanged(target, before);
    if (to === 'sidecar') replaced = (await writeSidecar(sidecarPathFor(path, opts.suffix), value)).replaced;
    if (to === 'xattr') await writeTargetXattr(target, opts.xattrName, value, before);
    return { path, status: to === 'stdout' ? 'hashed' : replaced ? 'replaced' : 'written', failed: false, value, decoded, details: { to } };
  } catch (e) {
    return failure(path, 'failed', e);
  } finally {
    await closeTarget(target);
  }
}

export function hashTree(paths: readonly string[], tree: TreeOptions, opts: HashOptions): AsyncGenerator<FileResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: opts.to === 'sidecar' }, (sel) => hashFile(sel.path, opts));
}
