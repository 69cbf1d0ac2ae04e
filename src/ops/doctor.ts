/**
 * doctor: the kernel's appraisal verdict for each file and one hook, and why.
 * Each file is examined without being read (O_PATH), its security.ima and
 * sidecar checked against its content and against the keys the kernel holds
 * (or certificates given for them), and the verdict predicted from that and
 * the kernel view (kernel/view.ts). Opening a file for reading is itself an
 * appraisal: an EACCES there is taken as the kernel's answer, not an error.
 */
import { Run } from '../carriers/run.js';
import { canCompute, HashAlgo } from '../codec/hash-algo.js';
import { readSidecar, sidecarPathFor, DEFAULT_SUFFIX } from '../carriers/sidecar.js';
import { closeTarget, openTarget, Target } from '../carriers/target.js';
import type { Certificate } from '../crypto/certificate.js';
import { DigestSink, ONE_READ, streamHandle, streamSmallSync } from '../crypto/digest.js';
import { ContentSink, ContentVerifier, SignatureCheck } from '../crypto/signature.js';
import { FileError, errnoOf } from '../errors.js';
import { currentSubject } from '../kernel/credentials.js';
import { examineFile, ExaminedFile, FileFacts } from '../kernel/file-facts.js';
import { kernelValue, KernelValue } from '../kernel/ima-xattr.js';
import { KernelKeyVerifier } from '../kernel/key-verify.js';
import { keyForKeyid, KeyringView } from '../kernel/keyring.js';
import type { Subject } from '../kernel/match.js';
import { HookName, ImaFact, KeyCheck, predictVerdict, Verdict, VerdictInput } from '../kernel/verdict.js';
import type { KernelView } from '../kernel/view.js';
import { certificatesFor } from './check.js';

export interface DoctorOptions {
  readonly hook: HookName;
  readonly view: KernelView;
  /** Certificates for the signatures' keyids (the kernel cannot give its keys' certificates back). */
  readonly certs?: readonly Certificate[];
  /** The attribute to read as security.ima (user.ima for unprivileged tests). */
  readonly xattrName?: string;
  readonly suffix?: string;
  /** Whose access is predicted (uid=, euid=, gid=, egid= rules): this process by default. */
  readonly subject?: Subject;
  /** Verifies with the kernel's own key (keyctl pkey_verify); none by default. */
  readonly keyVerifier?: KernelKeyVerifier;
}

export interface DoctorVerdict extends Verdict {
  readonly kind: 'verdict';
  /** What the kernel appraises: the path with symbolic links resolved. */
  readonly realPath: string;
  readonly filesystem: {
    readonly type: string;
    readonly magic: number;
    readonly uuid?: string;
    readonly xattrs: boolean;
  };
  readonly owner: { readonly uid: number; readonly gid: number };
  /** The bytes of security.ima (or the attribute read in its place), when it has a value. */
  readonly value?: Buffer;
  readonly sidecar?: {
    readonly path: string;
    readonly sameAsXattr: boolean;
    /** Its value would pass where the attribute's does not: importing it is the fix. */
    readonly passes: boolean;
  };
  /** Opening it for reading was refused with EACCES (taken as the kernel's denial). */
  readonly openDenied: boolean;
}

export interface DoctorError {
  readonly kind: 'error';
  readonly path: string;
  readonly hook: HookName;
  readonly reason: string;
  readonly code?: string;
}

export type DoctorResult = DoctorVerdict | DoctorError;

/** Whether the file's mode lets this process read it, so that an EACCES must come from elsewhere. */
function modeAllowsRead(facts: FileFacts, subject: Subject): boolean {
  if (subject.euid === 0) return true;
  const groups = new Set([subject.egid, ...(process.getgroups?.() ?? [])]);
  if (facts.uid === subject.euid) return (facts.mode & 0o400) !== 0;
  if (groups.has(facts.gid)) return (facts.mode & 0o040) !== 0;
  return (facts.mode & 0o004) !== 0;
}

/** The content's digests and the certificates' verdicts, from one pass over the file. */
interface ContentChecks {
  readonly digests: Map<string, Buffer>;
  readonly verifiers: Map<string, { cert: Certificate; verifier: ContentVerifier }[]>;
}

function signedValues(values: readonly (KernelValue | undefined)[]): Extract<KernelValue, { kind: 'signature' }>[] {
  return values.filter(
    (v): v is Extract<KernelValue, { kind: 'signature' }> =>
      v?.kind === 'signature' && v.version === 2 && !v.malformed && v.keyid !== undefined,
  );
}

