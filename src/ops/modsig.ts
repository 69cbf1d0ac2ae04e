/**
 * Appended ("module") signatures: inspect, verify, strip, sign, detach into
 * a payload plus a v2 sidecar, and attach a v2 sidecar as an appended
 * signature; and the appended signature as a third carrier for verify/status.
 *
 * An appended signature covers the payload only (the bytes before the CMS),
 * while a sidecar or security.ima signature covers the whole file as it lies
 * on disk, appended signature included.
 */
import { Run } from '../carriers/run.js';
import type { PositionalReader } from '../crypto/digest.js';
import { fstatSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { canCompute } from '../codec/hash-algo.js';
import type { HashAlgo } from '../codec/hash-algo.js';
import { encodeImaValue, SignatureValue } from '../codec/ima-value.js';
import { AppendedLayout, buildTrailer, describeLayout, MODSIG_TRAILER_SIZE } from '../codec/modsig.js';
import { AppendedInfo, keepModeOf, readAppendedSignature, writePartsAtomic } from '../carriers/appended.js';
import { readSidecar, sidecarPathFor, writeSidecar } from '../carriers/sidecar.js';
import { assertUnchanged, Target } from '../carriers/target.js';
import { Certificate, keyidFromSkid } from '../crypto/certificate.js';
import {
  buildModuleCms,
  buildRefusal,
  certificatesForSid,
  certKeyType,
  CmsSigner,
  describeCms,
  describeSid,
  KernelCheck,
  kernelRules,
  ParsedCms,
  parseCms,
  SignerIdForm,
} from '../crypto/cms.js';
import { DigestSink, streamHandle } from '../crypto/digest.js';
import type { SigningKey } from '../crypto/keys.js';
import { ContentSigner, ContentSink, ContentVerifier, SignatureCheck } from '../crypto/signature.js';
import { FormatError } from '../errors.js';
import { fsPath } from '../carriers/fs-path.js';
import type { CarrierCheck } from './check.js';
import { certificatesFor, planChecks } from './check.js';
import { FileResult, SelectionDetails, SelectionStatus, tryDecode } from './result.js';
import { withTarget } from './with-target.js';
import { processTree, TreeOptions, TreeResults } from './tree.js';

export type { AppendedInfo } from '../carriers/appended.js';
export { readAppendedSignature } from '../carriers/appended.js';

// ---------------------------------------------------------------- reading and judging

/** What the end of a file holds. */
export type LoadedAppended =
  | { readonly kind: 'none' }
  /** Malformed, or well formed but refused by the kernel's rules; layout/cms are there when they could be read. */
  | {
      readonly kind: 'invalid';
      readonly reason: string;
      readonly layout?: AppendedLayout;
      readonly cms?: ParsedCms;
      readonly rules?: KernelCheck;
    }
  | {
      readonly kind: 'found';
      readonly layout: AppendedLayout;
      readonly cms: ParsedCms;
      readonly rules: KernelCheck;
      readonly signer: CmsSigner;
    };

/** Reads and parses the appended signature of an open file and applies the kernel's rules; never throws FormatError. */
/** `known`: the trailer and CMS bytes when the caller has read them already (they are not read again). */
export async function loadAppended(
  handle: PositionalReader,
  size: number,
  known?: AppendedInfo,
): Promise<LoadedAppended> {
  let info: AppendedInfo | undefined = known;
  try {
    info ??= await readAppendedSignature(handle, size);
  } catch (e) {
    if (e instanceof FormatError) return { kind: 'invalid', reason: e.reason };
    throw e;
  }
  if (!info) return { kind: 'none' };
  let cms: ParsedCms;
  try {
    cms = await parseCms(info.cms);
  } catch (e) {
    if (e instanceof FormatError) return { kind: 'invalid', reason: e.reason, layout: info.layout };
    throw e;
  }
  const rules = kernelRules(cms);
  if (rules.problems.length)
    return {
      kind: 'invalid',
      reason: `the kernel would reject it: ${rules.problems.join('; ')}`,
      layout: info.layout,
      cms,
      rules,
    };
  return { kind: 'found', layout: info.layout, cms, rules, signer: cms.signers[0]! };
}

export type AppendedVerdict =
  { readonly ok: true; readonly cert: Certificate } | { readonly ok: false; readonly reason: string };

/**
 * Checks the CMS signature over the payload (the first payloadLength bytes)
 * with the certificates its signer identifier names. Reads the payload once.
 */
export async function verifyAppended(
  handle: PositionalReader,
  found: Extract<LoadedAppended, { kind: 'found' }>,
  certs: readonly Certificate[],
): Promise<AppendedVerdict> {
  const { signer, layout } = found;
  const algo = signer.digestAlgo;
  if (!algo) return { ok: false, reason: `unknown digest algorithm ${signer.digestAlgorithmOid}` };
  if (!canCompute(algo)) return { ok: false, reason: `hash algorithm ${algo.name} cannot be computed here` };
  const named = await certificatesForSid(signer.sid, certs);
  if (named.length === 0)
    return { ok: false, reason: `unknown signer: no certificate given has ${describeSid(signer.sid)}` };
  const usable = named.filter((c) => certKeyType(c) !== undefined && certKeyType(c) === signer.keyType);
  if (usable.length === 0) {
    return {
      ok: false,
      reason:
        `bad signature: ${signer.signatureAlgorithmName} ` +
        `does not fit the key of ${named.map((c) => c.source).join(', ')}`,
    };
  }
  const digestSink = new DigestSink(algo);
  const verifiers = usable.map((cert) => ({
    cert,
    verifier: new ContentVerifier(cert.publicKey, algo, 2, signer.signature),
  }));
  const sinks: ContentSink[] = [digestSink, ...verifiers.filter((v) => v.verifier.needsContent).map((v) => v.verifier)];
  const read = await streamHandle(handle, sinks, layout.payloadLength);
  if (read !== layout.payloadLength)
    return { ok: false, reason: `the file shrank while being read (${read} of ${layout.payloadLength} payload bytes)` };
  const digest = digestSink.digest();
  let mismatch: SignatureCheck | undefined;
  for (const { cert, verifier } of verifiers) {
    const check = verifier.finish(digest);
    if (check.ok) return { ok: true, cert };
    if (check.reason === 'digest-mismatch') mismatch = check;
  }
  if (mismatch) {
    return {
      ok: false,
      reason:
        'bad signature: the payload differs from what was signed ' +
        `(${algo.name} of the first ${layout.payloadLength} bytes does not match the signed digest)`,
    };
  }
  const who = usable.map((c) => c.source).join(', ');
  return {
    ok: false,
    reason:
      `bad signature: does not verify with ${who}` +
      `${signer.keyType === 'ecdsa' ? ' (or the payload changed since signing)' : ''}`,
  };
}

function coverageNote(layout: AppendedLayout): string {
  return (
    'the appended signature covers the payload only ' +
    `(the first ${layout.payloadLength} of ${layout.fileSize} bytes)`
  );
}

/**
 * The appended signature as a carrier, in the shape verify and status use for
 * sidecar and xattr. Undefined when the file has none. Reads the last 40
 * bytes, the CMS, and (to verify) the payload.
 */
export async function checkAppended(
  handle: PositionalReader,
  size: number,
  certs: readonly Certificate[],
  known?: AppendedInfo,
): Promise<CarrierCheck | undefined> {
  const loaded = await loadAppended(handle, size, known);
  if (loaded.kind === 'none') return undefined;
  if (loaded.kind === 'invalid') {
    return {
      carrier: 'appended',
      status: 'invalid',
      reason: `malformed appended signature: ${loaded.reason}`,
      value: loaded.cms?.der ?? Buffer.alloc(0),
    };
  }
  const warnings = [coverageNote(loaded.layout), ...loaded.rules.warnings];
  const verdict = await verifyAppended(handle, loaded, certs);
  if (verdict.ok)
    return { carrier: 'appended', status: 'ok', value: loaded.cms.der, warnings, signer: verdict.cert.source };
  return { carrier: 'appended', status: 'failed', reason: verdict.reason, value: loaded.cms.der, warnings };
}

function keyidOf(signer: CmsSigner, cert?: Certificate): string | undefined {
  if (signer.sid.kind === 'skid') return keyidFromSkid(signer.sid.skid);
  return cert?.keyid;
}

// ---------------------------------------------------------------- result types

/** An appended signature's fields, as far as they could be read (the JSON output of modsig inspect). */
export type AppendedDetails = {
  // The trailer (describeLayout).
  readonly fileSize?: number;
  /** Bytes the signature covers: the file before the CMS. */
  readonly payloadLength?: number;
  /** The CMS's length, as the trailer gives it. */
  readonly sigLen?: number;
  readonly idType?: number;
  readonly idTypeName?: string;
  // The CMS (describeCms).
  readonly cmsSize?: number;
  readonly signedDataVersion?: number;
  readonly contentType?: string;
  readonly detached?: boolean;
  readonly certificates?: number;
  readonly signerInfos?: number;
  readonly signerInfoVersion?: number;
  readonly digestAlgorithm?: string;
  readonly signatureAlgorithm?: string;
  readonly signerId?: SignerIdForm;
  /** signerId skid: the subjectKeyIdentifier, hex. */
  readonly skid?: string;
  /** signerId issuer-serial: the issuer's name and the serial, hex. */
  readonly issuer?: string;
  readonly serial?: string;
  readonly signedAttributes?: boolean;
  readonly unsignedAttributes?: boolean;
  readonly signatureSize?: number;
  /** The keyid the kernel matches (from the SKID, or the verifying certificate's). */
  readonly keyid?: string;
  /** Why the kernel would refuse a well-formed CMS. */
  readonly problems?: readonly string[];
};

/** Where a write went when not in place (`output`). */
export type OutputDetails = { readonly output?: string };

/** unsigned: the file has no appended signature. */
export type ModsigInspectStatus = 'valid' | 'invalid' | 'unsigned' | 'failed' | SelectionStatus;
export type ModsigInspectDetails = SelectionDetails & AppendedDetails;
export type ModsigInspectResult = FileResult<ModsigInspectStatus, ModsigInspectDetails>;

export type ModsigVerifyStatus = 'ok' | 'invalid' | 'unsigned' | 'failed' | SelectionStatus;
export type ModsigVerifyDetails = SelectionDetails & AppendedDetails & { readonly signer?: string };
export type ModsigVerifyResult = FileResult<ModsigVerifyStatus, ModsigVerifyDetails>;

/** unsigned: nothing to strip (in place: left as it is; with `output`: copied unchanged). */
export type ModsigStripStatus = 'stripped' | 'unsigned' | 'invalid' | 'failed' | SelectionStatus;
export type ModsigStripDetails = SelectionDetails &
  OutputDetails & {
    readonly payloadLength?: number;
    /** Bytes removed: the CMS and the trailer. */
    readonly removed?: number;
  };
export type ModsigStripResult = FileResult<ModsigStripStatus, ModsigStripDetails>;

/** replaced: an appended signature that was there (with `force`). */
export type ModsigSignStatus = 'signed' | 'replaced' | 'invalid' | 'failed' | SelectionStatus;
export type ModsigSignDetails = SelectionDetails &
  AppendedDetails &
  OutputDetails & {
    readonly hashAlgo?: string;
    /** The certificate named in the CMS. */
    readonly signer?: string;
  };
export type ModsigSignResult = FileResult<ModsigSignStatus, ModsigSignDetails>;

export type ModsigDetachStatus = 'detached' | 'unsigned' | 'invalid' | 'failed' | SelectionStatus;
export type ModsigDetachDetails = SelectionDetails &
  AppendedDetails &
  OutputDetails & {
    /** The sidecar written. */
    readonly sidecar?: string;
    readonly sidecarReplaced?: boolean;
    readonly signer?: string;
  };
export type ModsigDetachResult = FileResult<ModsigDetachStatus, ModsigDetachDetails>;

export type ModsigAttachStatus = 'attached' | 'invalid' | 'failed' | SelectionStatus;
export type ModsigAttachDetails = SelectionDetails &
  OutputDetails & {
    readonly payloadLength?: number;
    readonly sigLen?: number;
    readonly signerId?: SignerIdForm;
    readonly signer?: string;
    /** The sidecar whose signature was attached. */
    readonly sidecar?: string;
    /** In place, without `keepSidecar`: the sidecar (which no longer matches the file) is gone. */
    readonly sidecarRemoved?: boolean;
  };
export type ModsigAttachResult = FileResult<ModsigAttachStatus, ModsigAttachDetails>;

// ---------------------------------------------------------------- inspect and verify

function describeLoaded(l: LoadedAppended): AppendedDetails {
  if (l.kind === 'none') return {};
  // describeLayout and describeCms give untyped records of exactly these fields (test/unit/ops-library.test.ts).
  const out: Record<string, unknown> = {};
  if (l.layout) Object.assign(out, describeLayout(l.layout));
  if (l.cms) Object.assign(out, describeCms(l.cms));
  if (l.kind === 'found') {
    const keyid = keyidOf(l.signer);
    if (keyid) out.keyid = keyid;
  }
  if (l.kind === 'invalid' && l.rules?.problems.length) out.problems = l.rules.problems;
  return out as AppendedDetails;
}

const NO_SIGNATURE = 'no appended signature (the file does not end with "~Module signature appended~" and a newline)';

/**
 * Decodes the appended signature: valid (the kernel's structural rules hold),
 * invalid (with what is wrong), or unsigned.
 */
export async function inspectModsig(path: string, run = new Run()): Promise<ModsigInspectResult> {
  return withTarget<ModsigInspectStatus, ModsigInspectDetails>(path, run, 'failed', async (t) => {
    const loaded = await loadAppended(t.handle, t.stat.size);
    if (loaded.kind === 'none') return { path, status: 'unsigned', failed: true, reason: NO_SIGNATURE };
    const details = describeLoaded(loaded);
    if (loaded.kind === 'invalid')
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: loaded.reason,
        warnings: loaded.rules?.warnings,
        details,
      };
    return { path, status: 'valid', failed: false, warnings: loaded.rules.warnings, details };
  });
}

