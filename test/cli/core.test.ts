// The real command line, bin/ima-sidecar, for sign / verify / hash / inspect / keyid: happy paths, --json
// records and the final summary, exit codes 0/1/2, one-line errors that name the file and the reason and
// never show a stack trace, --help, --version and `completion`. Keys and certificates are the committed
// fixtures (test/fixtures/keys), their keyids read from test/fixtures/manifest.json.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  fixture,
  jsonOutput,
  loadManifest,
  type Manifest,
  ROOT,
  run,
  runCli,
  type RunResult,
  show,
  tempDir,
} from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

let manifest: Manifest | undefined;
const keyid: Record<string, string> = {};
const KEY = (name: string) => fixture(`keys/${name}`);

before(() => {
  manifest = loadManifest();
  for (const f of manifest?.files ?? [])
    if (f.kind === 'cert' && f.keyid) keyid[f.file.replace(/^keys\//, '')] = f.keyid;
});

function needFixtures(t: TestContext): boolean {
  if (!manifest || !existsSync(KEY('rsa2048.key.pem'))) {
    skipOrFail(t, 'the golden fixtures (test/fixtures/manifest.json, keys/) are missing');
    return false;
  }
  return true;
}

/** A temp dir holding a copy of small.bin (1000 bytes) as "file.bin". */
async function workdir(t: TestContext): Promise<string> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'file.bin'), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251)));
  return dir;
}

const STACK = /^\s+at |\bError: |node:internal|\.js:\d+:\d+/m;

