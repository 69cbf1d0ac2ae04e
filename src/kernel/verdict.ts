/**
 * The kernel's appraisal verdict for one file and one hook, predicted from
 * facts gathered elsewhere: a pure function of the policy, the appraisal
 * mode, the keyrings, EVM and what was found on and in the file. It follows
 * process_measurement and ima_appraise_measurement (ima_main.c,
 * ima_appraise.c) step by step, gives the audit cause in the kernel's words,
 * says why in ours, and proposes a command that would make the file pass.
 */
import { HASH_ALGOS, canCompute } from '../codec/hash-algo.js';
import type { AppraiseMode } from './cmdline.js';
import type { EvmState } from './evm.js';
import type { KernelValue } from './ima-xattr.js';
import type { KernelKey } from './keyring.js';
import { decidingRule, MatchFile, Subject } from './match.js';
import { HookName, HookStep, HOOKS } from './hooks.js';
import { PolicyFunc, PolicyRule, ruleLocation, signatureRequired, verityRequired } from './policy.js';
import { KernelProfile } from './profile.js';

export { HOOK_NAMES, HOOKS } from './hooks.js';
export type { HookName, HookStep } from './hooks.js';

/** What the kernel sees of the file and its filesystem. */
export interface VerdictFile extends MatchFile {
  /** The filesystem's name for people (fuse.sshfs); fsName when absent. */
  readonly fsType?: string;
  /** The filesystem has xattr handlers at all (IOP_XATTR): not vfat, exfat, iso9660, udf. */
  readonly xattrHandlers: boolean;
  /** FUSE and the like (SB_I_IMA_UNVERIFIABLE_SIGNATURE): signatures fail with ima_policy=fail_securely. */
  readonly unverifiableSignatures: boolean;
  /** Mounted from a user namespace (SB_I_UNTRUSTED_MOUNTER); undefined when not known. */
  readonly untrustedMounter?: boolean;
}

/** The file's digest with the kernel's algorithm, compared with the value's bytes. */
export type DigestFact = { readonly matches: boolean } | { readonly unknown: string };

/** How a signature fared against one keyring's key. */
export interface KeyCheck {
  readonly keyring: string;
  readonly keyringState: 'present' | 'absent' | 'unknown';
  /** The key with the signature's keyid, if the keyring has one. */
  readonly key?: KernelKey;
  /** Whether the keyring's membership is known for certain (keyctl) or taken from /proc/keys alone. */
  readonly membershipCertain: boolean;
  /** valid, bad-signature, content-changed (the signed digest is not the file's), or unchecked. */
  readonly result: 'valid' | 'bad-signature' | 'content-changed' | 'unchecked';
  /** What it was checked with, or why it was not checked. */
  readonly how: string;
}

export type ImaFact =
  /** No value (ENODATA), or a zero-length one. */
  | { readonly state: 'absent' }
  /** The filesystem answered EOPNOTSUPP although it has xattr handlers (a FUSE daemon without xattrs). */
  | { readonly state: 'unsupported' }
  | { readonly state: 'unreadable'; readonly code: string }
  | {
      readonly state: 'present';
      readonly value: KernelValue;
      readonly digest?: DigestFact;
      /** The IMA keyring's check, and for KEXEC_KERNEL_CHECK the .platform keyring's. */
      readonly ima?: KeyCheck;
      readonly platform?: KeyCheck;
    };

export type EvmFact =
  | { readonly state: 'absent' }
  | { readonly state: 'unsupported' }
  | { readonly state: 'unreadable'; readonly code: string }
  | { readonly state: 'present'; readonly type: number; readonly length: number };

export interface VerdictInput {
  /** The path as given: named in the fix. */
  readonly path: string;
  readonly hook: HookName;
  readonly rules: readonly PolicyRule[];
  /** ima_appraise as in force (after Secure Boot overrode it, when it did). */
  readonly mode: AppraiseMode;
  readonly failSecurely: boolean;
  readonly evm: EvmState;
  readonly file: VerdictFile;
  readonly subject: Subject;
  readonly ima: ImaFact;
  readonly evmXattr: EvmFact;
  readonly profile: KernelProfile;
  /** A sidecar beside the file, and whether its value would pass where the xattr's does not. */
  readonly sidecar?: { readonly path: string; readonly passes: boolean };
  /** Certificates known here, by keyid: named in the fixes. */
  readonly certificates?: readonly { readonly path: string; readonly keyid: string }[];
  /** The attribute read as security.ima, when another (tests: user.ima). */
  readonly xattrName?: string;
  /**
   * Opening the file for reading was refused with EACCES although its mode allows it: the kernel's own
   * FILE_CHECK (or an LSM) denied it, which the prediction has to agree with.
   */
  readonly openDenied?: boolean;
}