export interface ModsigVerifyOptions {
  readonly certs: readonly Certificate[];
}

/** Verifies the appended signature over the payload with the given certificates. */
export async function verifyModsig(
  path: string,
  opts: ModsigVerifyOptions,
  run = new Run(),
): Promise<ModsigVerifyResult> {
  return withTarget<ModsigVerifyStatus, ModsigVerifyDetails>(path, run, 'failed', async (t) => {
    const loaded = await loadAppended(t.handle, t.stat.size);
    if (loaded.kind === 'none') return { path, status: 'unsigned', failed: true, reason: NO_SIGNATURE };
    const details = describeLoaded(loaded);
    if (loaded.kind === 'invalid')
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: loaded.reason,
        warnings: loaded.rules?.warnings,
        details,
      };
    const warnings = [...loaded.rules.warnings];
    const verdict = await verifyAppended(t.handle, loaded, opts.certs);
    if (!verdict.ok) return { path, status: 'failed', failed: true, reason: verdict.reason, warnings, details };
    const keyid = keyidOf(loaded.signer, verdict.cert);
    return {
      path,
      status: 'ok',
      failed: false,
      warnings,
      details: { ...details, ...(keyid ? { keyid } : {}), signer: verdict.cert.source },
    };
  });
}

// ---------------------------------------------------------------- writing

