// `ima-sidecar doctor` through the real bin/ima-sidecar, on real files in a temporary folder signed and hashed by
// the tool itself (user.ima standing in for security.ima, so no root needed), with --policy and a kernel made of
// files (--kernel-root: proc/cmdline, proc/keys with the test key in _ima, EVM's flags): the per-file lines
// (verdict, cause, rule, fix), the JSON records and summary, and exit codes 0, 1 and 2.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, jsonOutput, runCli, type RunResult, show, tempDir } from '../helpers/cli.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const OTHER_KEY = fixture('keys/other-rsa2048.key.pem');
const OTHER_CERT = fixture('keys/other-rsa2048.crt.pem');
const STACK = /^\s+at |\bError: |node:internal|\.js:\d+:\d+/m;

const PROC_KEYS =
  '1f92a4c1 I--Q---     1 perm 39010000     0     0 asymmetri ima-sidecar test: rsa2048: ' +
  '044a83ace061398b34734334acd98891308baedd: X509.rsa 308baedd []\n' +
  '31acfdd4 I--Q---     1 perm 3f010000     0     0 keyring   _ima: 1\n';

let userXattrs: string | undefined;

/** A folder with a kernel (proc/, sys/) and a policy, and the files: signed, hashed, unsigned. */
async function setup(t: TestContext, policy: string, cmdline = 'ro quiet'): Promise<string> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'root', 'proc'), { recursive: true });
  await mkdir(join(dir, 'root', 'sys', 'kernel', 'security'), { recursive: true });
  await writeFile(join(dir, 'root', 'proc', 'cmdline'), `${cmdline}\n`);
  await writeFile(join(dir, 'root', 'proc', 'keys'), PROC_KEYS);
  await writeFile(join(dir, 'root', 'sys', 'kernel', 'security', 'evm'), '0\n');
  await writeFile(join(dir, 'test.policy'), policy);
  for (const name of ['signed', 'hashed', 'unsigned', 'other', 'changed'])
    await writeFile(join(dir, name), Buffer.alloc(3000, name.length));
  const ok = (r: RunResult): void => assert.equal(r.status, 0, show(r));
  const x = ['--xattr', 'user.ima'];
  ok(await runCli(['sign', '--key', KEY, '--cert', CERT, '--to', 'xattr', ...x, 'signed', 'changed'], { cwd: dir }));
  ok(await runCli(['sign', '--key', OTHER_KEY, '--cert', OTHER_CERT, '--to', 'xattr', ...x, 'other'], { cwd: dir }));
  ok(await runCli(['hash', '--to', 'xattr', ...x, 'hashed'], { cwd: dir }));
  await writeFile(join(dir, 'changed'), Buffer.alloc(3000, 1));
  return dir;
}

/** doctor in `dir` with the kernel under root/ and the attribute user.ima. */
function doctor(dir: string, args: readonly string[]): Promise<RunResult> {
  return runCli(['doctor', '--kernel-root', 'root', '--xattr', 'user.ima', ...args], { cwd: dir });
}

const IMASIG = 'appraise func=FILE_CHECK appraise_type=imasig\n';

before(async () => {
  // user.* xattrs on the temporary folder's filesystem, or every test is skipped.
  const dir = await tempDir();
  await writeFile(join(dir, 'probe'), '');
  const r = await runCli(['hash', '--to', 'xattr', '--xattr', 'user.ima', join(dir, 'probe')]);
  userXattrs = r.status === 0 ? undefined : `the temporary folder takes no user xattrs: ${r.stderr.trim()}`;
});

function needXattrs(t: TestContext): boolean {
  if (userXattrs) t.skip(userXattrs);
  return !userXattrs;
}