export type VerdictName = 'allowed' | 'denied' | 'not-appraised';

export interface Verdict {
  readonly path: string;
  readonly hook: HookName;
  readonly verdict: VerdictName;
  /**
   * The cause of the kernel's audit record (type 1800, INTEGRITY_DATA) in its words; null when it writes none:
   * not appraised, passed, or the silent denial of a filesystem without xattrs. In log and fix modes, the
   * cause of the record it writes while allowing the access.
   */
  readonly cause: string | null;
  /** The kernel writes an audit record for this access. */
  readonly auditRecord: boolean;
  readonly explanation: string;
  /** The rule that decided (appraise or dont_appraise); undefined when none matched. */
  readonly rule?: PolicyRule;
  /** The hook function of the step that decided. */
  readonly func: PolicyFunc;
  /** A command that would make the file pass, when it does not (or would not in enforce mode). */
  readonly fix?: string;
  /** Every fact the verdict rests on was established (see notes otherwise). */
  readonly certain: boolean;
  readonly notes: readonly string[];
}

/** The appraise rules that make the kernel appraise even with ima_appraise=off (ima_appraise_flag). */
const REENABLING_FUNCS: ReadonlySet<PolicyFunc> = new Set([
  'MODULE_CHECK',
  'FIRMWARE_CHECK',
  'POLICY_CHECK',
  'KEXEC_KERNEL_CHECK',
]);

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The outcome of one appraisal (ima_appraise_measurement, then the appraise_algos check). */
interface Appraisal {
  readonly pass: boolean;
  readonly cause: string | null;
  readonly audit: boolean;
  readonly explanation: string;
  readonly fix?: string;
  readonly certain: boolean;
  readonly notes: readonly string[];
  /** In fix mode, the kernel rewrote security.ima with a hash, so the file passed. */
  readonly fixedByKernel?: boolean;
}

interface StepResult {
  readonly step: HookStep;
  readonly rule?: PolicyRule;
  readonly appraisal?: Appraisal;
  readonly notes: readonly string[];
}

