// The verdict table: for one file, hook, policy, mode, keyring and EVM state, the kernel's verdict, the audit
// cause in its words, the rule that decided, and the fix. Each row is a case process_measurement and
// ima_appraise_measurement decide (Debian 6.1), with the facts handed in directly: the verdict is pure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppraiseMode } from '../../src/kernel/cmdline.js';
import { parseEvmFlags } from '../../src/kernel/evm.js';
import { kernelValue } from '../../src/kernel/ima-xattr.js';
import type { KernelKey } from '../../src/kernel/keyring.js';
import { decidingRule, ruleMatches, Subject } from '../../src/kernel/match.js';
import { parsePolicy } from '../../src/kernel/policy.js';
import { DEBIAN_6_1 } from '../../src/kernel/profile.js';
import {
  HookName,
  ImaFact,
  KeyCheck,
  predictVerdict,
  shellWord,
  Verdict,
  VerdictFile,
  VerdictInput,
} from '../../src/kernel/verdict.js';
import { builtinPolicy } from '../../src/kernel/builtin-policy.js';

const ROOT: Subject = { uid: 0, euid: 0, suid: 0, gid: 0, egid: 0, sgid: 0, capSetuid: true, capSetgid: true };
const USER: Subject = {
  uid: 1000,
  euid: 1000,
  suid: 1000,
  gid: 1000,
  egid: 1000,
  sgid: 1000,
  capSetuid: false,
  capSetgid: false,
};

const EXT4: VerdictFile = {
  fsMagic: 0xef53,
  fsName: 'ext4',
  fsUuid: '6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  uid: 0,
  gid: 0,
  xattrHandlers: true,
  unverifiableSignatures: false,
  untrustedMounter: false,
};
const VFAT: VerdictFile = { ...EXT4, fsMagic: 0x4d44, fsName: 'vfat', fsUuid: undefined, xattrHandlers: false };
const FUSE: VerdictFile = {
  ...EXT4,
  fsMagic: 0x65735546,
  fsName: 'fuse',
  fsType: 'fuse.fusefat',
  fsUuid: undefined,
  unverifiableSignatures: true,
};
const TMPFS: VerdictFile = { ...EXT4, fsMagic: 0x01021994, fsName: 'tmpfs', fsUuid: undefined };

const KEY: KernelKey = {
  serial: 529704129,
  description: 'ima-sidecar test: rsa2048: 044a83ace061398b34734334acd98891308baedd',
  subject: 'ima-sidecar test: rsa2048',
  idType: 'X509',
  algorithm: 'rsa',
  keyid: '308baedd',
};

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SIG_V2 = hex(`03 02 04 308baedd 0100 ${'5a'.repeat(256)}`);
const SIG_V2_SHA1 = hex(`03 02 02 308baedd 0100 ${'5a'.repeat(256)}`);
const SIG_V3 = hex(`03 03 04 308baedd 0100 ${'5a'.repeat(256)}`);
const HASH = hex(`04 04 ${'ab'.repeat(32)}`);

function keyCheck(over: Partial<KeyCheck> = {}): KeyCheck {
  return {
    keyring: '_ima',
    keyringState: 'present',
    key: KEY,
    membershipCertain: true,
    result: 'valid',
    how: 'keyctl pkey_verify with key 529704129',
    ...over,
  };
}

const signed = (check: Partial<KeyCheck> = {}, bytes = SIG_V2): ImaFact => ({
  state: 'present',
  value: kernelValue(bytes, DEBIAN_6_1),
  ima: keyCheck(check),
});
const hashed = (matches = true): ImaFact => ({
  state: 'present',
  value: kernelValue(HASH, DEBIAN_6_1),
  digest: { matches },
});