/** The run failed with `status` and exactly one line on stderr that names `file` and matches `reason`; nothing else. */
function oneLineError(r: RunResult, status: number, file: string, reason: RegExp): void {
  assert.equal(r.status, status, show(r));
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr:\n${show(r)}`);
  assert.ok(lines[0]!.includes(file), `stderr does not name ${file}:\n${show(r)}`);
  assert.match(lines[0]!, reason, show(r));
  assert.doesNotMatch(r.stderr, STACK, `stack trace on stderr:\n${show(r)}`);
  assert.equal(r.stdout, '', `stdout should be empty:\n${show(r)}`);
}

const signRsa = ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048.crt.pem')];

describe('help, version, completion', () => {
  test('--help lists every core command and the exit codes; exit 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.status, 0, show(r));
    for (const c of ['sign', 'verify', 'hash', 'inspect', 'keyid', 'completion'])
      assert.match(r.stdout, new RegExp(`ima-sidecar ${c}\\b`), c);
    assert.match(r.stdout, /Exit status: 0 all good, 1 some file failed, 2 usage or configuration error/);
    assert.equal(r.stderr, '');
  });

  test('each command has --help naming its own options', async () => {
    const expect: Record<string, string[]> = {
      sign: [
        '--key',
        '--cert',
        '--keyid',
        '--hash-algo',
        '--sigv3',
        '--to',
        '--pass-file',
        '--dry-run',
        '--recursive',
        '--include',
        '--exclude',
        '--json',
      ],
      verify: ['--cert', '--from', '--recursive', '--json'],
      hash: ['--hash-algo', '--to', '--recursive', '--json'],
      inspect: ['--xattr-of', '--hex', '--json'],
      keyid: ['certs', '--json'],
    };
    const runs = await Promise.all(Object.keys(expect).map((c) => runCli([c, '--help'])));
    for (const [i, [c, opts]] of Object.entries(expect).entries()) {
      const r = runs[i]!;
      assert.equal(r.status, 0, `${c}: ${show(r)}`);
      assert.match(r.stdout, new RegExp(`^ima-sidecar ${c}`), c);
      for (const o of opts) assert.ok(r.stdout.includes(o), `${c} --help lacks ${o}`);
    }
  });

  test('--version prints the package.json version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.status, 0);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(r.stdout.trim(), version);
  });

  test('`completion` prints a bash script that bash accepts and that registers ima-sidecar', async (t) => {
    const r = await runCli(['completion']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /complete .*ima-sidecar/);
    if (!haveCommand('bash')) return skipOrFail(t, 'needs bash');
    const b = await run('bash', ['-c', 'eval "$(cat)" && complete -p ima-sidecar'], { input: r.stdout });
    assert.equal(b.status, 0, show(b));
    assert.match(b.stdout, /ima-sidecar/);
  });

  test('an unknown command or option is a usage error: exit 2, no stack', async () => {
    for (const args of [['frobnicate'], ['sign', '--no-such-option', 'x'], []]) {
      const r = await runCli(args);
      assert.equal(r.status, 2, show(r));
      assert.match(r.stderr, /^ima-sidecar: /);
      assert.doesNotMatch(r.stderr, STACK);
    }
  });
});

describe('happy paths', () => {
  test('sign (RSA, sidecar), verify, hash, inspect, keyid: exit 0 and the expected lines', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    const s = await runCli([...signRsa, 'file.bin'], { cwd: dir });
    assert.equal(s.status, 0, show(s));
    assert.equal(s.stdout, `file.bin: signed (v2 sha256 keyid ${keyid['rsa2048.crt.pem']}, into sidecar)\n`);
    assert.equal(s.stderr, '');
    const sidecar = await readFile(join(dir, 'file.bin.sig'));
    assert.equal(sidecar.length, 265);
    assert.equal(sidecar.subarray(0, 9).toString('hex'), `030204${keyid['rsa2048.crt.pem']}0100`);

    const v = await runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), 'file.bin'], { cwd: dir });
    assert.equal(v.status, 0, show(v));
    assert.match(v.stdout, /^file\.bin: ok \(v2 sha256 keyid [0-9a-f]{8}, from sidecar\)\n$/);

    const h = await runCli(['hash', 'file.bin'], { cwd: dir });
    assert.equal(h.status, 0, show(h));
    const digest = createHash('sha256')
      .update(await readFile(join(dir, 'file.bin')))
      .digest('hex');
    assert.equal(h.stdout, `0404${digest}  file.bin\n`);

    const i = await runCli(['inspect', 'file.bin.sig'], { cwd: dir });
    assert.equal(i.status, 0, show(i));
    assert.match(i.stdout, /^file\.bin\.sig: valid, 265 bytes\n/);
    assert.match(i.stdout, /hashAlgo: sha256/);
    assert.match(i.stdout, new RegExp(`keyid: ${keyid['rsa2048.crt.pem']}`));

    const k = await runCli(['keyid', KEY('rsa2048.crt.pem')]);
    assert.equal(k.status, 0, show(k));
    assert.ok(
      k.stdout.startsWith(`${KEY('rsa2048.crt.pem')}: ${keyid['rsa2048.crt.pem']} (subjectKeyIdentifier)`),
      show(k),
    );
  });

  test('ECDSA P-384 with sha384, and a v3 signature, sign and verify', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    await copyFile(join(dir, 'file.bin'), join(dir, 'v3.bin'));
    const s = await runCli(
      ['sign', '--key', KEY('p384.key.pem'), '--cert', KEY('p384.crt.pem'), '-a', 'sha384', 'file.bin'],
      { cwd: dir },
    );
    assert.equal(s.status, 0, show(s));
    const s3 = await runCli(
      ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048.crt.pem'), '--sigv3', 'v3.bin'],
      { cwd: dir },
    );
    assert.equal(s3.status, 0, show(s3));
    assert.deepEqual([...(await readFile(join(dir, 'v3.bin.sig'))).subarray(0, 3)], [3, 3, 4]);
    const v = await runCli(
      ['verify', '--json', '--cert', KEY('p384.crt.pem'), '--cert', KEY('rsa2048.crt.pem'), 'file.bin', 'v3.bin'],
      { cwd: dir },
    );
    assert.equal(v.status, 0, show(v));
    const { records } = jsonOutput(v.stdout);
    assert.deepEqual(
      records.map((r) => [r.path, r.status, r.hashAlgo, r.version]),
      [
        ['file.bin', 'ok', 'sha384', 2],
        ['v3.bin', 'ok', 'sha256', 3],
      ],
    );
  });

  test(
    'keys in every supported form sign the same RSA bytes; passwords ' +
      'from IMA_SIDECAR_KEY_PASSWORD, EVMCTL_KEY_PASSWORD and --pass-file',
    async (t) => {
      if (!needFixtures(t)) return;
      const dir = await workdir(t);
      const passFile = join(dir, 'pass');
      await writeFile(passFile, 'test-pass\n');
      const variants: [string, string[], Record<string, string>][] = [
        ['pkcs8-pem', ['--key', KEY('rsa2048.key.pem')], {}],
        ['pkcs1-pem', ['--key', KEY('rsa2048.pkcs1.pem')], {}],
        ['pkcs8-der', ['--key', KEY('rsa2048.key.der')], {}],
        ['env', ['--key', KEY('rsa2048.enc.pem')], { IMA_SIDECAR_KEY_PASSWORD: 'test-pass' }],
        ['evmctl-env', ['--key', KEY('rsa2048.enc.pem')], { EVMCTL_KEY_PASSWORD: 'test-pass' }],
        [
          'pass-file',
          ['--key', KEY('rsa2048.enc.pem'), '--pass-file', passFile],
          { IMA_SIDECAR_KEY_PASSWORD: 'wrong' },
        ],
      ];
      const values = new Set<string>();
      for (const [name, args, env] of variants) {
        const r = await runCli(
          ['sign', ...args, '--cert', KEY('rsa2048.crt.pem'), '--suffix', `.${name}`, 'file.bin'],
          {
            cwd: dir,
            env,
          },
        );
        assert.equal(r.status, 0, `${name}: ${show(r)}`);
        values.add((await readFile(join(dir, `file.bin.${name}`))).toString('hex'));
      }
      assert.equal(values.size, 1, 'every key form must give the same bytes');
    },
  );

  test('--keyid overrides the certificate; without --cert the computed keyid comes with a warning', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    const r = await runCli([...signRsa, '--keyid', '0xDEADBEEF', '--suffix', '.k', 'file.bin'], { cwd: dir });
    assert.equal(r.status, 0, show(r));
    assert.equal((await readFile(join(dir, 'file.bin.k'))).subarray(3, 7).toString('hex'), 'deadbeef');
    const w = await runCli(['sign', '--key', KEY('rsa2048.key.pem'), 'file.bin'], { cwd: dir });
    assert.equal(w.status, 0, show(w));
    assert.match(w.stderr, /^warning: .*no --cert given: keyid [0-9a-f]{8} computed from the public key/);
    const noskid = await runCli(
      ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', KEY('rsa2048-noskid.crt.pem'), '--suffix', '.n', 'file.bin'],
      { cwd: dir },
    );
    assert.equal(noskid.status, 0, show(noskid));
    assert.match(noskid.stderr, /warning: .*rsa2048-noskid\.crt\.pem: certificate has no subjectKeyIdentifier/);
  });

  test('--dry-run writes nothing; --quiet prints nothing when all is well', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    const d = await runCli([...signRsa, '--dry-run', 'file.bin'], { cwd: dir });
    assert.equal(d.status, 0, show(d));
    assert.match(d.stdout, /file\.bin: would-sign/);
    assert.equal(existsSync(join(dir, 'file.bin.sig')), false);
    const q = await runCli([...signRsa, '--quiet', 'file.bin'], { cwd: dir });
    assert.equal(q.status, 0, show(q));
    assert.equal(q.stdout + q.stderr, '');
  });

  test(
    'a directory with -r: byte-ordered paths joined to ' + 'the argument as given; names with spaces and newlines',
    async (t) => {
      if (!needFixtures(t)) return;
      const dir = await tempDir(t);
      const tree = join(dir, 'tree');
      for (const rel of ['b', 'a b', 'new\nline', 'sub/z', 'sub/A', 'Z']) {
        await mkdir(join(tree, rel, '..'), { recursive: true });
        await writeFile(join(tree, rel), rel);
      }
      const s = await runCli([...signRsa, '-r', '--json', 'tree/'], { cwd: dir });
      assert.equal(s.status, 0, show(s));
      const { records, summary } = jsonOutput(s.stdout);
      assert.deepEqual(
        records.map((r) => r.path),
        ['tree/Z', 'tree/a b', 'tree/b', 'tree/new\nline', 'tree/sub/A', 'tree/sub/z'],
      );
      assert.ok(records.every((r) => r.status === 'signed'));
      assert.equal(summary.total, 6);
      assert.equal(summary.signed, 6);
      assert.equal(summary.failed, 0);
      assert.ok(existsSync(join(tree, 'new\nline.sig')));
      // People's output escapes the newline so that each file stays on one line.
      const v = await runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), '-r', 'tree'], { cwd: dir });
      assert.equal(v.status, 0, show(v));
      const lines = v.stdout.split('\n').filter(Boolean);
      assert.equal(lines.length, 6, show(v));
      assert.ok(
        lines.some((l) => l.startsWith('tree/new\\x0aline: ok')),
        show(v),
      );
      // X.sig given by name means X.
      const one = await runCli(['verify', '--json', '--cert', KEY('rsa2048.crt.pem'), 'tree/a b.sig'], { cwd: dir });
      assert.equal(one.status, 0, show(one));
      assert.equal(jsonOutput(one.stdout).records[0]!.path, 'tree/a b');
    },
  );
});

describe('--json', () => {
  test(
    'sign, verify, hash, inspect and keyid records carry path, ' +
      'status, value, type, version, hashAlgo, keyid; then a summary',
    async (t) => {
      if (!needFixtures(t)) return;
      const dir = await workdir(t);
      const kid = keyid['p256.crt.pem']!;
      const s = await runCli(
        ['sign', '--json', '--key', KEY('p256.key.pem'), '--cert', KEY('p256.crt.pem'), 'file.bin'],
        { cwd: dir },
      );
      assert.equal(s.status, 0, show(s));
      const sign = jsonOutput(s.stdout);
      const sidecar = (await readFile(join(dir, 'file.bin.sig'))).toString('hex');
      assert.deepEqual(
        {
          path: sign.records[0]!.path,
          status: sign.records[0]!.status,
          value: sign.records[0]!.value,
          type: sign.records[0]!.type,
          version: sign.records[0]!.version,
          hashAlgo: sign.records[0]!.hashAlgo,
          keyid: sign.records[0]!.keyid,
        },
        {
          path: 'file.bin',
          status: 'signed',
          value: sidecar,
          type: '0x03',
          version: 2,
          hashAlgo: 'sha256',
          keyid: kid,
        },
      );
      assert.equal(sign.records.length, 1);
      assert.equal(sign.summary.total, 1);
      assert.equal(sign.summary.failed, 0);
      assert.equal(sign.summary.signed, 1);
      assert.equal(s.stderr, '');

      const v = jsonOutput(
        (await runCli(['verify', '--json', '--cert', KEY('p256.crt.pem'), 'file.bin'], { cwd: dir })).stdout,
      );
      assert.deepEqual(
        [
          v.records[0]!.path,
          v.records[0]!.status,
          v.records[0]!.value,
          v.records[0]!.type,
          v.records[0]!.version,
          v.records[0]!.hashAlgo,
          v.records[0]!.keyid,
        ],
        ['file.bin', 'ok', sidecar, '0x03', 2, 'sha256', kid],
      );
      assert.equal(v.records[0]!.reason, undefined);
      assert.deepEqual([v.summary.ok, v.summary.total, v.summary.failed], [1, 1, 0]);

      const h = jsonOutput((await runCli(['hash', '--json', '-a', 'sha512', 'file.bin'], { cwd: dir })).stdout);
      const digest = createHash('sha512')
        .update(await readFile(join(dir, 'file.bin')))
        .digest('hex');
      assert.deepEqual(
        [h.records[0]!.path, h.records[0]!.value, h.records[0]!.type, h.records[0]!.hashAlgo],
        ['file.bin', `0406${digest}`, '0x04', 'sha512'],
      );
      assert.equal(h.summary.total, 1);

      const i = jsonOutput(
        (await runCli(['inspect', '--json', 'file.bin.sig', '--hex', '01' + '00'.repeat(19) + '01'], { cwd: dir }))
          .stdout,
      );
      assert.deepEqual(
        i.records.map((r) => [r.path, r.status, r.type, r.hashAlgo]),
        [
          ['file.bin.sig', 'valid', '0x03', 'sha256'],
          ['(hex)', 'valid', '0x01', 'sha1'],
        ],
      );
      assert.equal(i.records[0]!.keyid, kid);
      assert.equal(i.records[0]!.value, sidecar);

      const k = jsonOutput((await runCli(['keyid', '--json', KEY('bundle.pem')])).stdout);
      const bundle = manifest!.files.find((f) => f.kind === 'bundle')!;
      assert.deepEqual(
        k.records.map((r) => r.keyid),
        bundle.keyids,
      );
      assert.deepEqual(
        k.records.map((r) => r.path),
        bundle.keyids!.map((_, n) => `${KEY('bundle.pem')}#${n + 1}`),
      );
      assert.equal(k.summary.total, bundle.keyids!.length);
    },
  );

  test('failures: status and reason per file, counts in the summary, exit 1', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    for (const n of ['changed.bin', 'wrongkey.bin', 'malformed.bin', 'good.bin', 'unsigned.bin'])
      await copyFile(join(dir, 'file.bin'), join(dir, n));
    const s = await runCli([...signRsa, 'changed.bin', 'wrongkey.bin', 'good.bin'], { cwd: dir });
    assert.equal(s.status, 0, show(s));
    await writeFile(join(dir, 'changed.bin'), 'changed after signing');
    const other = await runCli(
      ['sign', '--key', KEY('other-rsa2048.key.pem'), '--cert', KEY('other-rsa2048.crt.pem'), 'wrongkey.bin'],
      { cwd: dir },
    );
    assert.equal(other.status, 0, show(other));
    const good = await readFile(join(dir, 'good.bin.sig'));
    await writeFile(join(dir, 'malformed.bin.sig'), good.subarray(0, 100));
    await writeFile(join(dir, 'orphan.bin.sig'), good);
    const v = await runCli(['verify', '--json', '--cert', KEY('rsa2048.crt.pem'), '-r', '.'], { cwd: dir });
    assert.equal(v.status, 1, show(v));
    const { records, summary } = jsonOutput(v.stdout);
    const by = Object.fromEntries(records.map((r) => [r.path, r]));
    assert.deepEqual(Object.keys(by), [
      './changed.bin',
      './file.bin',
      './good.bin',
      './malformed.bin',
      './orphan.bin',
      './unsigned.bin',
      './wrongkey.bin',
    ]);
    assert.equal(by['./good.bin']!.status, 'ok');
    assert.equal(by['./changed.bin']!.status, 'failed');
    assert.match(String(by['./changed.bin']!.reason), /digest mismatch/);
    assert.equal(by['./changed.bin']!.keyid, keyid['rsa2048.crt.pem']);
    assert.equal(by['./changed.bin']!.value, (await readFile(join(dir, 'changed.bin.sig'))).toString('hex'));
    assert.equal(by['./wrongkey.bin']!.status, 'failed');
    assert.match(String(by['./wrongkey.bin']!.reason), new RegExp(`unknown keyid ${keyid['other-rsa2048.crt.pem']}`));
    assert.equal(by['./malformed.bin']!.status, 'failed');
    assert.match(String(by['./malformed.bin']!.reason), /truncated: header says 256 signature bytes, value holds 91/);
    assert.equal(by['./orphan.bin']!.status, 'orphan');
    assert.match(String(by['./orphan.bin']!.reason), /orphan\.bin\.sig has no file beside it/);
    assert.equal(by['./unsigned.bin']!.status, 'failed');
    assert.match(String(by['./unsigned.bin']!.reason), /no signature/);
    assert.equal(by['./file.bin']!.status, 'failed');
    assert.equal(summary.total, 7);
    assert.equal(summary.failed, 5, 'an orphan sidecar found in a walk is reported, not a failure');
    assert.equal(summary.ok, 1);
    assert.equal(summary.orphan, 1);
    // Without --json, failures go to stderr, one line each, naming the file and the reason.
    const p = await runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), 'changed.bin', 'malformed.bin'], { cwd: dir });
    assert.equal(p.status, 1);
    const lines = p.stderr.split('\n').filter(Boolean);
    assert.match(lines[0]!, /^changed\.bin: failed: digest mismatch/);
    assert.match(lines[1]!, /^malformed\.bin: failed: malformed value: truncated/);
    assert.doesNotMatch(p.stderr, STACK);
  });

  test('per-file problems are records too: missing file, directory without -r, symlink', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    await mkdir(join(dir, 'd'));
    await symlink('file.bin', join(dir, 'link'));
    const r = await runCli([...signRsa, '--json', 'file.bin', 'missing.bin', 'd', 'link'], { cwd: dir });
    assert.equal(r.status, 1, show(r));
    const { records, summary } = jsonOutput(r.stdout);
    assert.deepEqual(
      records.map((x) => [x.path, x.status]),
      [
        ['file.bin', 'signed'],
        ['missing.bin', 'skipped'],
        ['d', 'skipped'],
        ['link', 'skipped'],
      ],
    );
    assert.match(String(records[1]!.reason), /no such file or directory/);
    assert.match(String(records[2]!.reason), /is a directory/);
    assert.match(String(records[3]!.reason), /symbolic link/);
    assert.deepEqual([summary.total, summary.failed], [4, 3]);
  });
});