export function predictVerdict(input: VerdictInput): Verdict {
  const hook = HOOKS[input.hook];
  const notes: string[] = [];
  if (input.xattrName && input.xattrName !== 'security.ima')
    notes.push(`${input.xattrName} was read in place of security.ima (--xattr): the kernel reads security.ima`);
  const reenabled = input.rules.some((r) => r.action === 'appraise' && r.func && REENABLING_FUNCS.has(r.func));
  // The step of the access itself (BPRM_CHECK for exec), as against the open on the way to it.
  const mainStep = hook.steps.find((s) => s.func === hook.func)!;
  if (input.mode === 'off' && !reenabled) {
    return {
      path: input.path,
      hook: input.hook,
      verdict: 'not-appraised',
      cause: null,
      auditRecord: false,
      explanation: 'ima_appraise=off: the kernel appraises nothing',
      func: mainStep.func,
      certain: true,
      notes,
    };
  }
  if (input.mode === 'off')
    notes.push(
      'ima_appraise=off, but an appraise rule for MODULE_CHECK, FIRMWARE_CHECK, POLICY_CHECK or KEXEC_KERNEL_CHECK' +
        ' turns appraisal back on, without enforcing it',
    );
  const enforcing = input.mode === 'enforce';
  const results: StepResult[] = hook.steps.map((step) => {
    const decided = decidingRule(input.rules, 'appraise', {
      func: step.func,
      mask: step.mask,
      file: input.file,
      subject: input.subject,
    });
    if (!decided.rule || decided.rule.action !== 'appraise')
      return { step, rule: decided.rule, notes: decided.assumptions };
    return { step, rule: decided.rule, appraisal: appraise(input, step, decided.rule), notes: decided.assumptions };
  });
  if (input.openDenied) observeOpenDenial(input, results, notes);
  for (const r of results)
    for (const n of [...r.notes, ...(r.appraisal?.notes ?? [])]) if (!notes.includes(n)) notes.push(n);
  // A rule taken to match (LSM labels) or not (an unknown UUID) leaves the verdict open too.
  const certain = results.every((r) => r.notes.length === 0 && (!r.appraisal || r.appraisal.certain));
  const failing = results.find((r) => r.appraisal && !r.appraisal.pass);
  const base = { path: input.path, hook: input.hook, certain, notes };
  if (failing) {
    const a = failing.appraisal!;
    // The access itself goes without saying; a step on the way to it (an open) is named.
    const where = failing.step !== mainStep ? ` (when ${failing.step.what}, ${failing.step.func})` : '';
    if (enforcing)
      return {
        ...base,
        verdict: 'denied',
        cause: a.cause,
        auditRecord: a.audit,
        explanation: a.explanation + where,
        rule: failing.rule,
        func: failing.step.func,
        fix: a.fix,
      };
    const allowedWhy =
      input.mode === 'fix' && a.fixedByKernel
        ? 'ima_appraise=fix: the kernel writes a fresh hash into security.ima and allows it'
        : `ima_appraise=${input.mode}: the kernel allows it, but enforcing would deny it`;
    return {
      ...base,
      verdict: 'allowed',
      cause: a.cause,
      auditRecord: a.audit,
      explanation: `${allowedWhy}: ${a.explanation}${where}`,
      rule: failing.rule,
      func: failing.step.func,
      fix: a.fix,
    };
  }
  const appraised = [...results].reverse().find((r) => r.appraisal);
  if (appraised) {
    return {
      ...base,
      verdict: 'allowed',
      cause: null,
      auditRecord: false,
      explanation: appraised.appraisal!.explanation,
      rule: appraised.rule,
      func: appraised.step.func,
    };
  }
  const main = results.find((r) => r.step === mainStep)!;
  const explanation = main.rule
    ? `${ruleLocation(main.rule)} exempts it (dont_appraise)`
    : `no appraise rule matches ${main.step.func} with ${main.step.mask}` +
      (input.rules.some((r) => r.action === 'appraise') ? '' : ' (the policy has no appraise rule)');
  return {
    ...base,
    verdict: 'not-appraised',
    cause: null,
    auditRecord: false,
    explanation,
    rule: main.rule,
    func: main.step.func,
  };
}

/**
 * The kernel refused to open the file for reading: the FILE_CHECK read step failed, whatever was predicted.
 * A prediction that passed only for want of the content becomes the failure the content would explain; one
 * that passed for certain (or appraised nothing) is contradicted: the policy assumed is not the one in force,
 * or an LSM refused the open.
 */
function observeOpenDenial(input: VerdictInput, results: StepResult[], notes: string[]): void {
  const i = results.findIndex((r) => r.step.func === 'FILE_CHECK' && r.step.mask === 'MAY_READ');
  if (i < 0) {
    notes.push('opening it for reading was refused (EACCES): a read of it is denied');
    return;
  }
  const r = results[i]!;
  const a = r.appraisal;
  if (a && !a.pass) {
    notes.push('confirmed: opening it for reading was refused (EACCES)');
    return;
  }
  const observed = 'opening it for reading was refused (EACCES)';
  let appraisal: Appraisal;
  if (a && !a.certain && input.ima.state === 'present' && input.ima.value.kind === 'digest')
    appraisal = {
      ...a,
      pass: false,
      cause: 'invalid-hash',
      audit: true,
      explanation: `${observed}: the content is not the one hashed in security.ima`,
      fix: new Fixes(input).hash(),
    };
  else if (a && !a.certain && input.ima.state === 'present' && input.ima.value.kind === 'signature')
    appraisal = {
      ...a,
      pass: false,
      cause: 'invalid-signature',
      audit: true,
      explanation: `${observed}: the signature does not verify over the content`,
      fix: new Fixes(input).sign(),
    };
  else
    appraisal = {
      pass: false,
      cause: null,
      audit: false,
      explanation:
        `${observed}, though ${r.step.func} is predicted to ${a ? 'pass' : 'not appraise it'}: ` +
        'the policy in force is not the one assumed, or an LSM refused it',
      certain: false,
      notes: [],
    };
  results[i] = { ...r, appraisal: { ...appraisal, certain: false } };
}