async function readContent(
  target: Target,
  values: readonly (KernelValue | undefined)[],
  certs: readonly Certificate[],
): Promise<ContentChecks> {
  const sinks: ContentSink[] = [];
  const digestSinks = new Map<string, DigestSink>();
  const need = (algo: HashAlgo): void => {
    if (canCompute(algo) && !digestSinks.has(algo.name)) digestSinks.set(algo.name, new DigestSink(algo));
  };
  for (const v of values) if (v && (v.kind === 'digest' || v.kind === 'signature')) need(v.algo);
  const verifiers = new Map<string, { cert: Certificate; verifier: ContentVerifier }[]>();
  for (const v of signedValues(values)) {
    if (!canCompute(v.algo)) continue;
    const key = `${v.keyid}:${v.algo.name}:${v.signature.toString('hex')}`;
    if (verifiers.has(key)) continue;
    const list = certificatesFor(v.keyid!, certs)
      .filter((c) => c.algorithm !== undefined)
      .map((cert) => ({ cert, verifier: new ContentVerifier(cert.publicKey, v.algo, 2, v.signature) }));
    verifiers.set(key, list);
    for (const { verifier } of list) if (verifier.needsContent) sinks.push(verifier);
  }
  sinks.push(...digestSinks.values());
  if (sinks.length > 0) {
    const small = target.stat.size < ONE_READ && streamSmallSync(target.handle.fd, sinks) !== undefined;
    if (!small) await streamHandle(target.handle, sinks);
  }
  const digests = new Map<string, Buffer>();
  for (const [name, sink] of digestSinks) digests.set(name, sink.digest());
  return { digests, verifiers };
}

/** The certificates' answer for a signature: valid, content-changed, bad-signature, or none to ask. */
function certificateAnswer(
  v: Extract<KernelValue, { kind: 'signature' }>,
  content: ContentChecks | undefined,
): { result: 'valid' | 'bad-signature' | 'content-changed'; cert: Certificate } | undefined {
  const list = content?.verifiers.get(`${v.keyid}:${v.algo.name}:${v.signature.toString('hex')}`) ?? [];
  const digest = content?.digests.get(v.algo.name);
  if (!digest) return undefined;
  let last: { result: 'bad-signature' | 'content-changed'; cert: Certificate } | undefined;
  for (const { cert, verifier } of list) {
    const check: SignatureCheck = verifier.finish(digest);
    if (check.ok) return { result: 'valid', cert };
    if (!last || check.reason === 'digest-mismatch')
      last = { result: check.reason === 'digest-mismatch' ? 'content-changed' : 'bad-signature', cert };
  }
  return last;
}

/** How a signature fares with one keyring: its key by keyid, then the kernel's answer or a certificate's. */
function keyCheck(
  view: KeyringView,
  v: KernelValue,
  content: ContentChecks | undefined,
  readFailure: string | undefined,
  verifier: KernelKeyVerifier | undefined,
): KeyCheck {
  const base = { keyring: view.name, keyringState: view.state, membershipCertain: view.membership === 'keyctl' };
  if (v.kind !== 'signature' || v.keyid === undefined) return { ...base, result: 'unchecked', how: 'no keyid' };
  const key = keyForKeyid(view, v.keyid);
  if (!key) return { ...base, result: 'unchecked', how: `no key with keyid ${v.keyid}` };
  const withKey = { ...base, key };
  if (readFailure) return { ...withKey, result: 'unchecked', how: readFailure };
  const digest = content?.digests.get(v.algo.name);
  if (!digest) return { ...withKey, result: 'unchecked', how: `${v.algo.name} cannot be computed here` };
  const byCert = certificateAnswer(v, content);
  const kernel =
    v.version === 2 && !v.malformed
      ? verifier?.(key.serial, key.algorithm, v.algo.name, digest, v.signature)
      : undefined;
  if (kernel === 'valid') return { ...withKey, result: 'valid', how: `keyctl pkey_verify with key ${key.serial}` };
  if (kernel === 'bad-signature')
    return {
      ...withKey,
      result: byCert?.result === 'content-changed' ? 'content-changed' : 'bad-signature',
      how: `keyctl pkey_verify with key ${key.serial}`,
    };
  if (byCert) return { ...withKey, result: byCert.result, how: `certificate ${byCert.cert.source}` };
  return {
    ...withKey,
    result: 'unchecked',
    how: `no certificate with keyid ${v.keyid} was given (--cert), and keyctl cannot ask the kernel's key here`,
  };
}

function imaFact(
  read: ExaminedFile['ima'] | { bytes: Buffer },
  value: KernelValue | undefined,
  content: ContentChecks | undefined,
  readFailure: string | undefined,
  opts: DoctorOptions,
): ImaFact {
  if ('state' in read) return { state: read.state };
  if ('code' in read) return { state: 'unreadable', code: read.code };
  const v = value!;
  if (v.kind === 'empty') return { state: 'absent' };
  let digest: Extract<ImaFact, { state: 'present' }>['digest'];
  if (v.kind === 'digest' && v.compared) {
    const computed = content?.digests.get(v.algo.name);
    digest = readFailure
      ? { unknown: readFailure }
      : computed
        ? { matches: computed.equals(v.compared) }
        : { unknown: `${v.algo.name} cannot be computed here` };
  }
  const view = opts.view;
  return {
    state: 'present',
    value: v,
    digest,
    ima: v.kind === 'signature' ? keyCheck(view.keyring, v, content, readFailure, opts.keyVerifier) : undefined,
    platform:
      v.kind === 'signature' ? keyCheck(view.platformKeyring, v, content, readFailure, opts.keyVerifier) : undefined,
  };
}

