// The IMA policy grammar as Debian 6.1's ima_parse_rule and ima_validate_rule take it: every token and what
// it becomes, every refusal with the line number and the token named, comments and blank lines, the
// kernel's read-back format round-tripping, and the built-in policies from ima_policy.c.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatRule,
  parsePolicy,
  parsePolicyLine,
  PolicyError,
  PolicyRule,
  POLICY_FUNCS,
  signatureRequired,
} from '../../src/kernel/policy.js';
import { bootPolicyRules, builtinPolicy, BUILTIN_POLICY_NAMES } from '../../src/kernel/builtin-policy.js';
import { DEBIAN_6_1, KernelProfile } from '../../src/kernel/profile.js';

const MODSIG_PROFILE: KernelProfile = { ...DEBIAN_6_1, name: 'a modsig kernel', appraiseModsig: true };

const parse = (line: string, profile: KernelProfile = DEBIAN_6_1): PolicyRule => {
  const r = parsePolicyLine(line, 1, { profile, source: 'p' });
  assert.ok(r, `no rule from ${line}`);
  return r;
};

/** The rule's fields that the grammar sets, without text and location. */
function fields(r: PolicyRule): Record<string, unknown> {
  const skip = new Set(['text', 'source', 'line']);
  return Object.fromEntries(
    Object.entries(r).filter(([k, v]) => !skip.has(k) && v !== undefined && !(k === 'lsm' && !(v as []).length)),
  );
}