/** Words for the fixes: the path and the certificates, quoted for a shell. */
class Fixes {
  constructor(private readonly input: VerdictInput) {}
  private get path(): string {
    return shellWord(this.input.path);
  }
  certFor(keyid: string | undefined): string | undefined {
    return this.input.certificates?.find((c) => c.keyid === keyid)?.path;
  }
  private signingCert(): string {
    return this.input.certificates?.[0]?.path ?? '/etc/keys/x509_ima.der';
  }
  sign(algo?: string): string {
    const a = algo && algo !== 'sha256' ? ` --hash-algo ${algo}` : '';
    return `ima-sidecar sign --cert ${shellWord(this.signingCert())}${a} --to xattr ${this.path}`;
  }
  hash(): string {
    return `ima-sidecar hash --to xattr --force ${this.path}`;
  }
  /** A sidecar that would pass: import it; else `otherwise`. */
  fromSidecarOr(force: boolean, otherwise: string): string {
    return this.input.sidecar?.passes ? `ima-sidecar import${force ? ' --force' : ''} ${this.path}` : otherwise;
  }
  migrate(): string {
    return `ima-sidecar migrate ${this.path} DEST  (DEST: a directory on a filesystem with extended attributes)`;
  }
  addKey(keyring: string, keyid: string | undefined, keyringAbsent: boolean): string {
    const cert = this.certFor(keyid);
    const certWord = cert ? shellWord(cert) : `CERT.der  (the certificate with keyid ${keyid ?? '?'})`;
    const feed = cert && !/\.der$/i.test(cert) ? `openssl x509 -in ${certWord} -outform der | ` : '';
    const into = `${feed}keyctl padd asymmetric "" %keyring:${keyring}${feed ? '' : ` < ${certWord}`}`;
    return keyringAbsent ? `keyctl newring ${keyring} @u && ${into}` : into;
  }
  evm(): string {
    return this.input.evm.hmacKey
      ? `boot with evm=fix, then ima-sidecar import --force ${this.path} (the kernel then writes security.evm)`
      : `evmctl sign --portable --key /etc/keys/privkey_evm.pem ${this.path}`;
  }
}

/** ima_appraise_measurement for one step whose rule appraises, then the appraise_algos check. */
function appraise(input: VerdictInput, step: HookStep, rule: PolicyRule): Appraisal {
  const fixes = new Fixes(input);
  const notes: string[] = [];
  const needs = signatureRequired(rule) ? `a signature (appraise_type=${rule.appraiseType})` : 'a hash or a signature';
  const where = ruleLocation(rule);
  const fs = input.file.fsType ?? input.file.fsName;
  const fail = (cause: string | null, explanation: string, fix?: string, certain = true): Appraisal => ({
    pass: false,
    cause,
    audit: cause !== null,
    explanation,
    fix,
    certain,
    notes,
  });

  // No xattr handlers at all: the kernel gives up before logging anything (INTEGRITY_UNKNOWN).
  if (!input.file.xattrHandlers) {
    return fail(
      null,
      `filesystem ${fs} has no extended attributes, so there is no security.ima to appraise, ` +
        `and the kernel writes no audit record for it (${where} needs ${needs})`,
      fixes.migrate(),
    );
  }
  const ima = input.ima;
  // The algorithm the kernel hashed with: the value's, else its default (ima_get_hash_algo).
  const hashAlgo = ima.state === 'present' && 'algo' in ima.value ? ima.value.algo.name : input.profile.defaultHashAlgo;
  const found = valueOutcome(input, step, rule, fixes, needs);
  notes.push(...found.notes);
  const { cause, explanation, fix, certain } = found;

  // ima_appraise_measurement's "out:": FUSE signatures under fail_securely or an untrusted mounter.
  if (input.file.unverifiableSignatures && (input.file.untrustedMounter || input.failSecurely)) {
    const why = input.failSecurely ? 'ima_policy=fail_securely' : 'it was mounted by an untrusted mounter';
    return fail(
      'unverifiable-signature',
      `filesystem ${fs} cannot guarantee what the kernel checks, and ${why} makes every such appraisal fail`,
      fixes.migrate(),
    );
  }
  if (input.file.unverifiableSignatures && input.file.untrustedMounter === undefined)
    notes.push(`${fs}: whether it was mounted from a user namespace is not known (then: unverifiable-signature)`);

  if (!found.pass) {
    // Fix mode writes a hash over anything but a file signature, and the file passes.
    const isFileSignature = ima.state === 'present' && ima.value.kind === 'signature';
    if (input.mode === 'fix' && !isFileSignature) {
      return { pass: false, cause, audit: true, explanation, fix, certain, notes, fixedByKernel: true };
    }
    return fail(cause, explanation, fix, certain);
  }
  // Passed: the hash algorithm must be one the rule allows (op=collect_data).
  if (rule.appraiseAlgos && hashAlgo && !rule.appraiseAlgos.includes(hashAlgo)) {
    const allowed = rule.appraiseAlgos.join(',');
    const usable = rule.appraiseAlgos.find((a) => {
      const algo = HASH_ALGOS.find((h) => h.name === a);
      return algo && !algo.weak && canCompute(algo);
    });
    return fail(
      'denied-hash-algorithm',
      `the value uses ${hashAlgo}, and ${where} allows only ${allowed} (appraise_algos=)`,
      usable ? fixes.sign(usable) : undefined,
      certain,
    );
  }
  return { pass: true, cause: null, audit: false, explanation, certain, notes };
}

