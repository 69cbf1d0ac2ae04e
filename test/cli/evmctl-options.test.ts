// The command line a careful evmctl user expects: evmctl's spellings (--hashalgo, -p/--pass, --keyid-from-cert,
// --xattr-user) mean what they mean there, and give the bytes evmctl gives; the password on the command line is
// warned about once and wins over the environment; `keyid` says what `sign` writes for a certificate without SKID,
// with the same warning; warnings show unless -q, and -v adds only stack traces.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, getfattrHex, jsonOutput, run, runCli, show, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const KEY = fixture('keys/rsa2048.key.pem');
const ENC_KEY = fixture('keys/rsa2048.enc.pem'); // password test-pass
const CERT = fixture('keys/rsa2048.crt.pem');
const NOSKID = fixture('keys/rsa2048-noskid.crt.pem');
const OTHER = fixture('keys/other-rsa2048.crt.pem');
const PASS_WARNING = /^warning: --pass: a password on the command line is visible to other users/;

const lines = (s: string): string[] => s.split('\n').filter(Boolean);

async function fileIn(t: TestContext, content = 'payload'): Promise<{ dir: string; f: string }> {
  const dir = await tempDir(t);
  const f = join(dir, 'f');
  writeFileSync(f, content);
  return { dir, f };
}

const sidecar = (f: string): string => readFileSync(`${f}.sig`).toString('hex');