export interface OutputOption {
  /** Write here instead of replacing the file in place. */
  readonly output?: string;
}

function destinationOf(path: string, output: string | undefined): { dest: string; inPlace: boolean } {
  if (output === undefined || resolve(output) === resolve(path)) return { dest: path, inPlace: true };
  return { dest: output, inPlace: false };
}

async function writeFileFrom(
  t: Target,
  dest: string,
  inPlace: boolean,
  parts: Parameters<typeof writePartsAtomic>[1],
  run: Run,
): Promise<void> {
  const before = t.stat;
  const keep = keepModeOf(fstatSync(t.handle.fd)); // mode and owner: more than the open's facts carry
  await writePartsAtomic(dest, parts, {
    rollback: run.rollback,
    mode: keep.mode,
    owner: inPlace ? keep.owner : undefined,
    beforeRename: inPlace ? () => assertUnchanged(t, before) : undefined,
  });
}

/** Removes the appended signature: the payload, in place or to --output. */
export async function stripModsig(path: string, opts: OutputOption = {}, run = new Run()): Promise<ModsigStripResult> {
  return withTarget<ModsigStripStatus, ModsigStripDetails>(path, run, 'failed', async (t) => {
    const { dest, inPlace } = destinationOf(path, opts.output);
    const loaded = await loadAppended(t.handle, t.stat.size);
    if (loaded.kind === 'invalid' && !loaded.layout) {
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: `${loaded.reason}; not stripped (where the payload ends is unknown)`,
      };
    }
    if (loaded.kind === 'none') {
      if (inPlace) return { path, status: 'unsigned', failed: false, reason: 'no appended signature; left as it is' };
      await writeFileFrom(t, dest, false, [{ handle: t.handle, start: 0, length: t.stat.size }], run);
      return {
        path,
        status: 'unsigned',
        failed: false,
        reason: `no appended signature; copied unchanged to ${dest}`,
        details: { output: dest },
      };
    }
    // A well-formed trailer is enough to know where the payload ends, even when the CMS inside is bad.
    const layout = loaded.layout!;
    await writeFileFrom(t, dest, inPlace, [{ handle: t.handle, start: 0, length: layout.payloadLength }], run);
    const details: ModsigStripDetails = {
      payloadLength: layout.payloadLength,
      removed: layout.sigLen + MODSIG_TRAILER_SIZE,
      ...(inPlace ? {} : { output: dest }),
    };
    const warnings = loaded.kind === 'invalid' ? [`the removed signature was malformed: ${loaded.reason}`] : undefined;
    return { path, status: 'stripped', failed: false, warnings, details };
  });
}