describe('doctor', () => {
  test('every file allowed: the verdict and the rule per file, the kernel on stderr, exit 0', async (t) => {
    if (!needXattrs(t)) return;
    const dir = await setup(t, IMASIG);
    const r = await doctor(dir, ['--policy', 'test.policy', '--cert', CERT, 'signed']);
    assert.equal(r.status, 0, show(r));
    const lines = r.stdout.split('\n');
    assert.match(
      lines[0]!,
      /^signed: allowed: the sha256 signature by key 'ima-sidecar test: rsa2048' \(keyid 308baedd\)/,
    );
    assert.equal(lines[1], '  rule: appraise func=FILE_CHECK appraise_type=imasig  (test.policy:1)');
    assert.ok(!r.stdout.includes('fix:'), show(r));
    assert.match(
      r.stderr,
      /^kernel: appraisal enforce \(the default, no ima_appraise=\); policy: test\.policy \(--policy\)/m,
    );
    assert.match(r.stderr, /keyring _ima: 1 key \(308baedd 'ima-sidecar test: rsa2048'\)/);
    assert.doesNotMatch(r.stderr, STACK);
  });

  test('one denied among others: VERDICT (CAUSE): why, the rule, the fix; exit 1', async (t) => {
    if (!needXattrs(t)) return;
    const dir = await setup(t, IMASIG);
    const r = await doctor(dir, [
      '--policy',
      'test.policy',
      '--cert',
      CERT,
      'signed',
      'hashed',
      'unsigned',
      'changed',
      'other',
    ]);
    assert.equal(r.status, 1, show(r));
    const out = r.stdout;
    assert.match(out, /^hashed: denied \(IMA-signature-required\): security\.ima holds only a sha256 hash/m);
    assert.match(out, /^unsigned: denied \(IMA-signature-required\): security\.ima is missing/m);
    assert.match(out, /^changed: denied \(invalid-signature\): the content changed since signing/m);
    assert.match(out, /^other: denied \(invalid-signature\): keyid [0-9a-f]{8} is not in the _ima keyring/m);
    assert.match(out, /^ {2}fix: ima-sidecar sign --cert \S+rsa2048\.crt\.pem --to xattr hashed$/m);
    assert.match(out, /^ {2}fix: keyctl padd asymmetric "" %keyring:_ima < CERT\.der/m);
    assert.match(r.stderr, /^5 files: 1 allowed, 4 denied/m);
  });

  test('--json: one record per file (path as given, hook, verdict, cause, rule, fix), then the summary', async (t) => {
    if (!needXattrs(t)) return;
    const dir = await setup(t, IMASIG);
    const r = await doctor(dir, [
      '--policy',
      'test.policy',
      '--cert',
      CERT,
      '--hook',
      'exec',
      '--json',
      './signed',
      'hashed',
      'nope',
    ]);
    assert.equal(r.status, 1, show(r));
    assert.equal(r.stderr, '');
    const { records, summary } = jsonOutput(r.stdout);
    assert.equal(records.length, 3);
    const [signed, hashed, missing] = records as Record<string, unknown>[];
    assert.equal(signed!.path, './signed');
    assert.equal(signed!.hook, 'exec');
    assert.equal(signed!.verdict, 'allowed');
    assert.equal(signed!.cause, null);
    assert.equal(signed!.fix, null);
    assert.equal(signed!.certain, true);
    assert.equal(signed!.rule, 'appraise func=FILE_CHECK appraise_type=imasig');
    assert.equal(signed!.ruleAt, 'test.policy:1');
    assert.equal(signed!.func, 'FILE_CHECK');
    assert.equal(signed!.xattrs, true);
    assert.equal(typeof signed!.auditRecord, 'boolean');
    assert.equal(typeof signed!.openDenied, 'boolean');
    assert.match(String(signed!.value), /^030204308baedd/);
    assert.deepEqual(hashed!.verdict, 'denied');
    assert.equal(hashed!.cause, 'IMA-signature-required');
    assert.equal(hashed!.auditRecord, true);
    assert.match(String(hashed!.explanation), /\(when opened by execve, FILE_CHECK\)$/);
    assert.match(String(hashed!.fix), /^ima-sidecar sign /);
    assert.equal(missing!.verdict, 'error');
    assert.match(String(missing!.reason), /no such file/);
    assert.equal(summary.total, 3);
    assert.equal(summary.failed, 2);
    assert.equal(summary.allowed, 1);
    assert.equal(summary.denied, 1);
    assert.equal(summary.error, 1);
    assert.equal(summary.hook, 'exec');
    const kernel = summary.kernel as Record<string, unknown>;
    assert.equal(kernel.appraise, 'enforce');
    assert.equal(kernel.policySource, 'file');
    assert.deepEqual(kernel.keyids, ['308baedd']);
  });

  test('the built-in policy named on the command line, with ima_appraise=log: allowed with the cause', async (t) => {
    if (!needXattrs(t)) return;
    const dir = await setup(t, IMASIG, 'ro ima_policy=appraise_tcb ima_appraise=log');
    const r = await doctor(dir, ['unsigned', 'hashed']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stderr, /appraisal log \(ima_appraise=log\); policy: built-in \(ima_policy=appraise_tcb\)/);
    // appraise fowner=0 appraises only root's files.
    const root = process.getuid?.() === 0;
    if (root) {
      assert.match(r.stdout, /^unsigned: allowed \(missing-hash\): ima_appraise=log: the kernel allows it/m);
      assert.match(r.stdout, /^ {2}rule: appraise fowner=0 {2}\(ima_policy=appraise_tcb\)$/m);
      assert.match(r.stdout, /^hashed: allowed: security\.ima holds the file's sha256 hash$/m);
    } else assert.match(r.stdout, /^unsigned: not-appraised: no appraise rule matches FILE_CHECK/m);
  });

  test('--hook kexec and --appraise: the KEXEC_KERNEL_CHECK rule; log mode then allows', async (t) => {
    if (!needXattrs(t)) return;
    const dir = await setup(t, 'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n');
    const read = await doctor(dir, ['--policy', 'test.policy', 'unsigned']);
    assert.equal(read.status, 0, show(read));
    assert.match(read.stdout, /^unsigned: not-appraised: no appraise rule matches FILE_CHECK with MAY_READ/m);
    const kexec = await doctor(dir, ['--policy', 'test.policy', '--hook', 'kexec', 'unsigned']);
    assert.equal(kexec.status, 1, show(kexec));
    assert.match(kexec.stdout, /^unsigned: denied \(IMA-signature-required\): security\.ima is missing/m);
    assert.match(
      kexec.stdout,
      /^ {2}rule: appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig {2}\(test\.policy:1\)$/m,
    );
    const log = await doctor(dir, ['--policy', 'test.policy', '--hook', 'kexec', '--appraise', 'log', 'unsigned']);
    assert.equal(log.status, 0, show(log));
    assert.match(log.stdout, /^unsigned: allowed \(IMA-signature-required\): ima_appraise=log/m);
  });

  test('a policy file the kernel would refuse: exit 2, one line naming the file and the line', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'f'), 'x');
    await writeFile(join(dir, 'bad.policy'), '# ok\nappraise fowner=0\nappraise func=FILE_CHEK\n');
    const r = await runCli(['doctor', '--policy', 'bad.policy', 'f'], { cwd: dir });
    assert.equal(r.status, 2, show(r));
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, show(r));
    assert.match(lines[0]!, /^ima-sidecar: bad\.policy:3: 'func=FILE_CHEK': unknown hook/);
    assert.doesNotMatch(r.stderr, STACK);
  });

  test('usage errors: exit 2 (an unknown hook, no path, a missing --kernel-root)', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'f'), 'x');
    for (const args of [['--hook', 'boot', 'f'], [], ['--kernel-root', 'nowhere', 'f']]) {
      const r = await runCli(['doctor', ...args], { cwd: dir });
      assert.equal(r.status, 2, show(r));
      assert.doesNotMatch(r.stderr, STACK);
    }
  });

  test('--help names the options', async () => {
    const r = await runCli(['doctor', '--help']);
    assert.equal(r.status, 0, show(r));
    for (const o of ['--hook', '--policy', '--cert', '--appraise', '--kernel-root', '--json'])
      assert.ok(r.stdout.includes(o), o);
  });
});