describe("evmctl's spellings", () => {
  test('--hashalgo and -a are --hash-algo, in sign and hash', async (t) => {
    const { f } = await fileIn(t);
    const values = new Set<string>();
    for (const spelling of [['--hash-algo', 'sha384'], ['--hashalgo', 'sha384'], ['-a', 'sha384'], ['-asha384']]) {
      const r = await runCli(['sign', '-k', KEY, '-c', CERT, ...spelling, f]);
      assert.equal(r.status, 0, show(r));
      assert.match(r.stdout, /v2 sha384 keyid/, show(r));
      values.add(sidecar(f));
    }
    assert.equal(values.size, 1, 'every spelling signs the same bytes');
    const a = await runCli(['hash', '--hashalgo', 'sha512', f]);
    const b = await runCli(['hash', '--hash-algo', 'sha512', f]);
    assert.equal(a.status, 0, show(a));
    assert.equal(a.stdout, b.stdout);
  });

  test('-p/--pass opens an encrypted key in every spelling, with one warning; -q hides it', async (t) => {
    const { f } = await fileIn(t);
    const plain = await runCli(['sign', '-k', KEY, '-c', CERT, f]);
    assert.equal(plain.status, 0, show(plain));
    const expected = sidecar(f);
    for (const spelling of [['--pass', 'test-pass'], ['--pass=test-pass'], ['-p', 'test-pass'], ['-ptest-pass']]) {
      const r = await runCli(['sign', '-k', ENC_KEY, '-c', CERT, ...spelling, f]);
      assert.equal(r.status, 0, `${spelling.join(' ')}: ${show(r)}`);
      const err = lines(r.stderr);
      assert.equal(err.length, 1, `${spelling.join(' ')}: one warning\n${show(r)}`);
      assert.match(err[0]!, PASS_WARNING);
      assert.doesNotMatch(r.stderr, /test-pass/, 'the warning does not repeat the password');
      assert.equal(sidecar(f), expected, `${spelling.join(' ')}: the same signature as with the plain key`);
    }
    const q = await runCli(['sign', '-q', '-k', ENC_KEY, '-c', CERT, '-p', 'test-pass', f]);
    assert.equal(q.status, 0, show(q));
    assert.equal(q.stderr, '');
    const m = await runCli(['modsig', 'sign', '-k', ENC_KEY, '-c', CERT, '--pass=test-pass', '-o', `${f}.ko`, f]);
    assert.equal(m.status, 0, show(m));
    assert.match(lines(m.stderr)[0]!, PASS_WARNING);
  });

  test('the password given on the command line wins over the environment, either way round', async (t) => {
    const { dir, f } = await fileIn(t);
    const right = await runCli(['sign', '-k', ENC_KEY, '-c', CERT, '-p', 'test-pass', f], {
      env: { IMA_SIDECAR_KEY_PASSWORD: 'wrong', EVMCTL_KEY_PASSWORD: 'wrong' },
    });
    assert.equal(right.status, 0, show(right));
    const wrong = await runCli(['sign', '-k', ENC_KEY, '-c', CERT, '--pass', 'wrong', f], {
      env: { IMA_SIDECAR_KEY_PASSWORD: 'test-pass' },
    });
    assert.equal(wrong.status, 2, show(wrong));
    assert.match(wrong.stderr, /rsa2048\.enc\.pem: wrong password for the encrypted key/);
    // --pass-file likewise, and the environment keeps its own order when no option is given.
    writeFileSync(join(dir, 'pass'), 'test-pass\n');
    const file = await runCli(['sign', '-k', ENC_KEY, '-c', CERT, '--pass-file', join(dir, 'pass'), f], {
      env: { IMA_SIDECAR_KEY_PASSWORD: 'wrong' },
    });
    assert.equal(file.status, 0, show(file));
    assert.equal(file.stderr, '', 'no warning for --pass-file');
    const env = await runCli(['sign', '-k', ENC_KEY, '-c', CERT, f], {
      env: { IMA_SIDECAR_KEY_PASSWORD: 'test-pass', EVMCTL_KEY_PASSWORD: 'wrong' },
    });
    assert.equal(env.status, 0, show(env));
  });

  test('--keyid-from-cert writes the certificate keyid without checking it against the key', async (t) => {
    const { f } = await fileIn(t);
    const ids = JSON.parse(lines((await runCli(['keyid', '--json', OTHER, NOSKID])).stdout)[0]!) as { keyid: string };
    const r = await runCli(['sign', '-k', KEY, '--keyid-from-cert', OTHER, f]);
    assert.equal(r.status, 0, show(r));
    assert.equal(r.stderr, '', 'no warning: the certificate gives the keyid');
    assert.equal(sidecar(f).slice(6, 14), ids.keyid);
    // With --cert too: the key must match --cert, the keyid is --keyid-from-cert's.
    const both = await runCli(['sign', '-k', KEY, '-c', CERT, '--keyid-from-cert', OTHER, f]);
    assert.equal(both.status, 0, show(both));
    assert.equal(sidecar(f).slice(6, 14), ids.keyid);
    // Without a SKID: the keyid --cert would give, with the same warning.
    const viaCert = await runCli(['sign', '-k', KEY, '-c', NOSKID, f]);
    const viaFrom = await runCli(['sign', '-k', KEY, '--keyid-from-cert', NOSKID, f]);
    assert.equal(viaFrom.status, 0, show(viaFrom));
    assert.equal(viaFrom.stderr, viaCert.stderr);
    assert.equal(sidecar(f).slice(6, 14), '308baedd');
    const bundle = await runCli(['sign', '-k', KEY, '--keyid-from-cert', fixture('keys/bundle.pem'), f]);
    assert.equal(bundle.status, 2, show(bundle));
    assert.match(bundle.stderr, /bundle\.pem: --keyid-from-cert takes one certificate/);
  });

  test('the same bytes as evmctl for --pass, --hashalgo, --keyid-from-cert and --xattr-user', async (t) => {
    if (!haveCommand('evmctl') || !haveCommand('getfattr') || !haveCommand('setfattr'))
      return skipOrFail(t, 'needs evmctl, getfattr and setfattr');
    const { dir, f } = await fileIn(t, 'the same content for both');
    const probe = await run('setfattr', ['-n', 'user.probe', '-v', '1', f]);
    if (probe.status !== 0) return skipOrFail(t, `the temp directory takes no user xattrs: ${probe.stderr.trim()}`);
    const common = ['--pass=test-pass', '--hashalgo', 'sha256', '--keyid-from-cert'];
    const ev = await run('evmctl', [
      'ima_sign',
      '-n',
      '--sigfile',
      '--key',
      ENC_KEY,
      ...common,
      `${OTHER.slice(0, -4)}.der`,
      f,
    ]);
    assert.equal(ev.status, 0, show(ev));
    const theirs = sidecar(f);
    const ours = await runCli(['sign', '-k', ENC_KEY, ...common, OTHER, '--suffix', '.ours', f]);
    assert.equal(ours.status, 0, show(ours));
    assert.equal(readFileSync(`${f}.ours`).toString('hex'), theirs);
    const g = join(dir, 'g');
    writeFileSync(g, 'the same content for both');
    const evx = await run('evmctl', ['ima_sign', '--xattr-user', '--key', KEY, '-a', 'sha256', g]);
    assert.equal(evx.status, 0, show(evx));
    const theirsX = getfattrHex(g, 'user.ima');
    const ourX = await runCli(['sign', '--xattr-user', '--to', 'xattr', '-k', KEY, f]);
    assert.equal(ourX.status, 0, show(ourX));
    assert.equal(getfattrHex(f, 'user.ima'), theirsX);
    assert.equal(getfattrHex(f, 'security.ima'), undefined);
  });
});