export interface ModsigSignOptions extends OutputOption {
  readonly key: SigningKey;
  /** The signer's certificate (must match the key): issuer and serial or SKID go into the CMS. */
  readonly cert: Certificate;
  readonly hashAlgo: HashAlgo;
  readonly signerId: SignerIdForm;
  /** Replace an appended signature that is already there. */
  readonly force?: boolean;
}

/** Appends a signature exactly as scripts/sign-file does. */
export async function signModsig(path: string, opts: ModsigSignOptions, run = new Run()): Promise<ModsigSignResult> {
  return withTarget<ModsigSignStatus, ModsigSignDetails>(path, run, 'failed', async (t) => {
    const refusal = buildRefusal(opts.cert, opts.hashAlgo, opts.signerId);
    if (refusal) return { path, status: 'failed', failed: true, reason: refusal };
    const { dest, inPlace } = destinationOf(path, opts.output);
    const loaded = await loadAppended(t.handle, t.stat.size);
    let payloadLength = t.stat.size;
    let replaced = false;
    if (loaded.kind !== 'none') {
      if (loaded.kind === 'invalid' && !loaded.layout) {
        return {
          path,
          status: 'invalid',
          failed: true,
          reason: `${loaded.reason}; not signed (where its payload ends is unknown)`,
        };
      }
      if (!opts.force) {
        return {
          path,
          status: 'failed',
          failed: true,
          reason: `already carries an appended signature (${loaded.layout!.sigLen}-byte PKCS#7); --force replaces it`,
          details: describeLoaded(loaded),
        };
      }
      payloadLength = loaded.layout!.payloadLength;
      replaced = true;
    }
    if (payloadLength === 0)
      return {
        path,
        status: 'failed',
        failed: true,
        reason: 'empty file: the kernel rejects an appended signature with no payload before it',
      };
    const signer = new ContentSigner(opts.key, opts.hashAlgo, 2);
    const read = await streamHandle(t.handle, [signer], payloadLength);
    if (read !== payloadLength)
      return { path, status: 'failed', failed: true, reason: 'the file shrank while being read; not signed' };
    // Asynchronous: a key on a token signs there.
    const { signature } = await signer.finishAsync();
    const cms = await buildModuleCms({ cert: opts.cert, hashAlgo: opts.hashAlgo, signature, signerId: opts.signerId });
    await writeFileFrom(
      t,
      dest,
      inPlace,
      [{ handle: t.handle, start: 0, length: payloadLength }, cms, buildTrailer(cms.length)],
      run,
    );
    const details: ModsigSignDetails = {
      payloadLength,
      sigLen: cms.length,
      hashAlgo: opts.hashAlgo.name,
      signerId: opts.signerId,
      signer: opts.cert.source,
      ...(inPlace ? {} : { output: dest }),
    };
    return { path, status: replaced ? 'replaced' : 'signed', failed: false, details };
  });
}

