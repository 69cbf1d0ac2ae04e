// The small kernel states doctor reads: the command line's IMA and EVM parameters (split as next_arg splits,
// matched as init/main.c matches), EVM's flags from securityfs, the Secure Boot state from efivarfs, and a
// security.ima value as the kernel reads it (which hash it computes, which bytes it compares, what
// asymmetric_verify refuses outright).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCmdline, splitKernelParameters } from '../../src/kernel/cmdline.js';
import { capSysAdminFromStatus, describeEvm, evmRefusalReason, parseEvmFlags } from '../../src/kernel/evm.js';
import { kernelValue } from '../../src/kernel/ima-xattr.js';
import { DEBIAN_6_1 } from '../../src/kernel/profile.js';
import { readSecureBoot } from '../../src/kernel/secure-boot.js';

describe('kernel command line', () => {
  test('split as next_arg splits: quotes group, values keep their =, "--" ends the kernel part', () => {
    assert.deepEqual(splitKernelParameters(' ro  root=/dev/vda1 a="b c" "d=e f" ima_tcb -- ima_appraise=off'), [
      { name: 'ro' },
      { name: 'root', value: '/dev/vda1' },
      { name: 'a', value: 'b c' },
      { name: 'd', value: 'e f' },
      { name: 'ima_tcb' },
    ]);
  });

  const cases: [string, Record<string, unknown>][] = [
    ['', { appraise: undefined, appraiseTcb: false, secureBoot: false, tcb: undefined }],
    ['ima_appraise=log', { appraise: 'log' }],
    ['ima_appraise=fix', { appraise: 'fix' }],
    ['ima_appraise=off', { appraise: 'off' }],
    ['ima_appraise=enforce', { appraise: 'enforce' }],
    // strncmp on the first letters, as ima_appraise_parse_cmdline does.
    ['ima_appraise=enforced', { appraise: 'enforce' }],
    ['ima_appraise=enforcing', { appraise: undefined, invalidAppraise: 'enforcing' }],
    ['ima_appraise=logx', { appraise: 'log' }],
    // The last one wins; one the kernel does not know leaves the mode alone.
    ['ima_appraise=log ima_appraise=fix', { appraise: 'fix' }],
    ['ima_appraise=strict', { appraise: undefined, invalidAppraise: 'strict' }],
    ['ima-appraise=log', { appraise: 'log' }],
    ['ima_policy=appraise_tcb', { appraiseTcb: true }],
    ['ima_policy=tcb|appraise_tcb|secure_boot', { tcb: 'tcb', appraiseTcb: true, secureBoot: true }],
    ['ima_policy="secure_boot critical_data"', { secureBoot: true, criticalData: true }],
    ['ima_policy=appraise_tcb ima_policy=secure_boot', { appraiseTcb: true, secureBoot: true }],
    ['ima_policy=fail_securely', { failSecurely: true }],
    ['ima_policy=nonsense', { unknownPolicies: ['nonsense'] }],
    ['ima_appraise_tcb', { appraiseTcb: true }],
    // ima_tcb and ima_policy=tcb: whichever comes first.
    ['ima_tcb ima_policy=tcb', { tcb: 'ima_tcb' }],
    ['ima_policy=tcb ima_tcb', { tcb: 'tcb' }],
    ['ima_hash=sha512 ima_template=ima-ng ima_template_fmt=d-ng|n-ng', { hash: 'sha512', template: 'ima-ng' }],
    ['evm=fix', { evmFix: true }],
    ['evm=other', { evmFix: false }],
  ];
  for (const [text, want] of cases) {
    test(JSON.stringify(text), () => {
      const c = parseCmdline(text);
      const flat: Record<string, unknown> = { ...c, ...c.policies };
      for (const [k, v] of Object.entries(want)) assert.deepEqual(flat[k], v, k);
    });
  }
});