function verdict(policy: string, ima: ImaFact, over: Partial<VerdictInput> = {}): Verdict {
  const input: VerdictInput = {
    path: '/boot/vmlinuz',
    hook: 'read',
    rules: parsePolicy(policy, { source: 't.policy' }),
    mode: 'enforce',
    failSecurely: false,
    evm: parseEvmFlags('0'),
    file: EXT4,
    subject: ROOT,
    ima,
    evmXattr: { state: 'absent' },
    profile: DEBIAN_6_1,
    ...over,
  };
  return predictVerdict(input);
}

interface Row {
  name: string;
  policy: string;
  ima: ImaFact;
  over?: Partial<VerdictInput>;
  want: {
    verdict: Verdict['verdict'];
    cause: string | null;
    audit?: boolean;
    rule?: string | null;
    func?: string;
    explanation?: RegExp;
    fix?: RegExp | null;
    certain?: boolean;
    note?: RegExp;
  };
}

const IMASIG = 'appraise func=FILE_CHECK appraise_type=imasig\n';
const KEXEC = 'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n';

const rows: Row[] = [
  {
    name: 'FAT file: no xattrs at all, denied without an audit record; fix: migrate',
    policy: KEXEC,
    ima: { state: 'unsupported' },
    over: { file: VFAT, hook: 'kexec' },
    want: {
      verdict: 'denied',
      cause: null,
      audit: false,
      rule: 'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig',
      func: 'KEXEC_KERNEL_CHECK',
      explanation: /filesystem vfat has no extended attributes.*no audit record/,
      fix: /^ima-sidecar migrate \/boot\/vmlinuz DEST/,
    },
  },
  {
    name: 'FAT file, exempted by dont_appraise fsmagic=4d44 first: not appraised, that rule named',
    policy: `dont_appraise fsmagic=4d44\n${KEXEC}`,
    ima: { state: 'unsupported' },
    over: { file: VFAT, hook: 'kexec' },
    want: {
      verdict: 'not-appraised',
      cause: null,
      rule: 'dont_appraise fsmagic=4d44',
      explanation: /t\.policy:1 exempts it/,
    },
  },
  {
    name: 'signed xattr, its key in _ima, the signature verifies: allowed',
    policy: IMASIG,
    ima: signed(),
    want: {
      verdict: 'allowed',
      cause: null,
      explanation: /signature by key 'ima-sidecar test: rsa2048'.*verifies/,
      fix: null,
    },
  },
  {
    name: 'hash-only value under appraise_type=imasig: IMA-signature-required; fix: sign',
    policy: IMASIG,
    ima: hashed(),
    want: {
      verdict: 'denied',
      cause: 'IMA-signature-required',
      audit: true,
      explanation: /only a sha256 hash.*needs a signature \(appraise_type=imasig\)/,
      fix: /^ima-sidecar sign .*--to xattr \/boot\/vmlinuz$/,
    },
  },
  {
    name: 'hash-only value under imasig, a sidecar whose signature would pass: fix: import --force',
    policy: IMASIG,
    ima: hashed(),
    over: { sidecar: { path: '/boot/vmlinuz.sig', passes: true } },
    want: { verdict: 'denied', cause: 'IMA-signature-required', fix: /^ima-sidecar import --force \/boot\/vmlinuz$/ },
  },
  {
    name: 'no value, a sidecar that would pass: missing; fix: import',
    policy: IMASIG,
    ima: { state: 'absent' },
    over: { sidecar: { path: '/boot/vmlinuz.sig', passes: true } },
    want: { verdict: 'denied', cause: 'IMA-signature-required', fix: /^ima-sidecar import \/boot\/vmlinuz$/ },
  },
  {
    name: 'keyid not in the _ima keyring: invalid-signature; fix: keyctl padd the certificate with that keyid',
    policy: IMASIG,
    ima: signed({ key: undefined, result: 'unchecked' }),
    over: { certificates: [{ path: '/etc/keys/x509_ima.der', keyid: '308baedd' }] },
    want: {
      verdict: 'denied',
      cause: 'invalid-signature',
      explanation: /keyid 308baedd is not in the _ima keyring/,
      fix: /^keyctl padd asymmetric "" %keyring:_ima < \/etc\/keys\/x509_ima\.der$/,
    },
  },
  {
    name: 'keyid not in _ima, the certificate at hand is PEM: converted to DER on the way',
    policy: IMASIG,
    ima: signed({ key: undefined, result: 'unchecked' }),
    over: { certificates: [{ path: '/tmp/ima.pem', keyid: '308baedd' }] },
    want: {
      verdict: 'denied',
      cause: 'invalid-signature',
      fix: /^openssl x509 -in \/tmp\/ima\.pem -outform der \| keyctl padd asymmetric "" %keyring:_ima$/,
    },
  },
  {
    name: 'no _ima keyring at all: invalid-signature; fix: make it, then add the key',
    policy: IMASIG,
    ima: signed({ keyringState: 'absent', key: undefined, result: 'unchecked' }),
    want: {
      verdict: 'denied',
      cause: 'invalid-signature',
      explanation: /no _ima keyring/,
      fix: /^keyctl newring _ima @u && /,
    },
  },
  {
    name: 'the content changed since signing: invalid-signature, said so',
    policy: IMASIG,
    ima: signed({ result: 'content-changed', how: 'certificate c.pem' }),
    want: { verdict: 'denied', cause: 'invalid-signature', explanation: /content changed since signing/, fix: /sign/ },
  },
  {
    name: 'a signature that does not verify with the key',
    policy: IMASIG,
    ima: signed({ result: 'bad-signature' }),
    want: { verdict: 'denied', cause: 'invalid-signature', explanation: /does not verify with key/ },
  },
  {
    name: 'the signature not checked (no certificate, no keyctl): allowed, but not certain',
    policy: IMASIG,
    ima: signed({ result: 'unchecked', how: 'no certificate' }),
    want: { verdict: 'allowed', cause: null, certain: false, explanation: /not checked: no certificate/ },
  },
  {
    name: 'a version 3 signature on 6.1: invalid-signature-version',
    policy: IMASIG,
    ima: signed({}, SIG_V3),
    want: { verdict: 'denied', cause: 'invalid-signature-version', explanation: /version 3.*kernel 7\.1/ },
  },
  {
    name: 'an EVM type in security.ima: unknown-ima-data',
    policy: IMASIG,
    ima: { state: 'present', value: kernelValue(hex('02 1234'), DEBIAN_6_1) },
    want: { verdict: 'denied', cause: 'unknown-ima-data' },
  },
  {
    name: 'a hash where a hash will do, matching the content: allowed',
    policy: 'appraise fowner=0\n',
    ima: hashed(true),
    want: { verdict: 'allowed', cause: null, explanation: /holds the file's sha256 hash/ },
  },
  {
    name: 'a hash that no longer matches the content: invalid-hash; fix: hash --force',
    policy: 'appraise fowner=0\n',
    ima: hashed(false),
    want: {
      verdict: 'denied',
      cause: 'invalid-hash',
      explanation: /content changed since the hash was written/,
      fix: /^ima-sidecar hash --to xattr --force/,
    },
  },
  {
    name: 'no value where a hash will do: missing-hash; fix: hash',
    policy: 'appraise fowner=0\n',
    ima: { state: 'absent' },
    want: { verdict: 'denied', cause: 'missing-hash', fix: /^ima-sidecar hash --to xattr \/boot\/vmlinuz$/ },
  },
  {
    name: 'no rule matches: not appraised',
    policy: 'appraise func=MODULE_CHECK appraise_type=imasig\n',
    ima: { state: 'absent' },
    want: { verdict: 'not-appraised', cause: null, rule: null, explanation: /no appraise rule matches FILE_CHECK/ },
  },
  {
    name: 'a policy without appraise rules: not appraised, said so',
    policy: 'measure func=FILE_CHECK\n',
    ima: { state: 'absent' },
    want: { verdict: 'not-appraised', cause: null, explanation: /the policy has no appraise rule/ },
  },
  {
    name: 'appraise_tcb: tmpfs is exempted',
    policy: 'dont_appraise fsmagic=0x1021994\nappraise fowner=0\n',
    ima: { state: 'absent' },
    over: { file: TMPFS },
    want: { verdict: 'not-appraised', cause: null, rule: 'dont_appraise fsmagic=0x1021994' },
  },
  {
    name: 'appraise fowner=0 and a file owned by someone else: not appraised',
    policy: 'appraise fowner=0\n',
    ima: { state: 'absent' },
    over: { file: { ...EXT4, uid: 1000 } },
    want: { verdict: 'not-appraised', cause: null },
  },
  {
    name: 'appraise_algos allows sha512 only, the signature is sha256: denied-hash-algorithm',
    policy: 'appraise func=FILE_CHECK appraise_type=imasig appraise_algos=sha512\n',
    ima: signed(),
    want: {
      verdict: 'denied',
      cause: 'denied-hash-algorithm',
      explanation: /uses sha256.*allows only sha512/,
      fix: /--hash-algo sha512 --to xattr/,
    },
  },
  {
    name: 'appraise_algos=sha1,sha256 and a sha1 signature: within the list, allowed',
    policy: 'appraise func=FILE_CHECK appraise_algos=sha1,sha256\n',
    ima: signed({}, SIG_V2_SHA1),
    want: { verdict: 'allowed', cause: null },
  },
  {
    name: 'an EVM key loaded and no security.evm: missing-HMAC',
    policy: IMASIG,
    ima: signed(),
    over: { evm: parseEvmFlags('2'), evmXattr: { state: 'absent' } },
    want: { verdict: 'denied', cause: 'missing-HMAC', explanation: /no security\.evm/, fix: /^evmctl sign --portable/ },
  },
  {
    name: 'security.evm holding an HMAC with only an X.509 EVM key: invalid-HMAC',
    policy: IMASIG,
    ima: signed(),
    over: { evm: parseEvmFlags('2'), evmXattr: { state: 'present', type: 0x02, length: 21 } },
    want: { verdict: 'denied', cause: 'invalid-HMAC', explanation: /no EVM HMAC key/ },
  },
  {
    name: 'a portable EVM signature makes a hash count as signed (INTEGRITY_PASS_IMMUTABLE)',
    policy: IMASIG,
    ima: hashed(true),
    over: { evm: parseEvmFlags('2'), evmXattr: { state: 'present', type: 0x05, length: 300 } },
    want: { verdict: 'allowed', cause: null, explanation: /signed by EVM/, note: /EVM signature.*not checked/ },
  },
  {
    name: 'no EVM key loaded: security.evm is ignored',
    policy: IMASIG,
    ima: signed(),
    over: { evm: parseEvmFlags('0'), evmXattr: { state: 'absent' } },
    want: { verdict: 'allowed', cause: null },
  },
  {
    name: 'ima_appraise=log: allowed, with the cause the kernel logs',
    policy: 'appraise fowner=0\n',
    ima: { state: 'absent' },
    over: { mode: 'log' },
    want: {
      verdict: 'allowed',
      cause: 'missing-hash',
      audit: true,
      explanation: /^ima_appraise=log: the kernel allows it, but enforcing would deny it: security\.ima is missing/,
      fix: /hash --to xattr/,
    },
  },
  {
    name: 'ima_appraise=log on FAT: allowed, and still no audit record',
    policy: KEXEC,
    ima: { state: 'unsupported' },
    over: { mode: 'log', file: VFAT, hook: 'kexec' },
    want: { verdict: 'allowed', cause: null, audit: false },
  },
  {
    name: 'ima_appraise=fix: the kernel writes a hash over a missing one, and allows it',
    policy: 'appraise fowner=0\n',
    ima: { state: 'absent' },
    over: { mode: 'fix' },
    want: {
      verdict: 'allowed',
      cause: 'missing-hash',
      explanation: /ima_appraise=fix: the kernel writes a fresh hash/,
    },
  },
  {
    name: 'ima_appraise=fix does not replace a file signature: allowed, but enforcing would deny it',
    policy: IMASIG,
    ima: signed({ result: 'bad-signature' }),
    over: { mode: 'fix' },
    want: {
      verdict: 'allowed',
      cause: 'invalid-signature',
      explanation: /^ima_appraise=fix: the kernel allows it, but/,
    },
  },
  {
    name: 'ima_appraise=off: nothing is appraised',
    policy: 'appraise fowner=0\n',
    ima: { state: 'absent' },
    over: { mode: 'off' },
    want: { verdict: 'not-appraised', cause: null, explanation: /ima_appraise=off/ },
  },
  {
    name: 'ima_appraise=off, but an appraise rule for MODULE_CHECK turns appraisal back on, unenforced',
    policy: 'appraise func=MODULE_CHECK appraise_type=imasig\n',
    ima: { state: 'absent' },
    over: { mode: 'off', hook: 'module' },
    want: { verdict: 'allowed', cause: 'IMA-signature-required', note: /turns appraisal back on/ },
  },
  {
    name: 'FUSE with ima_policy=fail_securely: unverifiable-signature, even for a good signature',
    policy: IMASIG,
    ima: signed(),
    over: { file: FUSE, failSecurely: true },
    want: { verdict: 'denied', cause: 'unverifiable-signature', explanation: /fuse\.fusefat.*fail_securely/ },
  },
  {
    name: 'a FUSE daemon without xattrs (EOPNOTSUPP): a missing value, logged, unlike FAT in the kernel',
    policy: IMASIG,
    ima: { state: 'unsupported' },
    over: { file: FUSE },
    want: { verdict: 'denied', cause: 'IMA-signature-required', audit: true, fix: /^ima-sidecar migrate/ },
  },
  {
    name: 'exec: a BPRM_CHECK rule decides the executed step',
    policy: 'appraise func=BPRM_CHECK appraise_type=imasig\n',
    ima: hashed(),
    over: { hook: 'exec' },
    want: {
      verdict: 'denied',
      cause: 'IMA-signature-required',
      func: 'BPRM_CHECK',
      explanation: /needs a signature \(appraise_type=imasig\)$/,
    },
  },
  {
    name: 'exec: a CREDS_CHECK rule decides the step with the new credentials, which is named',
    policy: 'appraise func=CREDS_CHECK appraise_type=imasig\n',
    ima: hashed(),
    over: { hook: 'exec' },
    want: {
      verdict: 'denied',
      cause: 'IMA-signature-required',
      func: 'CREDS_CHECK',
      explanation: /\(when executed, with the new credentials, CREDS_CHECK\)$/,
    },
  },
  {
    name: "exec: execve's own open is a FILE_CHECK with MAY_EXEC",
    policy: 'appraise func=FILE_CHECK mask=MAY_EXEC appraise_type=imasig\n',
    ima: hashed(),
    over: { hook: 'exec' },
    want: { verdict: 'denied', cause: 'IMA-signature-required', func: 'FILE_CHECK', explanation: /opened by execve/ },
  },
  {
    name: 'read: a MAY_EXEC rule does not match a read',
    policy: 'appraise func=FILE_CHECK mask=MAY_EXEC appraise_type=imasig\n',
    ima: hashed(),
    want: { verdict: 'not-appraised', cause: null },
  },
  {
    name: 'kexec: the .platform keyring is tried after _ima fails',
    policy: KEXEC,
    ima: {
      ...(signed({ key: undefined, result: 'unchecked' }) as Extract<ImaFact, { state: 'present' }>),
      platform: keyCheck({ keyring: '.platform', result: 'valid', how: 'keyctl' }),
    },
    over: { hook: 'kexec' },
    want: { verdict: 'allowed', cause: null, func: 'KEXEC_KERNEL_CHECK' },
  },
  {
    name: 'read: the .platform keyring is not tried outside KEXEC_KERNEL_CHECK',
    policy: IMASIG,
    ima: {
      ...(signed({ key: undefined, result: 'unchecked' }) as Extract<ImaFact, { state: 'present' }>),
      platform: keyCheck({ keyring: '.platform', result: 'valid', how: 'keyctl' }),
    },
    want: { verdict: 'denied', cause: 'invalid-signature' },
  },
  {
    name: 'an LSM condition is not evaluated: taken to match, and the verdict is not certain',
    policy: 'appraise obj_type=bin_t appraise_type=imasig\n',
    ima: hashed(),
    want: {
      verdict: 'denied',
      cause: 'IMA-signature-required',
      certain: false,
      note: /LSM conditions .* not evaluated/,
    },
  },
  {
    name: 'an fsuuid= rule and an unknown UUID: taken not to match, said so',
    policy: 'appraise fsuuid=11111111-2222-3333-4444-555555555555 appraise_type=imasig\n',
    ima: hashed(),
    over: { file: { ...EXT4, fsUuid: undefined } },
    want: { verdict: 'not-appraised', cause: null, certain: false, note: /UUID is unknown/ },
  },
  {
    name: 'opening for reading was refused and the hash could not be compared: invalid-hash, not certain',
    policy: 'appraise fowner=0\n',
    ima: { state: 'present', value: kernelValue(HASH, DEBIAN_6_1), digest: { unknown: 'the file cannot be read' } },
    over: { openDenied: true },
    want: { verdict: 'denied', cause: 'invalid-hash', certain: false, explanation: /refused \(EACCES\)/ },
  },
  {
    name: 'opening for reading was refused though nothing would be appraised: the assumed policy is wrong',
    policy: 'appraise func=MODULE_CHECK\n',
    ima: { state: 'absent' },
    over: { openDenied: true },
    want: { verdict: 'denied', cause: null, certain: false, explanation: /policy in force is not the one assumed/ },
  },
  {
    name: 'user.ima read in place of security.ima: said so',
    policy: 'appraise fowner=0\n',
    ima: hashed(true),
    over: { xattrName: 'user.ima' },
    want: { verdict: 'allowed', cause: null, note: /user\.ima was read in place of security\.ima/ },
  },
];

describe('verdict table', () => {
  for (const row of rows) {
    test(row.name, () => {
      const v = verdict(row.policy, row.ima, row.over);
      const w = row.want;
      const show = JSON.stringify({ ...v, rule: v.rule?.text }, null, 1);
      assert.equal(v.verdict, w.verdict, show);
      assert.equal(v.cause, w.cause, show);
      if (w.audit !== undefined) assert.equal(v.auditRecord, w.audit, show);
      if (w.rule !== undefined) assert.equal(v.rule?.text ?? null, w.rule, show);
      if (w.func) assert.equal(v.func, w.func, show);
      if (w.explanation) assert.match(v.explanation, w.explanation, show);
      if (w.fix === null) assert.equal(v.fix, undefined, show);
      else if (w.fix) assert.match(v.fix ?? '', w.fix, show);
      assert.equal(v.certain, w.certain ?? true, show);
      if (w.note)
        assert.ok(
          v.notes.some((n) => w.note!.test(n)),
          show,
        );
      assert.equal(v.path, '/boot/vmlinuz');
    });
  }
});

describe('every hook against appraise_tcb and secure_boot, on a root-owned file without a value', () => {
  const tcb = builtinPolicy('appraise_tcb');
  const sb = builtinPolicy('secure_boot');
  const hooks: [HookName, AppraiseMode, string | null, string | null][] = [
    // hook, mode, cause under appraise_tcb, cause under secure_boot
    ['read', 'enforce', 'missing-hash', null],
    ['exec', 'enforce', 'missing-hash', null],
    ['mmap', 'enforce', 'missing-hash', null],
    ['module', 'enforce', 'missing-hash', 'IMA-signature-required'],
    ['firmware', 'enforce', 'missing-hash', 'IMA-signature-required'],
    ['kexec', 'enforce', 'missing-hash', 'IMA-signature-required'],
    ['kexec-initramfs', 'enforce', 'missing-hash', null],
    ['policy', 'enforce', 'missing-hash', 'IMA-signature-required'],
  ];
  for (const [hook, mode, tcbCause, sbCause] of hooks) {
    test(hook, () => {
      const base: VerdictInput = {
        path: 'f',
        hook,
        rules: tcb,
        mode,
        failSecurely: false,
        evm: parseEvmFlags('0'),
        file: EXT4,
        subject: ROOT,
        ima: { state: 'absent' },
        evmXattr: { state: 'absent' },
        profile: DEBIAN_6_1,
      };
      assert.equal(predictVerdict(base).cause, tcbCause);
      const s = predictVerdict({ ...base, rules: sb });
      assert.equal(s.cause, sbCause);
      assert.equal(s.verdict, sbCause ? 'denied' : 'not-appraised');
    });
  }
});

describe('rule matching (ima_match_rules)', () => {
  const req = (over: object = {}) => ({
    func: 'FILE_CHECK' as const,
    mask: 'MAY_READ' as const,
    file: EXT4,
    subject: ROOT,
    ...over,
  });
  const matches = (line: string, over: object = {}) => ruleMatches(parsePolicy(`${line}\n`)[0]!, req(over)).matches;
  test('mask= wants the very mask; mask=^ any of it', () => {
    assert.equal(matches('appraise mask=MAY_READ'), true);
    assert.equal(matches('appraise mask=MAY_EXEC'), false);
    assert.equal(matches('appraise mask=^MAY_READ'), true);
  });
  test('fsmagic, fsname, fsuuid', () => {
    assert.equal(matches('appraise fsmagic=ef53'), true);
    assert.equal(matches('appraise fsname=ext4'), true);
    assert.equal(matches('appraise fsname=xfs'), false);
    assert.equal(matches('appraise fsuuid=6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b'), true);
    assert.equal(matches('appraise fsuuid=00000000-0000-0000-0000-000000000000'), false);
  });
  test('uid, euid (with CAP_SETUID also the saved and real uid), gid, fowner, fgroup with = < >', () => {
    assert.equal(matches('appraise uid=0'), true);
    assert.equal(matches('appraise uid>0'), false);
    assert.equal(matches('appraise uid<1', { subject: USER }), false);
    assert.equal(matches('appraise uid>999', { subject: USER }), true);
    const setuid = { ...USER, suid: 0, capSetuid: true };
    assert.equal(matches('appraise euid=0', { subject: setuid }), true);
    assert.equal(matches('appraise euid=0', { subject: { ...setuid, capSetuid: false } }), false);
    assert.equal(matches('appraise gid=1000', { subject: USER }), true);
    assert.equal(matches('appraise egid=0', { subject: USER }), false);
    assert.equal(matches('appraise fowner<1000'), true);
    assert.equal(matches('appraise fgroup>0'), false);
  });
  test('the first rule of the appraise pair decides; measure rules do not take part', () => {
    const rules = parsePolicy('measure fowner=0\ndont_appraise fsmagic=ef53\nappraise fowner=0\n');
    assert.equal(decidingRule(rules, 'appraise', req()).rule?.action, 'dont_appraise');
    assert.equal(decidingRule(rules, 'measure', req()).rule?.action, 'measure');
  });
});

test('shell words in fixes are quoted when they must be', () => {
  assert.equal(shellWord('/boot/vmlinuz-6.1.0'), '/boot/vmlinuz-6.1.0');
  assert.equal(shellWord("it's here"), `'it'\\''s here'`);
  assert.equal(shellWord('$(rm -rf x)'), `'$(rm -rf x)'`);
});