export interface ModsigDetachOptions extends OutputOption {
  readonly certs: readonly Certificate[];
  readonly suffix: string;
}

/**
 * Turns FILE with an appended signature into the payload plus an evmctl v2
 * sidecar with the same signature bytes. The signature is verified first;
 * the sidecar is written before the payload replaces the file, so a failure
 * in between loses nothing.
 */
export async function detachModsig(
  path: string,
  opts: ModsigDetachOptions,
  run = new Run(),
): Promise<ModsigDetachResult> {
  return withTarget<ModsigDetachStatus, ModsigDetachDetails>(path, run, 'failed', async (t) => {
    const { dest, inPlace } = destinationOf(path, opts.output);
    const loaded = await loadAppended(t.handle, t.stat.size);
    if (loaded.kind === 'none') return { path, status: 'unsigned', failed: true, reason: NO_SIGNATURE };
    if (loaded.kind === 'invalid')
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: `${loaded.reason}; not detached`,
        details: describeLoaded(loaded),
      };
    const verdict = await verifyAppended(t.handle, loaded, opts.certs);
    if (!verdict.ok)
      return {
        path,
        status: 'failed',
        failed: true,
        reason: `${verdict.reason}; not detached`,
        details: describeLoaded(loaded),
      };
    const warnings = [...loaded.rules.warnings];
    const keyid = keyidOf(loaded.signer, verdict.cert)!;
    if (loaded.signer.sid.kind === 'issuer-serial' && verdict.cert.keyidSource === 'computed') {
      warnings.push(
        `${verdict.cert.source} has no subjectKeyIdentifier: ` +
          `keyid ${keyid} is computed from its key, and the kernel cannot match it`,
      );
    }
    const value: SignatureValue = {
      kind: 'signature',
      type: 0x03,
      version: 2,
      algo: loaded.signer.digestAlgo!,
      keyid,
      signature: loaded.signer.signature,
    };
    const bytes = encodeImaValue(value);
    const sidecar = sidecarPathFor(dest, opts.suffix);
    const { replaced } = await writeSidecar(sidecar, bytes, { rollback: run.rollback });
    await writeFileFrom(t, dest, inPlace, [{ handle: t.handle, start: 0, length: loaded.layout.payloadLength }], run);
    const details: ModsigDetachDetails = {
      sidecar,
      sidecarReplaced: replaced,
      payloadLength: loaded.layout.payloadLength,
      signer: verdict.cert.source,
      ...(inPlace ? {} : { output: dest }),
    };
    return { path, status: 'detached', failed: false, value: bytes, decoded: value, warnings, details };
  });
}