describe('policy tokens: each one, as ima_parse_rule reads it', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['measure', { action: 'measure' }],
    ['dont_measure', { action: 'dont_measure' }],
    ['appraise', { action: 'appraise' }],
    ['dont_appraise', { action: 'dont_appraise' }],
    ['audit', { action: 'audit' }],
    ['hash', { action: 'hash' }],
    ['dont_hash', { action: 'dont_hash' }],
    ['appraise func=PATH_CHECK', { action: 'appraise', func: 'FILE_CHECK' }],
    ['appraise func=FILE_MMAP', { action: 'appraise', func: 'MMAP_CHECK' }],
    ['appraise mask=MAY_EXEC', { action: 'appraise', mask: { name: 'MAY_EXEC', anyOf: false } }],
    ['appraise mask=^MAY_READ', { action: 'appraise', mask: { name: 'MAY_READ', anyOf: true } }],
    ['appraise mask=MAY_WRITE', { action: 'appraise', mask: { name: 'MAY_WRITE', anyOf: false } }],
    ['appraise mask=^MAY_APPEND', { action: 'appraise', mask: { name: 'MAY_APPEND', anyOf: true } }],
    ['dont_appraise fsmagic=4d44', { action: 'dont_appraise', fsmagic: 0x4d44 }],
    ['dont_appraise fsmagic=0x9fa0', { action: 'dont_appraise', fsmagic: 0x9fa0 }],
    ['dont_appraise fsmagic=+EF53', { action: 'dont_appraise', fsmagic: 0xef53 }],
    ['dont_appraise fsname=vfat', { action: 'dont_appraise', fsname: 'vfat' }],
    // The kernel keeps the last fsname= without complaint.
    ['dont_appraise fsname=vfat fsname=ext4', { action: 'dont_appraise', fsname: 'ext4' }],
    [
      'appraise fsuuid=6F3A9A2B-1C2D-4E5F-8A9B-0C1D2E3F4A5B',
      { action: 'appraise', fsuuid: '6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b' },
    ],
    // uuid_parse reads 36 characters and no more.
    [
      'appraise fsuuid=6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5bXYZ',
      { action: 'appraise', fsuuid: '6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b' },
    ],
    ['measure uid=0', { action: 'measure', uid: { op: '=', value: 0, effective: false } }],
    ['measure uid>999', { action: 'measure', uid: { op: '>', value: 999, effective: false } }],
    ['measure uid<1000', { action: 'measure', uid: { op: '<', value: 1000, effective: false } }],
    ['measure euid=0', { action: 'measure', uid: { op: '=', value: 0, effective: true } }],
    ['measure euid>0', { action: 'measure', uid: { op: '>', value: 0, effective: true } }],
    ['measure euid<5', { action: 'measure', uid: { op: '<', value: 5, effective: true } }],
    ['measure gid=100', { action: 'measure', gid: { op: '=', value: 100, effective: false } }],
    ['measure gid>1', { action: 'measure', gid: { op: '>', value: 1, effective: false } }],
    ['measure gid<2', { action: 'measure', gid: { op: '<', value: 2, effective: false } }],
    ['measure egid=0', { action: 'measure', gid: { op: '=', value: 0, effective: true } }],
    ['measure egid>3', { action: 'measure', gid: { op: '>', value: 3, effective: true } }],
    ['measure egid<4', { action: 'measure', gid: { op: '<', value: 4, effective: true } }],
    ['appraise fowner=0', { action: 'appraise', fowner: { op: '=', value: 0 } }],
    ['appraise fowner>999', { action: 'appraise', fowner: { op: '>', value: 999 } }],
    ['appraise fowner<1000', { action: 'appraise', fowner: { op: '<', value: 1000 } }],
    ['appraise fgroup=0', { action: 'appraise', fgroup: { op: '=', value: 0 } }],
    ['appraise fgroup>7', { action: 'appraise', fgroup: { op: '>', value: 7 } }],
    ['appraise fgroup<8', { action: 'appraise', fgroup: { op: '<', value: 8 } }],
    ['appraise fowner=+4294967294', { action: 'appraise', fowner: { op: '=', value: 4294967294 } }],
    ['appraise obj_user=system_u', { action: 'appraise', lsm: [{ field: 'obj_user', value: 'system_u' }] }],
    ['appraise obj_role=object_r', { action: 'appraise', lsm: [{ field: 'obj_role', value: 'object_r' }] }],
    ['appraise obj_type=bin_t', { action: 'appraise', lsm: [{ field: 'obj_type', value: 'bin_t' }] }],
    ['measure subj_user=user_u', { action: 'measure', lsm: [{ field: 'subj_user', value: 'user_u' }] }],
    ['measure subj_role=staff_r', { action: 'measure', lsm: [{ field: 'subj_role', value: 'staff_r' }] }],
    ['measure subj_type=init_t', { action: 'measure', lsm: [{ field: 'subj_type', value: 'init_t' }] }],
    ['appraise appraise_type=imasig', { action: 'appraise', appraiseType: 'imasig' }],
    [
      'appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3',
      { action: 'appraise', func: 'BPRM_CHECK', digestType: 'verity', appraiseType: 'sigv3' },
    ],
    ['measure func=FILE_CHECK digest_type=verity', { action: 'measure', func: 'FILE_CHECK', digestType: 'verity' }],
    [
      'appraise func=FILE_CHECK appraise_algos=sha256,sha512',
      { action: 'appraise', func: 'FILE_CHECK', appraiseAlgos: ['sha256', 'sha512'] },
    ],
    [
      'appraise func=SETXATTR_CHECK appraise_algos=sha256',
      { action: 'appraise', func: 'SETXATTR_CHECK', appraiseAlgos: ['sha256'] },
    ],
    [
      'measure func=KEY_CHECK keyrings=.ima|.builtin_trusted_keys',
      { action: 'measure', func: 'KEY_CHECK', keyrings: ['.ima', '.builtin_trusted_keys'] },
    ],
    [
      'measure func=CRITICAL_DATA label=selinux|kernel_info',
      { action: 'measure', func: 'CRITICAL_DATA', label: ['selinux', 'kernel_info'] },
    ],
    ['measure template=ima-ng', { action: 'measure', template: 'ima-ng' }],
    // A template can also be named by its format.
    ['measure template=d-ng|n-ng|sig', { action: 'measure', template: 'd-ng|n-ng|sig' }],
    ['measure pcr=11', { action: 'measure', pcr: 11 }],
    ['measure pcr=+0', { action: 'measure', pcr: 0 }],
    ['appraise func=FILE_CHECK permit_directio', { action: 'appraise', func: 'FILE_CHECK', permitDirectio: true }],
    // Tabs and runs of blanks separate tokens; leading and trailing blanks do not matter.
    [
      ' \tappraise\t\tfunc=MODULE_CHECK  appraise_type=imasig \t',
      { action: 'appraise', func: 'MODULE_CHECK', appraiseType: 'imasig' },
    ],
    // The action need not come first.
    ['fowner=0 appraise', { action: 'appraise', fowner: { op: '=', value: 0 } }],
  ];
  for (const [line, want] of cases) test(line.trim(), () => assert.deepEqual(fields(parse(line)), want));

  test('every 6.1 hook name', () => {
    for (const func of POLICY_FUNCS) {
      const line =
        func === 'KEXEC_CMDLINE' || func === 'KEY_CHECK' || func === 'CRITICAL_DATA'
          ? `measure func=${func}`
          : func === 'SETXATTR_CHECK'
            ? `appraise func=${func} appraise_algos=sha256`
            : `appraise func=${func}`;
      assert.equal(parse(line).func, func);
    }
  });

  test('with CONFIG_IMA_APPRAISE_MODSIG: imasig|modsig and appraise_flag=check_blacklist', () => {
    const r = parse(
      'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig appraise_flag=check_blacklist',
      MODSIG_PROFILE,
    );
    assert.equal(r.appraiseType, 'imasig|modsig');
    assert.equal(r.checkBlacklist, true);
    assert.ok(signatureRequired(r));
  });

  test('the rule keeps its text, source and line', () => {
    const rules = parsePolicy('# c\n\nappraise fowner=0   \n', { source: 'f.policy' });
    assert.equal(rules.length, 1);
    assert.equal(rules[0]!.text, 'appraise fowner=0');
    assert.equal(rules[0]!.source, 'f.policy');
    assert.equal(rules[0]!.line, 3);
  });
});