describe('EVM flags (/sys/kernel/security/evm prints them in decimal)', () => {
  const cases: [string, Partial<ReturnType<typeof parseEvmFlags>>][] = [
    ['0\n', { keyLoaded: false, hmacKey: false, x509Key: false }],
    ['1\n', { keyLoaded: true, hmacKey: true, x509Key: false }],
    ['2\n', { keyLoaded: true, hmacKey: false, x509Key: true }],
    ['6\n', { keyLoaded: true, x509Key: true, allowMetadataWrites: true }],
    ['4', { keyLoaded: false, allowMetadataWrites: true }],
    ['0x3', { keyLoaded: true, hmacKey: true, x509Key: true }],
    ['garbage', { keyLoaded: undefined, flags: undefined }],
    ['', { keyLoaded: undefined }],
  ];
  for (const [text, want] of cases) {
    test(JSON.stringify(text), () => {
      const s = parseEvmFlags(text);
      for (const [k, v] of Object.entries(want)) assert.equal(s[k as keyof typeof s], v, k);
    });
  }
  test('for people', () => {
    assert.match(describeEvm(parseEvmFlags('0')), /no key loaded/);
    assert.match(describeEvm(parseEvmFlags('3')), /HMAC and X\.509 key loaded/);
    assert.match(describeEvm(parseEvmFlags('x')), /unknown/);
  });
});

describe('EVM refusing a write of security.ima (EPERM while holding CAP_SYS_ADMIN)', () => {
  const reason = (flags: string, evm: 'absent' | 'present' | 'unknown' = 'absent') =>
    evmRefusalReason('security.ima', 'write', parseEvmFlags(flags), evm);
  test('no key loaded, or metadata writes allowed, or an unreadable state: not EVM', () => {
    assert.equal(reason('0'), undefined);
    assert.equal(reason('4'), undefined);
    assert.equal(reason('6'), undefined, 'EVM_ALLOW_METADATA_WRITES lets every write through');
    assert.equal(reason('garbage'), undefined);
  });
  test('X.509 only: says EVM, the flags, the file, and offers EVM_ALLOW_METADATA_WRITES among the options', () => {
    const r = reason('2');
    assert.match(r ?? '', /^EVM refused to write security\.ima \(EPERM\): an EVM X\.509 key is loaded/);
    assert.match(r ?? '', /\/sys\/kernel\/security\/evm reads 2\) and the file has no security\.evm;/);
    assert.match(r ?? '', /evm=fix, write 4 \(EVM_ALLOW_METADATA_WRITES\) to \/sys\/kernel\/security\/evm, write it/);
    assert.match(r ?? '', /before EVM is initialised .*evmctl sign --imasig --portable\)$/);
    assert.doesNotMatch(r ?? '', /\n|CAP_SYS_ADMIN/);
  });
  test('an HMAC key: no EVM_ALLOW_METADATA_WRITES (refused then); a present value does not verify', () => {
    const r = reason('1', 'present');
    assert.match(r ?? '', /an EVM HMAC key is loaded .* reads 1\) and the file's security\.evm does not verify;/);
    assert.doesNotMatch(r ?? '', /EVM_ALLOW_METADATA_WRITES/);
    assert.match(reason('3', 'unknown') ?? '', /HMAC and X\.509 key .*missing or does not verify/);
    assert.match(evmRefusalReason('security.ima', 'remove', parseEvmFlags('2'), 'absent') ?? '', /refused to remove/);
  });
  test("CAP_SYS_ADMIN from /proc/self/status's CapEff", () => {
    assert.equal(capSysAdminFromStatus('Name:\tx\nCapEff:\t000001ffffffffff\n'), true);
    assert.equal(capSysAdminFromStatus('CapEff:\t0000000000000000\n'), false);
    assert.equal(capSysAdminFromStatus('CapEff:\t0000000000200000\n'), true, 'bit 21 alone');
    assert.equal(capSysAdminFromStatus('CapEff:\t00000000001fffff\n'), false, 'every bit but 21');
    assert.equal(capSysAdminFromStatus('Name:\tx\n'), undefined);
  });
});

describe('Secure Boot from efivarfs', () => {
  const GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
  const var4 = (b: number) => Buffer.from([6, 0, 0, 0, b]);
  const run = (files: Record<string, Buffer | 'unreadable'>, dirs: string[]) =>
    readSecureBoot(
      (p) => files[p],
      (p) => dirs.includes(p) || p in files,
      '/r',
    );
  const efi = ['/r/sys/firmware/efi', '/r/sys/firmware/efi/efivars'];
  test('not UEFI, no efivarfs, SecureBoot 0 or 1, SetupMode 1, unreadable', () => {
    assert.equal(run({}, []).enabled, false);
    assert.equal(run({}, ['/r/sys/firmware/efi']).enabled, undefined);
    assert.equal(run({}, efi).enabled, false);
    assert.equal(run({ [`/r/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: var4(0) }, efi).enabled, false);
    assert.equal(run({ [`/r/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: var4(1) }, efi).enabled, true);
    const setup = {
      [`/r/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: var4(1),
      [`/r/sys/firmware/efi/efivars/SetupMode-${GUID}`]: var4(1),
    };
    assert.equal(run(setup, efi).enabled, false);
    assert.equal(run({ [`/r/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: 'unreadable' }, efi).enabled, undefined);
  });
});

