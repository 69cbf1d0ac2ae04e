// The kernel view, gathered from injected readers standing for /proc, /sys and /etc: which policy is in force
// and how that is known (read back, --policy, /etc/ima/ima-policy assumed, or the built-in ones the command
// line names, or none without IMA), the appraisal mode with Secure Boot overriding ima_appraise=, the _ima
// keyring and EVM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { PolicyError } from '../../src/kernel/policy.js';
import { gatherKernelView, KernelViewSources, TextRead } from '../../src/kernel/view.js';

const GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const PROC_KEYS =
  '1f92a4c1 I--Q---     1 perm 39010000     0     0 asymmetri ima-sidecar test: rsa2048: ' +
  '044a83ace061398b34734334acd98891308baedd: X509.rsa 308baedd []\n' +
  '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   _ima: 1\n';

/** A machine made of files: text, or an errno for a file that is there but cannot be read. */
function machine(files: Record<string, string>, extra: Partial<KernelViewSources> = {}): KernelViewSources {
  const dirs = new Set<string>();
  for (const p of Object.keys(files)) {
    const parts = p.split('/');
    for (let i = 2; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const readText = (p: string): TextRead => {
    const v = files[p];
    if (v === undefined) return { error: 'ENOENT' };
    return v.startsWith('ERRNO:') ? { error: v.slice(6) } : { text: v };
  };
  return {
    root: '/m',
    readText,
    readBytes: (p) => (files[p] === undefined ? undefined : Buffer.from(files[p]!, 'latin1')),
    exists: (p) => p in files || dirs.has(p),
    keyctl: null,
    ...extra,
  };
}

const BASE = {
  '/m/proc/cmdline': 'BOOT_IMAGE=/vmlinuz ro ima_policy=appraise_tcb\n',
  '/m/proc/sys/kernel/osrelease': '6.1.0-13-amd64\n',
  '/m/proc/keys': PROC_KEYS,
  '/m/sys/kernel/security/evm': '0\n',
  '/m/sys/kernel/security/lsm': 'lockdown,capability,apparmor,integrity',
};
const SB_ON = {
  '/m/sys/firmware/efi/efivars/x': '',
  [`/m/sys/firmware/efi/efivars/SecureBoot-${GUID}`]: '\x06\0\0\0\x01',
};

describe('which policy is in force', () => {
  test('--policy FILE: that file, after the Secure Boot arch rules when Secure Boot is on', () => {
    const v = gatherKernelView(
      machine(
        { ...BASE, ...SB_ON, '/m/sys/kernel/security/ima/x': '', 'p.policy': 'appraise fowner=0\n' },
        {
          policyFile: 'p.policy',
        },
      ),
    );
    assert.equal(v.policy.source, 'file');
    assert.equal(v.secureBoot.enabled, true);
    assert.deepEqual(
      v.policy.rules.map((r) => r.text),
      ['measure func=KEXEC_KERNEL_CHECK', 'measure func=MODULE_CHECK', 'appraise fowner=0'],
    );
  });

  test('read back from securityfs when the kernel lets it (CONFIG_IMA_READ_POLICY), arch rules and all', () => {
    const shown = 'dont_appraise fsmagic=0x9fa0 \nappraise func=BPRM_CHECK appraise_type=sigv3 digest_type=verity \n';
    const v = gatherKernelView(machine({ ...BASE, '/m/sys/kernel/security/ima/policy': shown }));
    assert.equal(v.policy.source, 'securityfs');
    assert.equal(v.policy.rules.length, 2);
    assert.equal(v.policy.rules[1]!.appraiseType, 'sigv3');
  });

  test('the securityfs policy file still there but unreadable: no custom policy loaded, the built-in ones rule', () => {
    const v = gatherKernelView(
      machine({ ...BASE, '/m/sys/kernel/security/ima/policy': 'ERRNO:EACCES', '/m/etc/ima/ima-policy': 'x\n' }),
    );
    assert.equal(v.policy.source, 'builtin');
    assert.match(v.policy.description, /ima_policy=appraise_tcb.*no custom policy was loaded/);
    assert.equal(v.policy.rules.at(-1)!.text, 'appraise fowner=0');
  });

  test('the securityfs policy file gone (a policy was loaded): /etc/ima/ima-policy, assumed', () => {
    const v = gatherKernelView(
      machine({
        ...BASE,
        '/m/sys/kernel/security/ima/ascii_runtime_measurements': 'ERRNO:EACCES',
        '/m/etc/ima/ima-policy': '# mine\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n',
      }),
    );
    assert.equal(v.policy.source, 'assumed');
    assert.equal(v.policy.path, '/etc/ima/ima-policy');
    assert.equal(v.policy.rules[0]!.source, '/etc/ima/ima-policy');
    assert.equal(v.policy.rules[0]!.line, 2);
  });

  test('a policy loaded, but no file to say which: a configuration error asking for --policy', () => {
    assert.throws(
      () => gatherKernelView(machine({ ...BASE, '/m/sys/kernel/security/ima/violations': '0' })),
      (e: unknown) => e instanceof ConfigError && /give the policy with --policy/.test(e.message),
    );
  });

  test('securityfs not visible: /etc/ima/ima-policy assumed if there, else the built-in policies', () => {
    const files = { ...BASE, '/m/etc/ima/ima-policy': 'appraise fowner=0\n' } as Record<string, string>;
    delete files['/m/sys/kernel/security/lsm'];
    delete files['/m/sys/kernel/security/evm'];
    const assumed = gatherKernelView(machine(files));
    assert.equal(assumed.ima, 'unknown');
    assert.equal(assumed.policy.source, 'assumed');
    delete files['/m/etc/ima/ima-policy'];
    const builtin = gatherKernelView(machine(files));
    assert.equal(builtin.policy.source, 'builtin');
    assert.match(builtin.policy.description, /does not exist/);
  });

  test('an /etc/ima/ima-policy the kernel would refuse: a PolicyError naming the file and the line', () => {
    assert.throws(
      () =>
        gatherKernelView(
          machine({
            ...BASE,
            '/m/sys/kernel/security/ima/violations': '0',
            '/m/etc/ima/ima-policy': 'appraise fowner=0\nappraise what=1\n',
          }),
        ),
      (e: unknown) => e instanceof PolicyError && e.source === '/etc/ima/ima-policy' && e.line === 2,
    );
  });

  test('a policy file without a final newline: a note (the kernel reading it by path refuses it)', () => {
    const v = gatherKernelView(machine({ ...BASE, p: 'appraise fowner=0' }, { policyFile: 'p' }));
    assert.ok(v.notes.some((n) => /does not end with a newline/.test(n)));
  });

  test('an unreadable --policy file: a configuration error', () => {
    assert.throws(() => gatherKernelView(machine(BASE, { policyFile: 'missing' })), ConfigError);
  });

  test('securityfs without an ima folder: this kernel has no IMA, nothing is appraised', () => {
    const v = gatherKernelView(machine(BASE));
    assert.equal(v.ima, 'absent');
    assert.equal(v.policy.source, 'none');
    assert.deepEqual(v.policy.rules, []);
  });
});

describe('the appraisal mode', () => {
  const withCmdline = (cmdline: string, more: Record<string, string> = {}) =>
    gatherKernelView(machine({ ...BASE, ...more, '/m/proc/cmdline': cmdline }));
  test('enforce by default; ima_appraise= otherwise', () => {
    assert.equal(withCmdline('ro').appraise.mode, 'enforce');
    assert.equal(withCmdline('ima_appraise=log').appraise.mode, 'log');
    assert.equal(withCmdline('ima_appraise=fix').appraise.mode, 'fix');
  });
  test('Secure Boot makes the kernel ignore ima_appraise= other than enforce', () => {
    const v = withCmdline('ima_appraise=log', SB_ON);
    assert.equal(v.appraise.mode, 'enforce');
    assert.match(v.appraise.how, /ignored under Secure Boot/);
  });
  test('--appraise overrides both', () => {
    const v = gatherKernelView(machine({ ...BASE, ...SB_ON }, { appraiseMode: 'off' }));
    assert.equal(v.appraise.mode, 'off');
  });
  test('an ima_appraise= value the kernel does not know: enforce, with a note', () => {
    const v = withCmdline('ima_appraise=strict');
    assert.equal(v.appraise.mode, 'enforce');
    assert.ok(v.notes.some((n) => /ima_appraise=strict/.test(n)));
  });
});

describe('keyring, EVM, release', () => {
  test('the _ima keyring from /proc/keys, EVM flags, a note for a kernel other than 6.1', () => {
    const v = gatherKernelView(
      machine({ ...BASE, '/m/sys/kernel/security/evm': '2\n', '/m/proc/sys/kernel/osrelease': '6.12.0\n' }),
    );
    assert.equal(v.keyring.name, '_ima');
    assert.deepEqual(
      v.keyring.keys.map((k) => k.keyid),
      ['308baedd'],
    );
    assert.equal(v.evm.x509Key, true);
    assert.ok(v.notes.some((n) => /the running kernel is 6\.12\.0/.test(n)));
  });
  test('a .ima keyring where _ima is expected: said', () => {
    const keys = '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   .ima: 1\n';
    const v = gatherKernelView(machine({ ...BASE, '/m/proc/keys': keys }));
    assert.equal(v.keyring.state, 'absent');
    assert.ok(
      v.notes.some((n) => /there is a \.ima keyring but no _ima/.test(n)),
      v.notes.join('\n'),
    );
  });
  test('EVM unreadable (not root): unknown, and why', () => {
    const v = gatherKernelView(machine({ ...BASE, '/m/sys/kernel/security/evm': 'ERRNO:EACCES' }));
    assert.equal(v.evm.keyLoaded, undefined);
    assert.match(v.evm.how, /cannot be read \(EACCES\)/);
  });
  test('keyctl is asked only when told to (or on the running system)', () => {
    const asked: string[][] = [];
    const v = gatherKernelView(
      machine(BASE, {
        keyctl: (args) => {
          asked.push([...args]);
          return '';
        },
      }),
    );
    assert.equal(v.keyring.membership, 'keyctl');
    assert.deepEqual(v.keyring.keys, []);
    assert.ok(asked.length > 0);
  });
});