/** What reading security.ima finds: no value, an EVM failure, or xattr_verify's outcome. */
function valueOutcome(
  input: VerdictInput,
  step: HookStep,
  rule: PolicyRule,
  fixes: Fixes,
  needs: string,
): VerifyOutcome {
  const ima = input.ima;
  const where = ruleLocation(rule);
  const fs = input.file.fsType ?? input.file.fsName;
  const sigRequired = signatureRequired(rule);
  if (ima.state === 'unreadable')
    return {
      pass: false,
      cause: 'unknown',
      explanation: `reading security.ima failed (${ima.code})`,
      certain: false,
      notes: [],
    };
  if (ima.state !== 'present' || ima.value.kind === 'empty') {
    const cause = sigRequired
      ? verityRequired(rule)
        ? 'verity-signature-required'
        : 'IMA-signature-required'
      : 'missing-hash';
    const make = sigRequired ? fixes.sign() : `ima-sidecar hash --to xattr ${shellWord(input.path)}`;
    const unsupported = ima.state === 'unsupported';
    return {
      pass: false,
      cause,
      explanation: unsupported
        ? `filesystem ${fs} answers that it has no extended attributes, so there is no security.ima; ` +
          `${where} needs ${needs}`
        : `security.ima is missing; ${where} needs ${needs}`,
      fix: unsupported ? fixes.migrate() : fixes.fromSidecarOr(false, make),
      certain: true,
      notes: [],
    };
  }
  const evm = evmCheck(input, fixes);
  if (evm.cause)
    return { pass: false, cause: evm.cause, explanation: evm.explanation!, fix: evm.fix, certain: true, notes: [] };
  const v = xattrVerify(input, step, rule, ima.value, ima, evm.passImmutable, fixes, needs);
  return { ...v, notes: [...(evm.notes ?? []), ...v.notes] };
}

interface EvmOutcome {
  readonly cause?: string;
  readonly explanation?: string;
  readonly fix?: string;
  /** A valid portable EVM signature: the kernel then takes a hash in security.ima as signed. */
  readonly passImmutable: boolean;
  readonly notes?: string[];
}

/** evm_verifyxattr for security.ima: only once an EVM key is loaded. */
function evmCheck(input: VerdictInput, fixes: Fixes): EvmOutcome {
  const evm = input.evm;
  // Unknown: taken as no key loaded, which the kernel view says once for the run.
  if (!evm.keyLoaded) return { passImmutable: false };
  const x = input.evmXattr;
  const denied = (cause: string, explanation: string): EvmOutcome => ({
    cause,
    explanation,
    fix: fixes.evm(),
    passImmutable: false,
  });
  if (x.state === 'unsupported') return { passImmutable: false };
  if (x.state === 'unreadable') return denied('invalid-HMAC', `security.evm cannot be read (${x.code})`);
  if (x.state === 'absent')
    return denied('missing-HMAC', 'an EVM key is loaded and the file has security.ima but no security.evm');
  if (x.type === 0x02) {
    if (!evm.hmacKey) return denied('invalid-HMAC', 'security.evm holds an HMAC, and no EVM HMAC key is loaded');
    if (x.length !== 21)
      return denied('invalid-HMAC', `security.evm holds a ${x.length}-byte HMAC value, not 21 bytes`);
    return { passImmutable: false, notes: ["security.evm (an HMAC) is not checked here: its key is the kernel's"] };
  }
  if (x.type === 0x03 || x.type === 0x05) {
    if (x.length <= 9) return denied('invalid-HMAC', `security.evm is ${x.length} bytes, too short for a signature`);
    return {
      passImmutable: x.type === 0x05,
      notes: ['security.evm (an EVM signature) is not checked here: taken as valid'],
    };
  }
  return denied(
    x.type === 0x05 ? 'invalid-fail-immutable' : 'invalid-HMAC',
    `security.evm has type 0x${x.type.toString(16).padStart(2, '0')}, which EVM does not know`,
  );
}