export interface ModsigAttachOptions extends OutputOption {
  readonly certs: readonly Certificate[];
  readonly signerId: SignerIdForm;
  readonly suffix: string;
  /** Keep FILE.sig after an in-place attach (it no longer matches the file). */
  readonly keepSidecar?: boolean;
}

/**
 * Turns FILE plus its v2 sidecar into FILE with an appended signature holding
 * the same signature bytes (byte-identical to sign-file's output for RSA).
 * The sidecar is verified against FILE with the certificate first.
 */
export async function attachModsig(
  path: string,
  opts: ModsigAttachOptions,
  run = new Run(),
): Promise<ModsigAttachResult> {
  return withTarget<ModsigAttachStatus, ModsigAttachDetails>(path, run, 'failed', async (t) => {
    const { dest, inPlace } = destinationOf(path, opts.output);
    const sidecar = sidecarPathFor(path, opts.suffix);
    const loaded = await loadAppended(t.handle, t.stat.size);
    if (loaded.kind !== 'none') {
      return {
        path,
        status: 'failed',
        failed: true,
        reason:
          'the file already ends with an appended signature; strip it first ' +
          '(a sidecar made for this file would cover that signature too)',
      };
    }
    if (t.stat.size === 0)
      return {
        path,
        status: 'failed',
        failed: true,
        reason: 'empty file: the kernel rejects an appended signature with no payload before it',
      };
    const bytes = readSidecar(sidecar);
    if (!bytes) return { path, status: 'failed', failed: true, reason: `no sidecar ${sidecar}` };
    const d = tryDecode(bytes);
    if ('error' in d)
      return {
        path,
        status: 'invalid',
        failed: true,
        reason: `malformed sidecar ${sidecar}: ${d.error}`,
        value: bytes,
      };
    const value = d.value;
    if (value.kind !== 'signature' || value.type !== 0x03 || value.version !== 2) {
      const what =
        value.kind === 'digest'
          ? 'a digest, not a signature'
          : `a type 0x0${value.type} version ${value.version} signature`;
      return {
        path,
        status: 'failed',
        failed: true,
        reason: `sidecar ${sidecar} holds ${what}; only a v2 file signature (0x03) converts to an appended signature`,
        value: bytes,
        decoded: value,
      };
    }
    const base = { path, value: bytes, decoded: value };
    const named = certificatesFor(value.keyid, opts.certs).filter((c) => c.algorithm !== undefined);
    if (named.length === 0)
      return {
        ...base,
        status: 'failed',
        failed: true,
        reason: `unknown keyid ${value.keyid}: no certificate given has it`,
      };
    const refusals: string[] = [];
    const usable = named.filter((c) => {
      const r = buildRefusal(c, value.algo, opts.signerId);
      if (r) refusals.push(r);
      return !r;
    });
    if (usable.length === 0) return { ...base, status: 'failed', failed: true, reason: refusals.join('; ') };
    const plan = planChecks([{ carrier: 'sidecar', bytes }], usable);
    if (plan.sinks.length) await streamHandle(t.handle, plan.sinks);
    const [check] = plan.finish();
    if (!check || check.status !== 'ok')
      return {
        ...base,
        status: 'failed',
        failed: true,
        reason: `sidecar does not verify: ${check?.reason ?? 'not checked'}; not attached`,
      };
    const cert = usable.find((c) => c.source === check.signer) ?? usable[0]!;
    const cms = await buildModuleCms({
      cert,
      hashAlgo: value.algo,
      signature: value.signature,
      signerId: opts.signerId,
    });
    await writeFileFrom(
      t,
      dest,
      inPlace,
      [{ handle: t.handle, start: 0, length: t.stat.size }, cms, buildTrailer(cms.length)],
      run,
    );
    let details: ModsigAttachDetails = {
      payloadLength: t.stat.size,
      sigLen: cms.length,
      signerId: opts.signerId,
      signer: cert.source,
      sidecar,
      ...(inPlace ? {} : { output: dest }),
    };
    const warnings: string[] = [];
    if (inPlace && !opts.keepSidecar) {
      try {
        await unlink(fsPath(sidecar));
        details = { ...details, sidecarRemoved: true };
      } catch (e) {
        warnings.push(`could not remove ${sidecar}, which no longer matches the file: ${(e as Error).message}`);
      }
    }
    return { ...base, status: 'attached', failed: false, warnings, details };
  });
}

// ---------------------------------------------------------------- trees

export function inspectModsigTree(paths: readonly string[], tree: TreeOptions): TreeResults<ModsigInspectResult> {
  return processTree(paths, tree, (sel, run) => inspectModsig(sel.path, run));
}

export function verifyModsigTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ModsigVerifyOptions,
): TreeResults<ModsigVerifyResult> {
  return processTree(paths, tree, (sel, run) => verifyModsig(sel.path, opts, run));
}

export function stripModsigTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: OutputOption = {},
): TreeResults<ModsigStripResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: true }, (sel, run) => stripModsig(sel.path, opts, run));
}

export function signModsigTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ModsigSignOptions,
): TreeResults<ModsigSignResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: true }, (sel, run) => signModsig(sel.path, opts, run));
}

export function detachModsigTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ModsigDetachOptions,
): TreeResults<ModsigDetachResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: true }, (sel, run) => detachModsig(sel.path, opts, run));
}

export function attachModsigTree(
  paths: readonly string[],
  tree: TreeOptions,
  opts: ModsigAttachOptions,
): TreeResults<ModsigAttachResult> {
  return processTree(paths, { ...tree, cleanStaleTemporaries: true }, (sel, run) => attachModsig(sel.path, opts, run));
}