describe('security.ima as the kernel reads it (Debian 6.1: sha256 by default, ids below 20)', () => {
  const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
  const d32 = 'aa'.repeat(32);
  test('0x04 digest: its algorithm, the digest bytes compared', () => {
    const v = kernelValue(hex(`04 04 ${d32}`), DEBIAN_6_1);
    assert.equal(v.kind, 'digest');
    if (v.kind !== 'digest') return;
    assert.equal(v.algo.name, 'sha256');
    assert.equal(v.compared?.toString('hex'), d32);
  });
  test('0x04 with an id the kernel does not know (sha3-256 is 20): the default algorithm over the same bytes', () => {
    const v = kernelValue(hex(`04 14 ${d32}`), DEBIAN_6_1);
    assert.ok(v.kind === 'digest' && v.algo.name === 'sha256' && v.unknownAlgoId === 20);
  });
  test('0x04 too short for its algorithm: nothing to compare (invalid-hash)', () => {
    const v = kernelValue(hex('04 04 aabb'), DEBIAN_6_1);
    assert.ok(v.kind === 'digest' && v.compared === undefined);
  });
  test('0x01: sha1 at 21 bytes, md5 at 17 or padded to 21, the default otherwise', () => {
    const sha1 = kernelValue(hex(`01 ${'11'.repeat(20)}`), DEBIAN_6_1);
    assert.ok(sha1.kind === 'digest' && sha1.algo.name === 'sha1');
    const md5 = kernelValue(hex(`01 ${'11'.repeat(16)}`), DEBIAN_6_1);
    assert.ok(md5.kind === 'digest' && md5.algo.name === 'md5');
    const padded = kernelValue(hex(`01 ${'11'.repeat(16)} 00000000`), DEBIAN_6_1);
    assert.ok(padded.kind === 'digest' && padded.algo.name === 'md5' && padded.compared?.length === 16);
    // Longer values are compared on their first bytes: the kernel is lenient there.
    const long = kernelValue(hex(`01 ${d32} ffff`), DEBIAN_6_1);
    assert.ok(long.kind === 'digest' && long.algo.name === 'sha256' && long.compared?.toString('hex') === d32);
  });
  test('0x03 v2: algorithm, keyid, and what asymmetric_verify refuses before any key', () => {
    const sig = kernelValue(hex('03 02 04 308baedd 0002 abcd'), DEBIAN_6_1);
    assert.ok(sig.kind === 'signature' && sig.version === 2 && sig.keyid === '308baedd' && !sig.malformed);
    const size = kernelValue(hex('03 02 04 308baedd 0005 abcd'), DEBIAN_6_1);
    assert.ok(size.kind === 'signature' && /header says 5/.test(size.malformed ?? ''));
    const short = kernelValue(hex('03 02 04 308baedd 00'), DEBIAN_6_1);
    assert.ok(short.kind === 'signature' && /no longer than the signature header/.test(short.malformed ?? ''));
    const algo = kernelValue(hex('03 02 14 308baedd 0002 abcd'), DEBIAN_6_1);
    assert.ok(
      algo.kind === 'signature' && algo.algo.name === 'sha256' && /unknown to this kernel/.test(algo.malformed!),
    );
  });
  test('0x03 v3 and 0x06: versions kept for the verdict to judge', () => {
    const v3 = kernelValue(hex('03 03 04 308baedd 0002 abcd'), DEBIAN_6_1);
    assert.ok(v3.kind === 'signature' && v3.version === 3);
    const verity = kernelValue(hex('06 03 04 308baedd 0002 abcd'), DEBIAN_6_1);
    assert.ok(verity.kind === 'verity-signature' && verity.version === 3);
  });
  test('EVM types and unknown types: unknown-ima-data; empty: no value', () => {
    for (const t of [0x02, 0x05, 0x07, 0xff])
      assert.deepEqual(kernelValue(Buffer.from([t, 1, 2]), DEBIAN_6_1), { kind: 'unknown', type: t });
    assert.deepEqual(kernelValue(Buffer.alloc(0), DEBIAN_6_1), { kind: 'empty' });
  });
});
