// A command line the tool does not fully understand does nothing: every command, run on real files with a
// mistyped option, a bad choice, a missing operand, an option given twice or options that do not go together,
// exits 2 with one line and leaves the tree as it was (names, bytes, modes and every extended attribute, as
// getfattr shows them).
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixture, runCli, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const KEY = fixture('keys/rsa2048.key.pem');
const CERT = fixture('keys/rsa2048.crt.pem');

/** Every name under `dir` with its type, mode, size, content hash and all its extended attributes. */
function snapshot(dir: string): string {
  const lines: string[] = [];
  const visit = (p: string): void => {
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'd' : st.isFile() ? 'f' : 'o';
    const hash = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : '';
    const attrs = spawnSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex', p], {
      encoding: 'utf8',
    });
    lines.push(`${p} ${kind} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${hash} ${attrs.stdout.trim()}`);
    if (st.isDirectory()) for (const name of readdirSync(p).sort()) visit(join(p, name));
  };
  visit(dir);
  return lines.join('\n');
}

/** A tree: a signed file (sidecar and user.ima), an unsigned one, an appended-signature copy, an export folder. */
async function tree(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'boot'));
  await mkdir(join(dir, 'dest'));
  await writeFile(join(dir, 'boot', 'vmlinuz'), Buffer.alloc(4096, 7));
  await writeFile(join(dir, 'boot', 'initrd.img'), Buffer.alloc(2048, 9));
  const signed = await runCli([
    'sign',
    '--key',
    KEY,
    '--cert',
    CERT,
    '--to',
    'both',
    '--xattr',
    'user.ima',
    join(dir, 'boot', 'vmlinuz'),
  ]);
  assert.equal(signed.status, 0, show(signed));
  const modsig = await runCli([
    'modsig',
    'sign',
    '--key',
    KEY,
    '--cert',
    CERT,
    '--output',
    join(dir, 'boot', 'module.ko'),
    join(dir, 'boot', 'initrd.img'),
  ]);
  assert.equal(modsig.status, 0, show(modsig));
  return dir;
}

describe('usage errors come before any work', () => {
  test('every command with a bad option, choice, operand or combination exits 2 and changes nothing', async (t) => {
    if (!haveCommand('getfattr')) return skipOrFail(t, 'needs getfattr (Debian attr)');
    const dir = await tree(t);
    const boot = join(dir, 'boot');
    const vmlinuz = join(boot, 'vmlinuz');
    const module = join(boot, 'module.ko');
    const sign = ['sign', '--key', KEY, '--cert', CERT];
    const cases: string[][] = [
      [...sign, '--dry-rn', vmlinuz],
      [...sign, '--to', 'xatr', vmlinuz],
      [...sign, '--hash-algo', 'sha257', vmlinuz],
      [...sign, '-r', '--jobs', '0', boot],
      [...sign, '--to', 'xattr', '--xattr', 'ima', vmlinuz],
      ['verify', '--cert', CERT, '--from', 'sidecr', vmlinuz],
      ['verify', '--cert', CERT, '--dry-rn', vmlinuz],
      ['import', '--xattr', 'user.ima', '--dry-rn', '-r', boot],
      ['import', '--xattr', 'user.ima', '--cert', CERT, '-r', boot],
      ['import', '--xattr', 'user.ima', '-r', '--jobs', 'many', boot],
      ['export', '--xattr', 'user.ima', '--forse', vmlinuz],
      ['export', '--xattr', 'user.ima', '--dest'],
      ['status', '--xattr', 'user.ima', '--jsn', '-r', boot],
      ['clear', '--xattr', 'user.ima', '--sidecar', '--xattrs', vmlinuz],
      ['clear', '--xattr', 'user.ima', '--dry-rn', vmlinuz],
      ['migrate', '--xattr', 'user.ima', '--dry-rn', boot, join(dir, 'dest')],
      ['migrate', '--xattr', 'user.ima', boot],
      ['modsig', 'strip', '--dry-rn', module],
      ['modsig', 'detach', '--foce', module],
      ['modsig', 'sign', '--key', KEY, '--cert', CERT, '--signer-id', 'skd', vmlinuz],
      ['modsig', 'attach', '--cert', CERT, '--in-pace', vmlinuz],
      ['modsig', 'frobnicate', module],
      ['hash', '--to', 'sidecr', vmlinuz],
      ['hash', '--hash-algo', 'sha257', '--to', 'sidecar', vmlinuz],
      ['inspect', '--frm', 'xattr', vmlinuz],
      ['keyid', '--dry-rn', CERT],
      ['sing', vmlinuz],
      // Combinations that make no sense.
      [...sign, '--pass', 'secret', '--pass-file', join(dir, 'pass'), vmlinuz],
      ['modsig', 'sign', '--key', KEY, '--cert', CERT, '-p', 'secret', '--pass-file', join(dir, 'pass'), vmlinuz],
      [...sign, '--pass=', vmlinuz],
      [...sign, '--keyid', '1234abcd', '--keyid-from-cert', CERT, vmlinuz],
      [...sign, '--keyid', 'xyz', vmlinuz],
      [...sign, '--to', 'both', '--xattr-user', '--xattr', 'security.ima', vmlinuz],
      ['import', '--xattr-user', '--xattr', 'trusted.ima', '-r', boot],
      ['clear', '--xattr-user', '--xattr', 'security.ima', vmlinuz],
      [...sign, '-a', 'sha256', '--hashalgo', 'sha512', vmlinuz],
      [...sign, '--key', KEY, vmlinuz],
      [...sign, '--hashalgo', 'md5', vmlinuz],
      [...sign, '--include', '*.efi', vmlinuz],
      ['export', '--xattr', 'user.ima', '--one-file-system', vmlinuz],
      ['hash', '--force', vmlinuz],
      ['verify', '--cert', CERT, '--jobs', '0', '-r', boot],
      ['migrate', '--xattr', 'user.ima', '-r', boot, join(dir, 'dest'), join(dir, 'more')],
      ['migrate', '--xattr', 'user.ima', '--no-verify', '--cert', CERT, '-r', boot, join(dir, 'dest')],
      ['modsig', 'sign', '--key', KEY, vmlinuz],
      ['modsig', 'strip', '-o', join(dir, 'out'), module, vmlinuz],
      ['modsig', 'inspect', '--xattr', 'user.ima', module],
      ['keyid', '--xattr-user', CERT],
      ['inspect', '--xattr', 'user.ima'],
      ['completion', '--json'],
      ['verify', '-ptopsecret', vmlinuz],
    ];
    const before = snapshot(dir);
    for (const args of cases) {
      const r = await runCli(args);
      const what = `ima-sidecar ${args.join(' ')}\n${show(r)}`;
      assert.equal(r.status, 2, what);
      assert.equal(r.stdout, '', what);
      assert.match(r.stderr, /^ima-sidecar: [^\n]+\n$/, what);
      // A password on the command line is never repeated in an error, not even as the letters of short options.
      assert.doesNotMatch(r.stderr, /secret|t, o, p/, what);
      assert.equal(snapshot(dir), before, `${what}\nthe tree changed`);
    }
  });

  test('a mistyped command gets a "did you mean"', async () => {
    const r = await runCli(['verfy', 'x']);
    assert.equal(r.status, 2, show(r));
    assert.match(r.stderr, /Did you mean verify\?/, show(r));
  });
});
