// ima-sidecar kexec --dry-run on the host (the loads themselves run in the kernel suite's guest): a kernel
// staged from its sidecar, its xattr or its appended signature; refusals for a changed, unsigned or
// wrongly signed image, one line each; kexec-tools missing is exit 2; no staging folder or mount is left.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, fixture, run, runCli, show, tempDir } from '../helpers/cli.js';
import { haveCommand, isRoot, skipOrFail } from '../helpers/skip.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');
const OTHER_CERT = fixture('keys/other-rsa2048.crt.pem');
const OTHER_KEY = fixture('keys/other-rsa2048.key.pem');
const CERT_DER = fixture('keys/rsa2048.crt.der');
const SIGN = ['--key', KEY, '--cert', CERT];
const KERNEL_RULE = 'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig';
const INITRAMFS_RULE = 'appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig';
/** What kexec prints of an image it lets through without a signature: the policy does not appraise FUNC. */
const passesUnsigned = (func: string): RegExp =>
  new RegExp(
    `unsigned: staged \\(no signature, from nowhere; passes without one: the policy does not appraise ${func}`,
  );

/** Staging folders and tmpfs mounts of ours, wherever they went. */
function leftovers(): string[] {
  const dirs = ['/run', tmpdir()].flatMap((d) =>
    readdirSync(d)
      .filter((n) => n.startsWith('ima-sidecar-kexec-'))
      .map((n) => join(d, n)),
  );
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('ima-sidecar-kexec-'));
  return [...dirs, ...mounts];
}

async function kernels(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  for (const name of ['sidecar', 'changed', 'unsigned', 'appended'])
    writeFileSync(join(dir, name), randomBytes(200_000));
  for (const name of ['sidecar', 'changed']) assert.equal((await runCli(['sign', ...SIGN, join(dir, name)])).status, 0);
  appendFileSync(join(dir, 'changed'), 'tampered');
  assert.equal((await runCli(['modsig', 'sign', ...SIGN, join(dir, 'appended')])).status, 0);
  return dir;
}

test('kexec --dry-run stages and checks, loads nothing, and leaves no staging behind', async (t) => {
  if (!isRoot()) return skipOrFail(t, 'needs root (security.ima on the staging tmpfs)');
  const dir = await kernels(t);
  const before = leftovers();
  // The policy decides whether an image without a signature can pass (doctor's verdict for the staged copy).
  const policy = (name: string, rules: string[]): string[] => {
    writeFileSync(join(dir, name), rules.map((r) => `${r}\n`).join(''));
    return ['--policy', join(dir, name)];
  };
  const both = policy('both', [KERNEL_RULE, INITRAMFS_RULE]);
  const kernelOnly = policy('kernel-only', [KERNEL_RULE]);
  const noKexec = policy('no-kexec', ['appraise func=MODULE_CHECK appraise_type=imasig']);
  const broken = policy('broken', ['appraise func=NO_SUCH_CHECK']);
  const [kernel, unsigned] = [join(dir, 'sidecar'), join(dir, 'unsigned')];
  const cases: [string, string[], number, RegExp][] = [
    ['a sidecar', [kernel], 0, /sidecar: staged \(sha256 signature, keyid [0-9a-f]{8}, from sidecar\)/],
    ['an appended signature', [join(dir, 'appended')], 0, /appended: staged \(sha256 signature, .*from appended\)/],
    ['an initrd too', [kernel, '--initrd', kernel], 0, /--initrd/],
    ['changed after signing', [join(dir, 'changed')], 1, /changed: not staged: digest mismatch/],
    ['no signature', [...both, unsigned], 1, /unsigned: has no signature.*refuse it \(.*both \(--policy\): appraise/],
    ['an unsigned initrd', [...both, kernel, '--initrd', unsigned], 1, /unsigned: has no signature.*INITRAMFS/],
    ['no signature, kexec not appraised', [...noKexec, unsigned], 0, passesUnsigned('KEXEC_KERNEL_CHECK')],
    [
      'an unsigned initrd, only the kernel appraised',
      [...kernelOnly, kernel, '--initrd', unsigned],
      0,
      passesUnsigned('KEXEC_INITRAMFS_CHECK'),
    ],
    ['a --policy that does not parse', [...broken, kernel], 2, /broken:1: 'func=NO_SUCH_CHECK': unknown hook/],
  ];
  for (const [what, args, status, expected] of cases) {
    const r = await runCli(['kexec', '--dry-run', '--cert', CERT, ...args]);
    assert.equal(r.status, status, `${what}\n${show(r)}`);
    assert.match(r.stdout + r.stderr, expected, `${what}\n${show(r)}`);
    if (status !== 0) assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line\n${show(r)}`);
    assert.deepEqual(leftovers(), before, `${what}: staging left behind`);
  }
  const other = await runCli(['kexec', '--dry-run', '--cert', OTHER_CERT, join(dir, 'sidecar')]);
  assert.equal(other.status, 1, show(other));
  assert.match(other.stderr, /sidecar: not staged: .*keyid/, show(other));
  const stageDir = await tempDir(t);
  const inDir = await runCli(['kexec', '--dry-run', '--cert', CERT, '--stage-dir', stageDir, join(dir, 'sidecar')]);
  assert.equal(inDir.status, 0, show(inDir));
  assert.match(inDir.stdout, new RegExp(`kexec -s -l ${stageDir}/ima-sidecar-kexec-`));
  assert.deepEqual(readdirSync(stageDir), []);
});

test('kexec without kexec-tools is one line and exit 2; --append with --reuse-cmdline is a usage error', async (t) => {
  const dir = await kernels(t);
  const r = await run(process.execPath, [BIN, 'kexec', '--cert', CERT, join(dir, 'sidecar')], {
    env: { PATH: '/nonexistent' },
  });
  assert.equal(r.status, 2, show(r));
  assert.match(r.stderr, /^ima-sidecar: cannot run kexec \(kexec-tools\)/m);
  const both = await runCli(['kexec', '--append', 'x', '--reuse-cmdline', join(dir, 'sidecar')]);
  assert.equal(both.status, 2, show(both));
});

test("kexec --dry-run refuses an image signed with a key that is not in the kernel's _ima keyring", async (t) => {
  if (!haveCommand('keyctl')) return skipOrFail(t, 'needs keyctl (keyutils)');
  if (!isRoot()) return skipOrFail(t, 'needs root (security.ima on the staging tmpfs)');
  const dir = await kernels(t);
  // A session keyring of its own, holding an _ima keyring with the test certificate only.
  const script = `r=$(keyctl newring _ima @s) && keyctl padd asymmetric '' "$r" < "$1" >/dev/null && exec "$@"`;
  const inSession = (args: string[]) =>
    run('keyctl', [
      'session',
      '-',
      'sh',
      '-c',
      script.replace('"$1"', `"${CERT_DER}"`),
      'sh',
      process.execPath,
      BIN,
      ...args,
    ]);
  const mine = await inSession(['kexec', '--dry-run', join(dir, 'sidecar')]);
  assert.equal(mine.status, 0, show(mine));
  const other = join(dir, 'unsigned');
  assert.equal((await runCli(['sign', '--key', OTHER_KEY, '--cert', OTHER_CERT, other])).status, 0);
  const theirs = await inSession(['kexec', '--dry-run', other]);
  assert.equal(theirs.status, 1, show(theirs));
  assert.match(theirs.stderr, /unsigned: signed with keyid [0-9a-f]{8}, which is not in the kernel's IMA keyring/);
});