describe('verify of digest values', () => {
  test('verify of a hash value (what `hash --to sidecar` writes) needs no certificate', async (t) => {
    const dir = await workdir(t);
    const h = await runCli(['hash', '--to', 'sidecar', 'file.bin'], { cwd: dir });
    assert.equal(h.status, 0, show(h));
    const v = await runCli(['verify', 'file.bin'], { cwd: dir });
    assert.equal(v.status, 0, show(v));
    assert.match(v.stdout, /^file\.bin: ok \(sha256 digest, from sidecar\)/);
  });
});

describe('certificates without SKID', () => {
  test(
    'a value signed with the keyid the kernel matches for a ' +
      'no-SKID certificate (tail of serial || issuer) verifies',
    async (t) => {
      if (!needFixtures(t)) return;
      const cert = manifest!.files.find((f) => f.file === 'keys/rsa2048-noskid.crt.pem');
      if (!cert?.subject) return t.skip('no rsa2048-noskid certificate in the manifest');
      // The issuer (= subject, self-signed) is encoded O then CN, so its DER ends with the CN value.
      const cn = /CN=([^,]+)/.exec(cert.subject)![1]!;
      const issuerKeyid = Buffer.from(cn.slice(-4)).toString('hex');
      const dir = await workdir(t);
      const s = await runCli(
        [
          'sign',
          '--key',
          KEY('rsa2048.key.pem'),
          '--cert',
          KEY('rsa2048-noskid.crt.pem'),
          '--keyid',
          issuerKeyid,
          'file.bin',
        ],
        { cwd: dir },
      );
      assert.equal(s.status, 0, show(s));
      const v = await runCli(['verify', '--cert', KEY('rsa2048-noskid.crt.pem'), 'file.bin'], { cwd: dir });
      assert.equal(v.status, 0, show(v));
    },
  );
});