describe('comments and blank lines', () => {
  test('lines starting with # (after blanks) and blank lines are no rules', () => {
    for (const line of ['', '   ', '\t', '# a comment', '   # indented', '#appraise fowner=0'])
      assert.equal(parsePolicyLine(line, 1), undefined, JSON.stringify(line));
  });
  test('a policy of comments only is refused, as the kernel refuses an empty policy', () => {
    assert.throws(
      () => parsePolicy('# nothing\n\n', { source: 'empty' }),
      (e: unknown) => e instanceof PolicyError && /no rules/.test(e.message) && e.source === 'empty',
    );
  });
});

describe('refusals: the line and the token, and a typed error', () => {
  const cases: [string, number, string, RegExp][] = [
    // [policy, line, token, problem]
    ['appraise fowner=0\nappraise bogus=1\n', 2, 'bogus=1', /unknown token/],
    ['# c\n\n\nmeasure appraise\n', 4, 'appraise', /a second action/],
    ['appraise func=NOPE\n', 1, 'func=NOPE', /unknown hook/],
    ['appraise func=FILE_CHECK func=BPRM_CHECK\n', 1, 'func=BPRM_CHECK', /func= given twice/],
    ['appraise mask=MAY_NOTHING\n', 1, 'mask=MAY_NOTHING', /unknown mask/],
    ['appraise mask=MAY_READ mask=MAY_EXEC\n', 1, 'mask=MAY_EXEC', /twice/],
    ['appraise fsmagic=xyz\n', 1, 'fsmagic=xyz', /hexadecimal/],
    ['appraise fsmagic=0x\n', 1, 'fsmagic=0x', /hexadecimal/],
    ['appraise fsmagic=1 fsmagic=2\n', 1, 'fsmagic=2', /twice/],
    ['appraise fsuuid=not-a-uuid\n', 1, 'fsuuid=not-a-uuid', /UUID/],
    ['appraise fowner=-1\n', 1, 'fowner=-1', /not an id/],
    ['appraise fowner=0x10\n', 1, 'fowner=0x10', /not an id/],
    // (uid_t)-1 is the invalid id.
    ['appraise fowner=4294967295\n', 1, 'fowner=4294967295', /not an id/],
    ['appraise fowner=0 fowner=1\n', 1, 'fowner=1', /twice/],
    // uid= and euid= share one slot in the kernel.
    ['measure uid=0 euid=0\n', 1, 'euid=0', /twice/],
    ['measure gid=0 egid=0\n', 1, 'egid=0', /twice/],
    ['appraise obj_type=a obj_type=b\n', 1, 'obj_type=b', /twice/],
    ['appraise appraise_type=imasig|modsig\n', 1, 'appraise_type=imasig|modsig', /CONFIG_IMA_APPRAISE_MODSIG/],
    ['appraise appraise_type=sigv3\n', 1, 'appraise_type=sigv3', /digest_type=verity/],
    ['appraise appraise_type=whatever\n', 1, 'appraise_type=whatever', /unknown appraise type/],
    ['appraise appraise_type=imasig digest_type=verity\n', 1, 'digest_type=verity', /before appraise_type/],
    ['appraise digest_type=verity appraise_type=imasig\n', 1, 'appraise_type=imasig', /sigv3/],
    ['appraise digest_type=other\n', 1, 'digest_type=other', /only verity/],
    ['appraise func=FILE_CHECK digest_type=verity\n', 1, 'digest_type=verity', /needs appraise_type=sigv3/],
    ['appraise appraise_flag=check_blacklist\n', 1, 'appraise_flag=check_blacklist', /MODSIG/],
    ['appraise appraise_algos=sha256,nope\n', 1, 'appraise_algos=sha256,nope', /unknown hash algorithm "nope"/],
    ['appraise appraise_algos=sha256,\n', 1, 'appraise_algos=sha256,', /unknown hash algorithm ""/],
    // sha3 is past Debian 6.1's HASH_ALGO__LAST; sm3 is not configured; tgr192 left the kernel.
    ['appraise appraise_algos=sha3-256\n', 1, 'appraise_algos=sha3-256', /unknown hash algorithm/],
    ['appraise appraise_algos=sm3\n', 1, 'appraise_algos=sm3', /not available/],
    ['appraise appraise_algos=tgr192\n', 1, 'appraise_algos=tgr192', /not available/],
    ['appraise appraise_algos=sha256 appraise_algos=sha512\n', 1, 'appraise_algos=sha512', /twice/],
    ['measure func=KEY_CHECK keyrings=a||b\n', 1, 'keyrings=a||b', /empty item/],
    ['measure func=KEY_CHECK keyrings=a keyrings=b\n', 1, 'keyrings=b', /twice/],
    ['measure func=CRITICAL_DATA label=x label=y\n', 1, 'label=y', /twice/],
    ['measure pcr=64\n', 1, 'pcr=64', /PCR index/],
    ['measure pcr=-1\n', 1, 'pcr=-1', /PCR index/],
    ['appraise template=ima-ng\n', 1, 'template=ima-ng', /measure rules/],
    ['template=ima-ng measure\n', 1, 'template=ima-ng', /measure rules/],
    ['measure template=ima-nope\n', 1, 'template=ima-nope', /unknown template/],
    ['measure template=ima-ng template=ima-sig\n', 1, 'template=ima-sig', /twice/],
    // ima_validate_rule
    ['fowner=0\n', 1, '', /no action/],
    ['appraise pcr=10\n', 1, 'pcr=10', /measure rules only/],
    ['measure appraise_type=imasig\n', 1, 'appraise_type=imasig', /appraise rules only/],
    ['dont_appraise appraise_algos=sha256\n', 1, 'appraise_algos=sha256', /appraise rules only/],
    ['appraise keyrings=.ima\n', 1, 'keyrings=.ima', /not allowed in a rule without func=/],
    ['measure func=FILE_CHECK label=x\n', 1, 'label=x', /not allowed in func=FILE_CHECK/],
    ['appraise func=KEXEC_CMDLINE\n', 1, 'func=KEXEC_CMDLINE', /measure and dont_measure rules only/],
    ['measure func=KEXEC_CMDLINE mask=MAY_READ\n', 1, 'mask=MAY_READ', /not allowed in func=KEXEC_CMDLINE/],
    ['measure func=KEY_CHECK fowner=0\n', 1, 'fowner=0', /not allowed in func=KEY_CHECK/],
    ['measure func=KEY_CHECK subj_type=x\n', 1, 'subj_type=x', /LSM conditions/],
    ['measure func=SETXATTR_CHECK appraise_algos=sha256\n', 1, 'appraise_algos=sha256', /appraise rules only/],
    ['appraise func=SETXATTR_CHECK\n', 1, 'func=SETXATTR_CHECK', /needs appraise_algos/],
    ['appraise func=SETXATTR_CHECK appraise_algos=sha256 fowner=0\n', 1, 'fowner=0', /not allowed/],
    ['appraise func=MODULE_CHECK digest_type=verity appraise_type=sigv3\n', 1, 'digest_type=verity', /not allowed/],
    // Slips the kernel takes as unknown words, named with a hint.
    ['appraise fowner=0 # root files\n', 1, '#', /comment only at the start of a line/],
    ['appraise fowner=0\r\n', 1, 'fowner=0\r', /carriage return/],
    ['measure uid_gt=1000\n', 1, 'uid_gt=1000', /spells it uid>1000/],
    ['appraise fsname=\n', 1, 'fsname=', /a value is needed/],
    ['APPRAISE fowner=0\n', 1, 'APPRAISE', /unknown token/],
    ['appraise fsmagic>5\n', 1, 'fsmagic>5', /unknown token/],
    ['appraise\0 fowner=0\n', 1, '', /NUL/],
  ];
  for (const [text, line, token, problem] of cases) {
    test(JSON.stringify(text), () => {
      let err: unknown;
      try {
        parsePolicy(text, { source: 'the.policy' });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof PolicyError, `expected a PolicyError, got ${String(err)}`);
      assert.equal(err.source, 'the.policy');
      assert.equal(err.line, line);
      assert.equal(err.token, token);
      assert.match(err.problem, problem);
      assert.ok(err.message.startsWith(`the.policy:${line}: `), err.message);
    });
  }
});

