// npm start: the demo tells the story on a real FAT (as root with dosfstools and fusefat; a plain folder
// otherwise, and it says so), prints every command it runs, and leaves nothing mounted or behind: not after
// a run, not after --keep (the folder stays, the FAT unmounted), not after a SIGINT half-way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run, show, type RunResult } from '../helpers/cli.js';
import { cannotMount, readMounts, runAsNobody } from '../helpers/mounts.js';
import { haveCommand, isRoot } from '../helpers/skip.js';

const DEMO = join(ROOT, 'dist', 'src', 'demo', 'demo.js');
const TIMEOUT = 120_000;
/** Whether the demo will mount a real FAT here (it needs what the FAT system tests need). */
const FAT = cannotMount('fat') === undefined;

function demoDir(stdout: string): string {
  const m = /^ima-sidecar demo in (\S+) /m.exec(stdout);
  assert.ok(m, `no "ima-sidecar demo in DIR" line in:\n${stdout}`);
  return m[1]!;
}

/** Mounts under the demo's folder, and processes (such as its fusefat) that run in it or name it. */
function leftovers(dir: string): string[] {
  const mounts = readMounts()
    .filter((m) => m.target === dir || m.target.startsWith(`${dir}/`))
    .map((m) => `mounted: ${m.type} on ${m.target}`);
  const processes: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmdline.includes(dir)) processes.push(`pid ${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile, or not ours to look at
    }
  }
  return [...mounts, ...processes];
}

/** The output of the command printed as `$ shown`, up to the next command or heading. */
function outputOf(stdout: string, shown: string): string {
  const at = stdout.indexOf(`\n$ ${shown}\n`);
  assert.ok(at >= 0, `no "$ ${shown}" in:\n${stdout}`);
  const rest = stdout.slice(at + shown.length + 4);
  const end = rest.search(/^(\$|#) /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** What every run shows, FAT or not, root or not. */
function assertStory(r: RunResult): void {
  assert.equal(r.status, 0, show(r));
  for (const expected of [
    /^\$ ima-sidecar keyid signing-cert\.pem\n {2}signing-cert\.pem: [0-9a-f]{8} \(subjectKeyIdentifier\)/m,
    /^\$ head -c 524288 \/dev\/urandom > esp\/vmlinuz$/m,
    /esp\/vmlinuz: signed \(v2 sha256 keyid [0-9a-f]{8}, into sidecar\)/,
    /esp\/vmlinuz: copied to boot\/vmlinuz \(signature into xattr\)/,
    /boot\/vmlinuz: ok \(v2 sha256 keyid [0-9a-f]{8}, from xattr\)/,
    /^\$ echo tampered >> boot\/vmlinuz$/m,
    /boot\/vmlinuz: failed: digest mismatch.*\n {2}\(exit status 1\)/,
    /boot\/vmlinuz-next: signed \(v2 sha256 keyid [0-9a-f]{8}, into xattr\)/,
    /^\$ cp boot\/vmlinuz-next esp\/$/m,
    /boot\/vmlinuz-next: exported/,
    /esp\/vmlinuz-vendor: signed \(sha256, issuer-serial/,
    /esp\/vmlinuz-vendor: detached \(v2 sha256 keyid [0-9a-f]{8} into esp\/vmlinuz-vendor\.sig\)/,
    /esp\/vmlinuz-vendor: ok \(v2 sha256 keyid [0-9a-f]{8}, from sidecar\)/,
    /4 files: 4 ok/,
  ])
    assert.match(r.stdout, expected);
  // The xattr side is named from status's FS column, and the table agrees.
  const named = /^# boot\/ is (\S+), which keeps xattrs/m.exec(r.stdout);
  assert.ok(named, r.stdout);
  assert.match(r.stdout, new RegExp(`xattr-only\\s+${named[1]!.replace(/\./g, '\\.')}\\s+yes .*boot/vmlinuz$`, 'm'));
  assert.doesNotMatch(r.stdout + r.stderr, /internal error|demo failed|^\s+at /m);
}

function assertFat(stdout: string): void {
  for (const expected of [
    /^# The "boot partition": a FAT32 image made by mkfs\.fat/m,
    /^\$ truncate -s 64M esp\.img$/m,
    /^\$ mkfs\.fat -F 32 esp\.img$/m,
    /^\$ fusefat -f -s -o rw\+ esp\.img esp >fusefat\.log 2>&1 &$/m,
    /sidecar-only\s+fuse\.fusefat\s+no\s.*esp\/vmlinuz$/m,
    /^# esp\/ is fuse\.fusefat, which keeps no xattrs/m,
    /^\$ fusermount -u esp$/m,
  ])
    assert.match(stdout, expected);
  const imported = outputOf(stdout, 'ima-sidecar import -r esp');
  assert.match(imported, /esp\/vmlinuz: unsupported: filesystem fuse\.fusefat does not support extended attributes/);
  assert.doesNotMatch(imported, /exit status/); // exit 0: no xattrs is not an error for import
  assert.doesNotMatch(stdout, /No real FAT here/);
}

test('npm start: the story on a real FAT, every command shown, nothing left mounted or behind', async () => {
  const r = await run(process.execPath, [DEMO], { timeoutMs: TIMEOUT });
  assertStory(r);
  const dir = demoDir(r.stdout);
  if (FAT) assertFat(r.stdout);
  else assert.match(r.stdout, /^# No real FAT here \(.+\): esp\/ is a plain folder/m);
  // Root needs no --xattr: security.ima is the default.
  if (isRoot()) assert.doesNotMatch(r.stdout, /--xattr/);
  assert.match(r.stdout, new RegExp(`^\\$ rm -rf ${dir}$`, 'm'));
  assert.deepEqual(leftovers(dir), []);
  assert.equal(existsSync(dir), false, `${dir} is still there`);
});

test('npm start -- --keep: the folder and the FAT image stay, unmounted, with how to mount it again', async () => {
  const r = await run(process.execPath, [DEMO, '--keep'], { timeoutMs: TIMEOUT });
  const dir = demoDir(r.stdout);
  try {
    assertStory(r);
    assert.match(r.stdout, new RegExp(`^Kept ${dir} \\(remove it with: rm -rf ${dir}\\)\\.$`, 'm'));
    assert.doesNotMatch(r.stdout, /^\$ rm -rf/m);
    assert.deepEqual(leftovers(dir), []);
    for (const name of ['signing-key.pem', 'signing-cert.pem', 'boot', 'esp'])
      assert.ok(existsSync(join(dir, name)), `${name} is gone`);
    if (!FAT) return;
    assert.match(r.stdout, new RegExp(`^ {2}fusefat -o rw\\+ ${dir}/esp\\.img ${dir}/esp$`, 'm'));
    assert.match(r.stdout, new RegExp(`^ {2}fusermount -u ${dir}/esp$`, 'm'));
    // The image is complete (fusefat had exited) and holds what the demo wrote; read it without mounting.
    const image = join(dir, 'esp.img');
    assert.ok(existsSync(image));
    assert.equal(spawnSync('fsck.fat', ['-n', image], { encoding: 'utf8' }).status, 0, 'fsck.fat -n found errors');
    if (haveCommand('mdir')) {
      const listing = spawnSync('mdir', ['-b', '-i', image, '::/'], { encoding: 'utf8' });
      assert.equal(listing.status, 0, listing.stderr);
      for (const name of ['vmlinuz', 'vmlinuz.sig', 'initrd.img.sig', 'vmlinuz-next.sig', 'vmlinuz-vendor.sig'])
        assert.match(listing.stdout, new RegExp(`^::/${name.replace(/\./g, '\\.')}$`, 'm'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm start, then SIGINT half-way: the FAT is unmounted, the folder removed, the demo dies of SIGINT', async () => {
  const child = spawn(process.execPath, [DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT);
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal })),
  );
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    // The FAT is mounted and files are on it by the time the signing starts.
    if (!sent && stdout.includes('$ ima-sidecar sign')) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const { status, signal } = await done;
  clearTimeout(timer);
  const dir = demoDir(stdout);
  const what = `status ${status} signal ${signal}\n--- stdout ---\n${stdout}--- stderr ---\n${stderr}`;
  assert.ok(sent, what);
  assert.equal(signal, 'SIGINT', what);
  assert.match(stderr, /demo stopped: interrupted by SIGINT/, what);
  if (FAT) assert.match(stdout, /^\$ fusermount -u esp$/m, what);
  assert.doesNotMatch(stdout, /Everything on the boot partition verifies/, what);
  assert.deepEqual(leftovers(dir), []);
  assert.equal(existsSync(dir), false, `${dir} is still there`);
});

test('npm start as a user: a plain folder, said so in one line, and --xattr user.ima where it matters', async (t) => {
  if (!isRoot()) return t.skip('needs root to run the demo as nobody');
  const r = await runAsNobody(process.execPath, [DEMO]);
  assertStory({ ...r, stdoutBytes: Buffer.from(r.stdout) });
  const dir = demoDir(r.stdout);
  assert.match(r.stdout, /^ima-sidecar demo in \S+ \(not root: user\.ima/m);
  assert.equal(r.stdout.match(/No real FAT here/g)?.length, 1);
  assert.match(r.stdout, /^# No real FAT here \(not root\): esp\/ is a plain folder/m);
  assert.doesNotMatch(r.stdout, /fusefat|mkfs\.fat/);
  for (const command of ['status -r', 'migrate -r', 'verify -r --from xattr', 'export -r'])
    assert.match(r.stdout, new RegExp(`^\\$ ima-sidecar ${command} .*--xattr user\\.ima`, 'm'));
  // Commands that touch no xattr take no --xattr.
  assert.doesNotMatch(r.stdout, /^\$ ima-sidecar (keyid|sign --key \S+ --cert \S+ -r|modsig) .*--xattr/m);
  assert.equal(existsSync(dir), false, `${dir} is still there`);
});