/** The kernel's verdict for one file (the path as given). Never throws: problems are DoctorError results. */
export async function doctorFile(path: string, opts: DoctorOptions): Promise<DoctorResult> {
  const xattrName = opts.xattrName ?? 'security.ima';
  const subject = opts.subject ?? currentSubject();
  let examined: ExaminedFile;
  try {
    examined = examineFile(path, xattrName);
  } catch (e) {
    return errorResult(path, opts.hook, e);
  }
  const facts = examined.facts;
  const sidecarPath = sidecarPathFor(path, opts.suffix ?? DEFAULT_SUFFIX);
  let sidecar: Buffer | undefined;
  try {
    sidecar = readSidecar(sidecarPath);
  } catch {
    sidecar = undefined; // an unreadable or oversized sidecar offers no fix
  }
  const profile = opts.view.profile;
  const xattrBytes = 'bytes' in examined.ima ? examined.ima.bytes : undefined;
  const value = xattrBytes ? kernelValue(xattrBytes, profile) : undefined;
  const sameAsXattr = sidecar !== undefined && xattrBytes !== undefined && sidecar.equals(xattrBytes);
  const sidecarValue = sidecar && !sameAsXattr && sidecar.length > 0 ? kernelValue(sidecar, profile) : undefined;

  let content: ContentChecks | undefined;
  let readFailure: string | undefined;
  let openDenied = false;
  let target: Target | undefined;
  try {
    target = openTarget(facts.symlink ? facts.realPath : path, new Run());
  } catch (e) {
    if (errnoOf(e) === 'EACCES' || (e instanceof FileError && e.code === 'EACCES')) {
      if (!modeAllowsRead(facts, subject))
        return {
          kind: 'error',
          path,
          hook: opts.hook,
          reason: 'permission denied: its mode does not let this user read it',
          code: 'EACCES',
        };
      openDenied = true;
      readFailure = 'the file cannot be read (EACCES)';
    } else return errorResult(path, opts.hook, e);
  }
  if (target) {
    try {
      if (target.stat.dev !== facts.dev || target.stat.ino !== facts.ino)
        return {
          kind: 'error',
          path,
          hook: opts.hook,
          reason: 'file was replaced while it was examined',
          code: 'ECHANGED',
        };
      content = await readContent(target, [value, sidecarValue], opts.certs ?? []);
    } catch (e) {
      return errorResult(path, opts.hook, e);
    } finally {
      closeTarget(target);
    }
  }

  const view = opts.view;
  const base: Omit<VerdictInput, 'ima' | 'sidecar'> = {
    // The fixes name the file itself: the commands refuse to work through a symbolic link.
    path: facts.symlink ? facts.realPath : path,
    hook: opts.hook,
    rules: view.policy.rules,
    mode: view.appraise.mode,
    failSecurely: view.cmdline.failSecurely,
    evm: view.evm,
    file: facts,
    subject,
    evmXattr: examined.evm,
    profile,
    certificates: (opts.certs ?? []).map((c) => ({ path: c.source.replace(/#\d+$/, ''), keyid: c.keyid })),
    xattrName,
    openDenied,
  };
  let sidecarPasses = false;
  if (sidecar && sidecarValue) {
    const fact = imaFact({ bytes: sidecar }, sidecarValue, content, readFailure, opts);
    const would = predictVerdict({ ...base, ima: fact, mode: 'enforce', openDenied: false });
    sidecarPasses = would.verdict !== 'denied' && would.certain;
  }
  const verdict = predictVerdict({
    ...base,
    ima: imaFact(examined.ima, value, content, readFailure, opts),
    sidecar: sidecar ? { path: sidecarPath, passes: sidecarPasses } : undefined,
  });
  const notes = [...verdict.notes];
  if (facts.symlink) notes.unshift(`${path} is a symbolic link to ${facts.realPath}, which the kernel appraises`);
  return {
    ...verdict,
    path,
    notes,
    kind: 'verdict',
    realPath: facts.realPath,
    filesystem: { type: facts.fsType, magic: facts.fsMagic, uuid: facts.fsUuid, xattrs: facts.xattrHandlers },
    owner: { uid: facts.uid, gid: facts.gid },
    value: xattrBytes,
    sidecar: sidecar ? { path: sidecarPath, sameAsXattr, passes: sidecarPasses } : undefined,
    openDenied,
  };
}

/** Each path's verdict, in order. */
export async function* doctorFiles(paths: readonly string[], opts: DoctorOptions): AsyncGenerator<DoctorResult> {
  for (const p of paths) yield await doctorFile(p, opts);
}

function errorResult(path: string, hook: HookName, e: unknown): DoctorError {
  if (e instanceof FileError) return { kind: 'error', path, hook, reason: e.reason, code: e.code };
  const err = e as NodeJS.ErrnoException;
  return { kind: 'error', path, hook, reason: err?.message ?? String(e), code: errnoOf(e) };
}