describe("the kernel's read-back format", () => {
  const lines = [
    'appraise func=BPRM_CHECK mask=MAY_EXEC fsmagic=0xef53 fowner=0 appraise_type=imasig',
    'measure func=FILE_CHECK mask=^MAY_READ euid>999 template=ima-sig',
    'dont_appraise fsname=vfat fsuuid=6f3a9a2b-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    'appraise func=FILE_CHECK uid<5 gid=3 fgroup>2 appraise_algos=sha256,sha512 obj_type=bin_t permit_directio',
    'measure func=KEY_CHECK keyrings=.ima|_ima pcr=11',
    'appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3',
  ];
  const readBack = (line: string): PolicyRule => parsePolicyLine(line, 1, { source: 'p', readBack: true })!;
  for (const line of lines) {
    test(line, () => {
      const r = parse(line);
      const shown = formatRule(r);
      assert.deepEqual(fields(readBack(shown)), fields(r));
      // The kernel ends each line with a space; that parses the same.
      assert.deepEqual(fields(readBack(`${shown} `)), fields(r));
    });
  }
  test('the kernel shows sigv3 before digest_type=verity, an order it cannot load again', () => {
    const shown = formatRule(parse('appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3'));
    assert.equal(shown, 'appraise func=BPRM_CHECK appraise_type=sigv3 digest_type=verity');
    assert.throws(() => parse(shown), PolicyError);
    assert.equal(readBack(shown).appraiseType, 'sigv3');
  });
  test('appraise_algos is shown in id order, as the kernel prints its bit field', () => {
    assert.match(formatRule(parse('appraise appraise_algos=sha512,sha1')), /appraise_algos=sha1,sha512/);
  });
});