interface VerifyOutcome {
  readonly pass: boolean;
  readonly cause: string | null;
  readonly explanation: string;
  readonly fix?: string;
  readonly certain: boolean;
  readonly notes: string[];
}

/** The outcome of a check, with the notes gathered on the way (shared by the checks below). */
function outcomeWith(notes: string[]) {
  return (pass: boolean, cause: string | null, explanation: string, fix?: string, certain = true): VerifyOutcome => ({
    pass,
    cause,
    explanation,
    fix,
    certain,
    notes,
  });
}

/** xattr_verify, with the keyring lookup of integrity_digsig_verify and asymmetric_verify. */
function xattrVerify(
  input: VerdictInput,
  step: HookStep,
  rule: PolicyRule,
  value: KernelValue,
  ima: Extract<ImaFact, { state: 'present' }>,
  passImmutable: boolean,
  fixes: Fixes,
  needs: string,
): VerifyOutcome {
  const notes: string[] = [];
  const where = ruleLocation(rule);
  const sigRequired = signatureRequired(rule);
  const verity = verityRequired(rule);
  const out = outcomeWith(notes);
  switch (value.kind) {
    case 'empty':
      return out(false, 'missing-hash', 'security.ima is empty');
    case 'digest': {
      if (!passImmutable && sigRequired)
        return out(
          false,
          verity ? 'verity-signature-required' : 'IMA-signature-required',
          `security.ima holds only a ${value.algo.name} hash, and ${where} needs ${needs}`,
          fixes.fromSidecarOr(true, fixes.sign()),
        );
      if (value.unknownAlgoId !== undefined)
        notes.push(
          `hash algorithm id ${value.unknownAlgoId} is unknown to ${input.profile.name}, ` +
            `which computes ${value.algo.name} instead`,
        );
      if (!value.compared)
        return out(
          false,
          'invalid-hash',
          `security.ima is too short to hold a ${value.algo.name} digest`,
          fixes.hash(),
        );
      const d = ima.digest;
      if (!d || 'unknown' in d)
        return out(
          true,
          null,
          `security.ima holds a ${value.algo.name} hash, not compared here: ` +
            (d && 'unknown' in d ? d.unknown : 'not computed'),
          undefined,
          false,
        );
      if (!d.matches)
        return out(
          false,
          'invalid-hash',
          `the ${value.algo.name} of the content is not the one in security.ima: ` +
            'the content changed since the hash was written',
          fixes.fromSidecarOr(true, fixes.hash()),
        );
      return out(
        true,
        null,
        `security.ima holds the file's ${value.algo.name} hash${passImmutable ? ' (signed by EVM)' : ''}`,
      );
    }
    case 'signature': {
      if (sigRequired && verity)
        return out(false, 'verity-signature-required', `${where} needs an fs-verity signature (type 0x06)`, undefined);
      if (value.version >= 3)
        return out(
          false,
          'invalid-signature-version',
          `a version ${value.version} file signature needs kernel 7.1 or later; ${input.profile.name} takes version 2`,
          fixes.sign(),
        );
      const imaCheck = ima.ima;
      const platform = step.func === 'KEXEC_KERNEL_CHECK' && input.profile.platformKeyring ? ima.platform : undefined;
      const first = verifyWith(imaCheck, value, input, fixes);
      if (first.pass || !platform) return { ...first, notes: [...notes, ...first.notes] };
      // KEXEC_KERNEL_CHECK tries the .platform keyring (the UEFI db) after any failure with the IMA keyring.
      const second = verifyWith(platform, value, input, fixes);
      if (second.pass) return { ...second, notes: [...notes, ...second.notes] };
      const tried = platform.keyringState === 'present' ? [`.platform keyring: ${second.explanation}`] : [];
      return { ...first, notes: [...notes, ...first.notes, ...tried] };
    }
    case 'verity-signature': {
      if (sigRequired && !verity)
        return out(
          false,
          'IMA-signature-required',
          `security.ima holds an fs-verity signature, and ${where} needs a file signature (no digest_type=verity)`,
          fixes.sign(),
        );
      if (value.version !== 3)
        return out(
          false,
          'invalid-signature-version',
          `an fs-verity signature must be version 3, not ${value.version}`,
        );
      if (!verity)
        return out(
          false,
          'invalid-verity-signature',
          `security.ima holds an fs-verity signature, and ${where} does not ask for fs-verity digests ` +
            '(digest_type=verity)',
          fixes.sign(),
        );
      return out(
        true,
        null,
        'an fs-verity signature: not checked here (fs-verity digests are not computed)',
        undefined,
        false,
      );
    }
    case 'unknown':
      return out(
        false,
        'unknown-ima-data',
        `security.ima has type 0x${value.type.toString(16).padStart(2, '0')}, which is not an IMA value`,
        fixes.sign(),
      );
  }
}