describe('hash over trees with things that are not targets', () => {
  test(
    'hash -r with a symlink and an orphan sidecar in the ' + 'tree prints the digests and reports both, no crash',
    async (t) => {
      const dir = await workdir(t);
      await symlink('file.bin', join(dir, 'link.bin'));
      await writeFile(join(dir, 'gone.bin.sig'), 'x');
      const r = await runCli(['hash', '-r', '.'], { cwd: dir });
      assert.doesNotMatch(r.stderr, /internal error/, show(r));
      assert.equal(r.status, 0, show(r));
      const digest = createHash('sha256')
        .update(await readFile(join(dir, 'file.bin')))
        .digest('hex');
      assert.match(r.stdout, new RegExp(`^0404${digest}  \\./file\\.bin$`, 'm'));
      assert.match(r.stdout + r.stderr, /link\.bin.*symbolic link/);
      assert.match(r.stdout + r.stderr, /gone\.bin.*orphan|orphan.*gone\.bin/);
      // Given by name, X.sig without X is reported, not a crash.
      const o = await runCli(['hash', 'gone.bin.sig'], { cwd: dir });
      assert.doesNotMatch(o.stderr, /internal error/, show(o));
    },
  );
});

describe('exit codes and one-line errors', () => {
  test('configuration errors: exit 2, one line naming the file and the reason, no stack trace', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    await writeFile(join(dir, 'garbage.pem'), 'this is not a key\n');
    const cases: [string, string[], string, RegExp, Record<string, string>?][] = [
      [
        'missing key',
        ['sign', '--key', 'nokey.pem', 'file.bin'],
        'nokey.pem',
        /cannot read private key: no such file or directory/,
      ],
      ['garbage key', ['sign', '--key', 'garbage.pem', 'file.bin'], 'garbage.pem', /not a private key/],
      [
        'encrypted key, no password',
        ['sign', '--key', KEY('rsa2048.enc.pem'), 'file.bin'],
        'rsa2048.enc.pem',
        /encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file/,
      ],
      [
        'wrong password',
        ['sign', '--key', KEY('rsa2048.enc.pem'), 'file.bin'],
        'rsa2048.enc.pem',
        /wrong password/,
        { IMA_SIDECAR_KEY_PASSWORD: 'nope' },
      ],
      [
        'missing --pass-file',
        ['sign', '--key', KEY('rsa2048.enc.pem'), '--pass-file', 'nopass', 'file.bin'],
        'nopass',
        /cannot read password file/,
      ],
      [
        'missing cert (sign)',
        ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', 'nocert.pem', 'file.bin'],
        'nocert.pem',
        /cannot read certificate: no such file or directory/,
      ],
      [
        'missing cert (verify)',
        ['verify', '--cert', 'nocert.der', 'file.bin'],
        'nocert.der',
        /cannot read certificate: no such file or directory/,
      ],
      [
        'garbage cert',
        ['verify', '--cert', 'garbage.pem', 'file.bin'],
        'garbage.pem',
        /no PEM certificate|not an X\.509 certificate/,
      ],
      [
        'cert/key mismatch',
        ['sign', '--key', KEY('rsa2048.key.pem'), '--cert', KEY('p256.crt.pem'), 'file.bin'],
        'p256.crt.pem',
        /does not match the private key/,
      ],
      [
        'Ed25519 key',
        ['sign', '--key', KEY('ed25519.key.pem'), 'file.bin'],
        'ed25519.key.pem',
        /ed25519 keys are not supported/,
      ],
    ];
    const results = await Promise.all(cases.map(([, args, , , env]) => runCli(args, { cwd: dir, env })));
    for (const [n, [name, , file, reason]] of cases.entries()) {
      await t.test(name, () => oneLineError(results[n]!, 2, file, reason));
    }
    assert.equal(existsSync(join(dir, 'file.bin.sig')), false, 'a configuration error must write nothing');
  });

  test('usage errors without a file: exit 2, one line', async (t) => {
    if (!needFixtures(t)) return;
    const cases: [string[], RegExp][] = [
      [['sign', '--key', KEY('rsa2048.key.pem')], /Not enough non-option arguments: got 0, need at least 1/],
      [['sign', '-a', 'md5', 'x'], /md5 is too weak/],
      [['sign', '-a', 'nosuch', 'x'], /unknown hash algorithm "nosuch"/],
      [['hash', '-a', 'streebog256', 'x'], /streebog256 is not available/],
      [['sign', '--key', KEY('rsa2048.key.pem'), '--keyid', 'xyz', 'x'], /--keyid must be up to 8 hex digits/],
      [['inspect'], /nothing to inspect/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    for (const [n, [args, reason]] of cases.entries()) {
      const r = results[n]!;
      assert.equal(r.status, 2, `${args.join(' ')}: ${show(r)}`);
      const lines = r.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, show(r));
      assert.match(lines[0]!, reason, show(r));
      assert.doesNotMatch(r.stderr, STACK, show(r));
    }
  });

  test('per-file errors: exit 1, one line per file naming it and the reason, the others still done', async (t) => {
    if (!needFixtures(t)) return;
    const dir = await workdir(t);
    await mkdir(join(dir, 'adir'));
    await copyFile(join(dir, 'file.bin'), join(dir, 'ok.bin'));
    await symlink('file.bin', join(dir, 'link.bin'));
    await symlink('nowhere', join(dir, 'dangling.bin'));
    const bad: [string, RegExp][] = [
      ['missing.bin', /no such file or directory/],
      ['adir', /is a directory \(use -r to descend\)/],
      ['link.bin', /symbolic link; not followed/],
      ['dangling.bin', /symbolic link; not followed/],
    ];
    const paths = bad.map(([p]) => p);
    const [sign, hash] = await Promise.all([
      runCli([...signRsa, 'ok.bin', ...paths], { cwd: dir }),
      runCli(['hash', 'ok.bin', ...paths], { cwd: dir }),
    ]);
    const [verify, inspect, keyid] = await Promise.all([
      runCli(['verify', '--cert', KEY('rsa2048.crt.pem'), 'ok.bin', ...paths, 'file.bin'], { cwd: dir }),
      runCli(['inspect', 'missing.sig'], { cwd: dir }),
      runCli(['keyid', 'missing.pem'], { cwd: dir }),
    ]);
    for (const [name, r, extra] of [
      ['sign', sign, []],
      ['hash', hash, []],
      ['verify', verify, [['file.bin', /no signature/]]],
    ] as const) {
      assert.equal(r.status, 1, `${name}: ${show(r)}`);
      assert.doesNotMatch(r.stderr, STACK, `${name}: ${show(r)}`);
      const lines = r.stderr.split('\n').filter(Boolean);
      const expected = [...bad, ...extra];
      for (const [file, reason] of expected) {
        const line = lines.filter((l) => l.startsWith(`${file}: `));
        assert.equal(line.length, 1, `${name}: one line for ${file}:\n${show(r)}`);
        assert.match(line[0]!, reason, `${name}: ${show(r)}`);
      }
      // The file that was fine was done, and reported on stdout.
      assert.match(r.stdout, /ok\.bin/, `${name}: ${show(r)}`);
      // Besides one line per failed file, at most the summary line.
      assert.ok(lines.length <= expected.length + 1, `${name}: ${show(r)}`);
    }
    oneLineError(inspect, 1, 'missing.sig', /no such file/);
    oneLineError(keyid, 1, 'missing.pem', /no such file or directory/);
  });

  test('--verbose adds a stack trace to a configuration error (and only then)', async (t) => {
    if (!needFixtures(t)) return;
    const r = await runCli(['sign', '--verbose', '--key', 'nokey.pem', 'x']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /nokey\.pem: cannot read private key/);
    assert.match(r.stderr, /^\s+at /m);
  });
});