describe('built-in policies (ima_policy.c)', () => {
  test('appraise_tcb: dont_appraise for 14 pseudo filesystems (tmpfs and ramfs, not FAT), then fowner=0', () => {
    const rules = builtinPolicy('appraise_tcb');
    assert.equal(rules.length, 15);
    const magics = rules.slice(0, 14).map((r) => (assert.equal(r.action, 'dont_appraise'), r.fsmagic));
    for (const m of [0x9fa0, 0x62656572, 0x01021994, 0x858458f6, 0x73636673, 0x27e0eb, 0x63677270, 0xde5e81e4])
      assert.ok(magics.includes(m), m.toString(16));
    assert.ok(!magics.includes(0x4d44));
    assert.deepEqual(fields(rules[14]!), { action: 'appraise', fowner: { op: '=', value: 0 } });
    assert.equal(rules[14]!.source, 'ima_policy=appraise_tcb');
    assert.equal(rules[14]!.line, undefined);
  });
  test('secure_boot: MODULE, FIRMWARE, KEXEC_KERNEL and POLICY_CHECK, each needing a signature', () => {
    const rules = builtinPolicy('secure_boot');
    assert.deepEqual(
      rules.map((r) => r.func),
      ['MODULE_CHECK', 'FIRMWARE_CHECK', 'KEXEC_KERNEL_CHECK', 'POLICY_CHECK'],
    );
    for (const r of rules) assert.equal(r.appraiseType, 'imasig');
  });
  test('tcb measures (and never appraises); ima_tcb is the original set', () => {
    const tcb = builtinPolicy('tcb');
    assert.ok(tcb.every((r) => r.action === 'measure' || r.action === 'dont_measure'));
    assert.ok(tcb.some((r) => r.func === 'POLICY_CHECK'));
    assert.ok(!builtinPolicy('ima_tcb').some((r) => r.func === 'POLICY_CHECK'));
    assert.ok(tcb.some((r) => r.uid?.effective && r.mask?.anyOf));
  });
  test('every name parses', () => {
    for (const n of BUILTIN_POLICY_NAMES) assert.ok(builtinPolicy(n).length > 0, n);
  });
  test("ima_init_policy's order: measurement rules, Secure Boot arch rules, secure_boot, appraise_tcb", () => {
    const rules = bootPolicyRules({ tcb: 'tcb', appraiseTcb: true, secureBoot: true, criticalData: true }, true);
    const sources = [...new Set(rules.map((r) => r.source))];
    assert.deepEqual(sources, [
      'ima_policy=tcb',
      'Secure Boot arch policy',
      'ima_policy=secure_boot',
      'ima_policy=appraise_tcb',
      'ima_policy=critical_data',
    ]);
    assert.deepEqual(bootPolicyRules({ appraiseTcb: false, secureBoot: false, criticalData: false }, false), []);
  });
});