describe('keyid says what sign writes', () => {
  test('without SKID: the keyid sign writes, the one the kernel matches, and the same warning', async (t) => {
    const { f } = await fileIn(t);
    const k = await runCli(['keyid', NOSKID]);
    assert.equal(k.status, 0, show(k));
    assert.match(k.stdout, /: 308baedd \(computed \(sha1 of the public key\); the kernel matches [0-9a-f]{8}\) /);
    const kernel = /the kernel matches ([0-9a-f]{8})/.exec(k.stdout)![1]!;
    const s = await runCli(['sign', '-k', KEY, '-c', NOSKID, f]);
    assert.equal(s.status, 0, show(s));
    assert.equal(sidecar(f).slice(6, 14), '308baedd', 'sign writes the keyid keyid printed');
    assert.equal(k.stderr, s.stderr, 'keyid warns as sign does');
    assert.match(s.stderr, new RegExp(`give --keyid ${kernel} to sign for the kernel`));
    const json = jsonOutput((await runCli(['keyid', '--json', NOSKID, CERT])).stdout).records;
    assert.equal(json[0]!.keyid, '308baedd');
    assert.equal(json[0]!.kernelKeyid, kernel);
    assert.equal(json[1]!.kernelKeyid, json[1]!.keyid, 'with a SKID the kernel matches the keyid sign writes');
    const withSkid = await runCli(['keyid', CERT]);
    assert.doesNotMatch(withSkid.stdout, /kernel matches/);
    assert.equal(withSkid.stderr, '');
  });
});

describe('warnings, -q and -v', () => {
  test('a per-file warning shows without -v; -q hides it; -v adds a stack trace to an error only', async (t) => {
    const { f } = await fileIn(t);
    const s = await runCli(['sign', '-k', KEY, '-c', CERT, '--sigv3', f]);
    assert.equal(s.status, 0, show(s));
    const v = await runCli(['verify', '-c', CERT, f]);
    assert.equal(v.status, 0, show(v));
    assert.match(v.stderr, /f: warning: a 0x03 version 3 signature needs kernel 7\.1 or later/);
    const q = await runCli(['verify', '-q', '-c', CERT, f]);
    assert.equal(q.status, 0, show(q));
    assert.equal(q.stderr + q.stdout, '');
    const verbose = await runCli(['verify', '-v', '-c', CERT, f]);
    assert.equal(verbose.stderr, v.stderr, '-v adds nothing to a run without errors');
    const err = await runCli(['verify', '-v', '-c', join(f, 'nope.pem'), f]);
    assert.equal(err.status, 2, show(err));
    assert.match(err.stderr, /^\s+at /m, 'a stack trace with -v');
  });

  test('a reason quoting the modsig marker prints one backslash, not two', async (t) => {
    const { f } = await fileIn(t);
    for (const args of [
      ['modsig', 'inspect', f],
      ['modsig', 'verify', '-c', CERT, f],
      ['modsig', 'detach', '-c', CERT, f],
    ]) {
      const r = await runCli(args);
      assert.match(r.stderr, /does not end with "~Module signature appended~" and a newline/, show(r));
      assert.doesNotMatch(r.stderr + r.stdout, /\\\\/, show(r));
    }
  });
});