describe('xattr (user.ima)', () => {
  test('sign --to xattr, verify --from xattr, hash --to xattr; values read back with getfattr', async (t) => {
    if (!needFixtures(t)) return;
    const reason = await userXattrUnsupported(t);
    if (reason) return skipOrFail(t, reason);
    const dir = await workdir(t);
    const s = await runCli([...signRsa, '--xattr', 'user.ima', '--to', 'both', '--json', 'file.bin'], { cwd: dir });
    assert.equal(s.status, 0, show(s));
    const value = await getXattr(join(dir, 'file.bin'), 'user.ima');
    assert.deepEqual(value, await readFile(join(dir, 'file.bin.sig')));
    assert.equal(jsonOutput(s.stdout).records[0]!.value, value.toString('hex'));
    const v = await runCli(
      ['verify', '--xattr', 'user.ima', '--from', 'xattr', '--json', '--cert', KEY('rsa2048.crt.pem'), 'file.bin'],
      { cwd: dir },
    );
    assert.equal(v.status, 0, show(v));
    const rec = jsonOutput(v.stdout).records[0]!;
    assert.deepEqual(
      (rec.carriers as { carrier: string }[]).map((c) => c.carrier),
      ['xattr'],
    );
    // --force: a digest replaces the signature only when asked (hash-guard.test.ts).
    const h = await runCli(['hash', '--xattr', 'user.ima', '--to', 'xattr', '--force', '-a', 'sha1', 'file.bin'], {
      cwd: dir,
    });
    assert.equal(h.status, 0, show(h));
    const hv = await getXattr(join(dir, 'file.bin'), 'user.ima');
    assert.equal(
      hv.toString('hex'),
      '01' +
        createHash('sha1')
          .update(await readFile(join(dir, 'file.bin')))
          .digest('hex'),
    );
  });
});

async function getXattr(path: string, name: string): Promise<Buffer> {
  const r = await run('getfattr', ['--absolute-names', '--only-values', '-n', name, path]);
  assert.equal(r.status, 0, show(r));
  return r.stdoutBytes;
}

/** Why user xattrs cannot be tested here, or undefined when they can. */
async function userXattrUnsupported(t: TestContext): Promise<string | undefined> {
  if (!haveCommand('getfattr') || !haveCommand('setfattr')) return 'needs getfattr and setfattr (attr)';
  const dir = await tempDir(t);
  const f = join(dir, 'probe');
  await writeFile(f, '');
  const r = await run('setfattr', ['-n', 'user.probe', '-v', '1', f]);
  return r.status === 0 ? undefined : `the temp directory takes no user xattrs: ${r.stderr.trim()}`;
}