/** integrity_digsig_verify with one keyring: the keyring, the version, the header, the key, the signature. */
function verifyWith(
  check: KeyCheck | undefined,
  value: Extract<KernelValue, { kind: 'signature' }>,
  input: VerdictInput,
  fixes: Fixes,
): VerifyOutcome {
  const notes: string[] = [];
  const out = outcomeWith(notes);
  const keyring = check?.keyring ?? (input.profile.trustedKeyring ? '.ima' : '_ima');
  const keyid = value.keyid;
  if (!check || check.keyringState === 'unknown')
    return out(
      true,
      null,
      `signature by keyid ${keyid ?? '?'}: the ${keyring} keyring cannot be read here, not checked`,
      undefined,
      false,
    );
  if (check.keyringState === 'absent')
    return out(
      false,
      'invalid-signature',
      `there is no ${keyring} keyring, so no key to check the signature with (keyid ${keyid ?? '?'})`,
      fixes.addKey(keyring, keyid, true),
      check.membershipCertain,
    );
  if (value.version !== 1 && value.version !== 2)
    return out(false, 'unknown', `signature version ${value.version} is unknown to the kernel`, fixes.sign());
  if (value.version === 1)
    return out(
      false,
      'invalid-signature',
      'a version 1 (digsig) signature: not checked here, and no current tool makes them',
      fixes.sign(),
      false,
    );
  if (value.malformed)
    return out(false, 'invalid-signature', `the signature is malformed: ${value.malformed}`, fixes.sign());
  const key = check.key;
  if (!key)
    return out(
      false,
      'invalid-signature',
      `keyid ${keyid} is not in the ${keyring} keyring ` +
        `(dmesg: Request for unknown key 'id:${keyid}' in '${keyring}' keyring. err -11)`,
      fixes.addKey(keyring, keyid, false),
      check.membershipCertain,
    );
  const name = key.subject ? `'${key.subject}'` : `${key.serial}`;
  if (key.algorithm && !input.profile.signatureKeyTypes.has(key.algorithm.replace(/-.*/, '')))
    return out(
      false,
      'invalid-signature',
      `key ${name} is ${key.algorithm}, which ${input.profile.name} cannot verify (RSA only)`,
      fixes.sign(),
    );
  switch (check.result) {
    case 'valid':
      return out(
        true,
        null,
        `the ${value.algo.name} signature by key ${name} (keyid ${keyid}) verifies (${check.how})`,
      );
    case 'content-changed':
      return out(
        false,
        'invalid-signature',
        `the content changed since signing: the signature by key ${name} is over another ${value.algo.name} digest`,
        fixes.sign(),
      );
    case 'bad-signature':
      return out(
        false,
        'invalid-signature',
        `the signature does not verify with key ${name} (${check.how})`,
        fixes.sign(),
      );
    case 'unchecked':
      return out(
        true,
        null,
        `keyid ${keyid} is in ${keyring} (key ${name}), but the signature was not checked: ${check.how}`,
        undefined,
        false,
      );
  }
}
