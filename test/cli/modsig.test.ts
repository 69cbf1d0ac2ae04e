// `ima-sidecar modsig ...` and the appended carrier of `verify`, run as the real bin/ima-sidecar, against
// Debian's scripts/sign-file, openssl cms and evmctl 1.4:
//  - sign-file's output (RSA issuer+serial, RSA -k, EC P-384 both ways) is inspected and verified by us;
//  - our `modsig sign` is byte-identical to sign-file for RSA (both signer forms), and what we make for RSA
//    and ECDSA verifies with `openssl cms -verify -binary -inform DER -content PAYLOAD -certfile CERT
//    -nointern -noverify` (the CMS cut out of the file);
//  - detach, then `evmctl ima_verify --sigfile` on the payload succeeds; attach of an evmctl-made sidecar
//    reproduces sign-file's bytes;
//  - tampered payloads, truncated trailers, bad sig_len, garbage CMS, signed attributes, an already signed
//    file: one line naming the file, a non-zero exit, never a stack trace.
// Keys are made at test time with openssl (RSA-2048, EC P-384, and an RSA cert without SKID); the golden
// fixtures are used too when present. The tests of a group are independent (a temp dir each) and run four at a time.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, jsonOutput, loadManifest, run, runCli, type RunResult, show, tempDir } from '../helpers/cli.js';
import { missing, skipOrFail } from '../helpers/skip.js';

const SIGN_FILE = '/usr/lib/linux-kbuild-6.1/scripts/sign-file';
const MAGIC = Buffer.from('~Module signature appended~\n', 'latin1');
const STACK = /^\s+at |\bError: |node:internal|\.js:\d+:\d+|internal error/m;

interface Pki {
  dir: string;
  rsaKey: string;
  rsaCrt: string;
  rsaDer: string;
  rsaSkid: string;
  rsaSerial: string;
  ecKey: string;
  ecCrt: string;
  ecDer: string;
  ecSkid: string;
  noskidCrt: string;
  /** 5000 bytes. */
  payload: string;
  /** 2.5 MiB: more than one read chunk. */
  big: string;
}

let pki: Pki | undefined;
let why: string | undefined;

async function must(cmd: string, args: string[], cwd?: string): Promise<RunResult> {
  const r = await run(cmd, args, { cwd });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${show(r)}`);
  return r;
}

before(async () => {
  why =
    missing({ commands: ['openssl', 'evmctl'] }) ??
    (existsSync(SIGN_FILE) ? undefined : `needs ${SIGN_FILE} (Debian package linux-kbuild-6.1)`);
  if (why) return;
  const dir = await tempDir(undefined, 'ima-sidecar-modsig-');
  const cnf = join(dir, 'openssl.cnf');
  writeFileSync(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = modsig test signer',
      'O = ima-sidecar',
      '[v3]',
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = digitalSignature',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always',
      '[noskid]',
      'basicConstraints = critical,CA:FALSE',
      'subjectKeyIdentifier = none',
      'authorityKeyIdentifier = none',
      '',
    ].join('\n'),
  );
  const p = (n: string) => join(dir, n);
  // A serial with its top bit set, so its DER INTEGER has a leading zero byte that must be kept.
  await must('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('rsa.key'),
    '-out',
    p('rsa.crt'),
    '-days',
    '3650',
    '-config',
    cnf,
    '-extensions',
    'v3',
    '-set_serial',
    '0x00f1e2d3c4b5a69788',
  ]);
  await must('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-384',
    '-nodes',
    '-keyout',
    p('ec.key'),
    '-out',
    p('ec.crt'),
    '-days',
    '3650',
    '-config',
    cnf,
    '-extensions',
    'v3',
  ]);
  await must('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    p('rsa.key'),
    '-out',
    p('noskid.crt'),
    '-days',
    '3650',
    '-config',
    cnf,
    '-extensions',
    'noskid',
    '-set_serial',
    '7',
  ]);
  await must('openssl', ['x509', '-in', p('rsa.crt'), '-outform', 'DER', '-out', p('rsa.der')]);
  await must('openssl', ['x509', '-in', p('ec.crt'), '-outform', 'DER', '-out', p('ec.der')]);
  const skid = async (crt: string) =>
    (await must('openssl', ['x509', '-in', crt, '-noout', '-ext', 'subjectKeyIdentifier'])).stdout
      .split('\n')[1]!
      .trim()
      .replace(/:/g, '')
      .toLowerCase();
  const serial = (await must('openssl', ['x509', '-in', p('rsa.crt'), '-noout', '-serial'])).stdout
    .trim()
    .replace(/^serial=/, '');
  writeFileSync(p('payload'), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) % 256)));
  const big = Buffer.alloc(2.5 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 12)) & 0xff;
  writeFileSync(p('big'), big);
  pki = {
    dir,
    rsaKey: p('rsa.key'),
    rsaCrt: p('rsa.crt'),
    rsaDer: p('rsa.der'),
    rsaSkid: await skid(p('rsa.crt')),
    rsaSerial: serial,
    ecKey: p('ec.key'),
    ecCrt: p('ec.crt'),
    ecDer: p('ec.der'),
    ecSkid: await skid(p('ec.crt')),
    noskidCrt: p('noskid.crt'),
    payload: p('payload'),
    big: p('big'),
  };
});

function need(t: TestContext): Pki | undefined {
  if (why || !pki) {
    skipOrFail(t, why ?? 'test keys were not made');
    return undefined;
  }
  return pki;
}

/** Runs sign-file [-k] ALGO KEY CERT IN OUT. */
async function signFile(opts: {
  skid?: boolean;
  algo: string;
  key: string;
  crt: string;
  input: string;
  out: string;
}): Promise<Buffer> {
  await must(SIGN_FILE, [...(opts.skid ? ['-k'] : []), opts.algo, opts.key, opts.crt, opts.input, opts.out]);
  return readFileSync(opts.out);
}

/** The CMS inside a file with an appended signature, cut out by hand (no code under test involved). */
function cutCms(file: Buffer): { payload: Buffer; cms: Buffer } {
  assert.ok(file.subarray(file.length - 28).equals(MAGIC), 'ends with the marker');
  const sigLen = file.readUInt32BE(file.length - 32);
  const cmsStart = file.length - 40 - sigLen;
  return { payload: file.subarray(0, cmsStart), cms: file.subarray(cmsStart, file.length - 40) };
}

/** `openssl cms -verify` of the CMS cut out of `file` against PAYLOAD and CERT. */
async function opensslVerify(t: TestContext, file: Buffer, payload: string, cert: string): Promise<RunResult> {
  const dir = await tempDir(t);
  const cmsPath = join(dir, 'cms.der');
  writeFileSync(cmsPath, cutCms(file).cms);
  return run('openssl', [
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    cmsPath,
    '-content',
    payload,
    '-certfile',
    cert,
    '-nointern',
    '-noverify',
    '-out',
    '/dev/null',
  ]);
}

function copy(t: TestContext, dir: string, from: string, name: string): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  return to;
}

/** Failed with exit `status`: exactly one stderr line naming `file` that matches `reason`, no stack trace. */
function oneLineFailure(r: RunResult, status: number, file: string, reason: RegExp): void {
  assert.equal(r.status, status, show(r));
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected one line on stderr:\n${show(r)}`);
  assert.ok(lines[0]!.startsWith(`${file}: `), `the line does not start with ${file}:\n${show(r)}`);
  assert.match(lines[0]!, reason, show(r));
  assert.doesNotMatch(r.stderr, STACK, `stack trace:\n${show(r)}`);
}

function one(r: RunResult): Record<string, unknown> {
  const { records } = jsonOutput(r.stdout);
  assert.equal(records.length, 1, show(r));
  return records[0]!;
}

// ------------------------------------------------------------------------------------------------------------

describe('sign-file output, read and verified by us', { concurrency: 4 }, () => {
  const cases = [
    { name: 'RSA issuer+serial sha256', skid: false, algo: 'sha256', rsa: true },
    { name: 'RSA -k (SKID) sha256', skid: true, algo: 'sha256', rsa: true },
    { name: 'EC P-384 issuer+serial sha384', skid: false, algo: 'sha384', rsa: false },
    { name: 'EC P-384 -k (SKID) sha384', skid: true, algo: 'sha384', rsa: false },
  ];
  for (const c of cases) {
    test(c.name, async (t) => {
      const k = need(t);
      if (!k) return;
      const dir = await tempDir(t);
      const out = join(dir, 'signed.ko');
      await signFile({
        skid: c.skid,
        algo: c.algo,
        key: c.rsa ? k.rsaKey : k.ecKey,
        crt: c.rsa ? k.rsaCrt : k.ecCrt,
        input: k.payload,
        out,
      });
      const crt = c.rsa ? k.rsaCrt : k.ecCrt;

      const ins = await runCli(['modsig', 'inspect', '--json', out]);
      assert.equal(ins.status, 0, show(ins));
      const rec = one(ins);
      assert.equal(rec.status, 'valid');
      assert.equal(rec.payloadLength, 5000);
      assert.equal(rec.idType, 2);
      assert.equal(rec.detached, true);
      assert.equal(rec.contentType, 'id-data');
      assert.equal(rec.digestAlgorithm, c.algo);
      assert.equal(rec.signatureAlgorithm, c.rsa ? 'rsaEncryption' : `ecdsa-with-${c.algo.toUpperCase()}`);
      assert.equal(rec.signedAttributes, false);
      assert.equal(rec.certificates, 0);
      assert.equal(rec.signerInfoVersion, c.skid ? 3 : 1);
      assert.equal(rec.signedDataVersion, c.skid ? 3 : 1);
      if (c.skid) {
        assert.equal(rec.signerId, 'skid');
        assert.equal(rec.skid, c.rsa ? k.rsaSkid : k.ecSkid);
        assert.equal(rec.keyid, (c.rsa ? k.rsaSkid : k.ecSkid).slice(-8));
      } else {
        assert.equal(rec.signerId, 'issuer-serial');
        assert.equal(rec.issuer, 'CN=modsig test signer, O=ima-sidecar');
        if (c.rsa) assert.equal(rec.serial, '00F1E2D3C4B5A69788');
      }

      const human = await runCli(['modsig', 'inspect', out]);
      assert.equal(human.status, 0, show(human));
      assert.match(human.stdout, /signed\.ko: valid: payload 5000 bytes, sig_len \d+/);
      assert.match(human.stdout, /signedAttributes: false/);

      const ver = await runCli(['modsig', 'verify', '--json', '--cert', crt, out]);
      assert.equal(ver.status, 0, show(ver));
      const v = one(ver);
      assert.equal(v.status, 'ok');
      assert.equal(v.signer, crt);
      assert.equal(v.keyid, (c.rsa ? k.rsaSkid : k.ecSkid).slice(-8));

      // The general verify sees the appended carrier, under auto and when named.
      for (const from of ['auto', 'appended']) {
        const g = await runCli(['verify', '--json', '--from', from, '--cert', crt, out]);
        assert.equal(g.status, 0, show(g));
        const gr = one(g);
        assert.equal(gr.status, 'ok');
        assert.deepEqual(
          (gr.carriers as { carrier: string; status: string }[]).map((x) => [x.carrier, x.status]),
          [['appended', 'ok']],
        );
      }
      const people = await runCli(['verify', '--cert', crt, out]);
      assert.match(people.stdout, /signed\.ko: ok \(from appended\)/, show(people));
    });
  }

  test('a 2.5 MiB payload (several read chunks), RSA sha512', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const out = join(dir, 'vmlinuz');
    await signFile({ algo: 'sha512', key: k.rsaKey, crt: k.rsaCrt, input: k.big, out });
    const v = await runCli(['modsig', 'verify', '--cert', k.rsaCrt, out]);
    assert.equal(v.status, 0, show(v));
    assert.match(
      v.stdout,
      /ok \(sha512, rsaEncryption, keyid [0-9a-f]{8}, signer .*; covers the first 2621440 bytes\)/,
    );
  });

  test('the golden fixtures (sign-file 6.1) verify with their certificates', async (t) => {
    const entries = loadManifest()?.files.filter((f) => f.kind === 'modsig') ?? [];
    if (entries.length === 0) {
      skipOrFail(t, 'no modsig fixtures');
      return;
    }
    const args = ['modsig', 'verify', '--json'];
    for (const e of entries) args.push('--cert', fixture(e.cert!));
    const r = await runCli([...args, ...entries.map((e) => fixture(e.file))]);
    assert.equal(r.status, 0, show(r));
    const { records, summary } = jsonOutput(r.stdout);
    assert.equal(records.length, entries.length);
    for (const rec of records) assert.equal(rec.status, 'ok', JSON.stringify(rec));
    assert.equal(summary.ok, entries.length);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('modsig sign', { concurrency: 4 }, () => {
  for (const skid of [false, true]) {
    test(
      `RSA ${skid ? '--signer-id skid (sign-file -k)' : 'issuer+serial'}: ` + `byte-identical to sign-file`,
      async (t) => {
        const k = need(t);
        if (!k) return;
        const dir = await tempDir(t);
        const theirs = await signFile({
          skid,
          algo: 'sha256',
          key: k.rsaKey,
          crt: k.rsaCrt,
          input: k.payload,
          out: join(dir, 'theirs'),
        });
        // In place.
        const mine = copy(t, dir, k.payload, 'mine');
        const r = await runCli([
          'modsig',
          'sign',
          '--key',
          k.rsaKey,
          '--cert',
          k.rsaCrt,
          ...(skid ? ['--signer-id', 'skid'] : []),
          mine,
        ]);
        assert.equal(r.status, 0, show(r));
        assert.match(
          r.stdout,
          new RegExp(`mine: signed \\(sha256, ${skid ? 'skid' : 'issuer-serial'}, \\d+-byte PKCS#7\\)`),
        );
        assert.ok(readFileSync(mine).equals(theirs), 'in place: differs from sign-file');
        // To --output, the input untouched.
        const input = copy(t, dir, k.payload, 'input');
        const r2 = await runCli([
          'modsig',
          'sign',
          '-k',
          k.rsaKey,
          '-c',
          k.rsaCrt,
          ...(skid ? ['--signer-id', 'skid'] : []),
          '-o',
          join(dir, 'out'),
          input,
        ]);
        assert.equal(r2.status, 0, show(r2));
        assert.ok(readFileSync(join(dir, 'out')).equals(theirs), '--output: differs from sign-file');
        assert.ok(readFileSync(input).equals(readFileSync(k.payload)), 'the input changed');
        // openssl agrees the CMS is good.
        const o = await opensslVerify(t, theirs, k.payload, k.rsaCrt);
        assert.equal(o.status, 0, show(o));
      },
    );
  }

  test('RSA sha512 on a 2.5 MiB file: byte-identical to sign-file', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const theirs = await signFile({
      algo: 'sha512',
      key: k.rsaKey,
      crt: k.rsaCrt,
      input: k.big,
      out: join(dir, 'theirs'),
    });
    const r = await runCli([
      'modsig',
      'sign',
      '-k',
      k.rsaKey,
      '-c',
      k.rsaCrt,
      '-a',
      'sha512',
      '-o',
      join(dir, 'mine'),
      k.big,
    ]);
    assert.equal(r.status, 0, show(r));
    assert.ok(readFileSync(join(dir, 'mine')).equals(theirs));
  });

  test('the golden RSA fixtures are reproduced byte for byte', async (t) => {
    const entries = (loadManifest()?.files.filter((f) => f.kind === 'modsig' && f.key?.startsWith('rsa')) ??
      []) as (ReturnType<typeof loadManifest> & object)['files'];
    if (entries.length === 0) {
      skipOrFail(t, 'no RSA modsig fixtures');
      return;
    }
    const dir = await tempDir(t);
    for (const e of entries) {
      const rec = e as unknown as { payload: string; signer_id: string };
      const out = join(dir, 'out');
      const r = await runCli([
        'modsig',
        'sign',
        '-k',
        fixture(`keys/${e.key}.key.pem`),
        '-c',
        fixture(e.cert!),
        '-a',
        e.algo!,
        '--signer-id',
        rec.signer_id === 'subjectKeyIdentifier' ? 'skid' : 'issuer-serial',
        '-o',
        out,
        fixture(rec.payload),
      ]);
      assert.equal(r.status, 0, show(r));
      assert.ok(readFileSync(out).equals(readFileSync(fixture(e.file))), `${e.file}: our output differs`);
    }
  });

  for (const skid of [false, true]) {
    test(
      `ECDSA P-384 ${skid ? 'skid' : 'issuer+serial'}: ` + `verified by openssl cms and shaped like sign-file's`,
      async (t) => {
        const k = need(t);
        if (!k) return;
        const dir = await tempDir(t);
        const out = join(dir, 'mine');
        const r = await runCli([
          'modsig',
          'sign',
          '-k',
          k.ecKey,
          '-c',
          k.ecCrt,
          '-a',
          'sha384',
          ...(skid ? ['--signer-id', 'skid'] : []),
          '-o',
          out,
          k.payload,
        ]);
        assert.equal(r.status, 0, show(r));
        const mine = readFileSync(out);
        assert.ok(cutCms(mine).payload.equals(readFileSync(k.payload)));
        const o = await opensslVerify(t, mine, k.payload, k.ecCrt);
        assert.equal(o.status, 0, show(o));
        assert.match(o.stderr, /Verification successful/);
        // Same fields as sign-file's (the ECDSA signature itself is randomised, so sizes may differ by a byte or two).
        const theirs = join(dir, 'theirs');
        await signFile({ skid, algo: 'sha384', key: k.ecKey, crt: k.ecCrt, input: k.payload, out: theirs });
        const varying = new Set(['path', 'fileSize', 'sigLen', 'cmsSize', 'signatureSize']);
        const strip = (x: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(x).filter(([k]) => !varying.has(k)));
        const a = one(await runCli(['modsig', 'inspect', '--json', out]));
        const b = one(await runCli(['modsig', 'inspect', '--json', theirs]));
        assert.deepEqual(strip(a), strip(b));
        const v = await runCli(['modsig', 'verify', '-c', k.ecCrt, out]);
        assert.equal(v.status, 0, show(v));
      },
    );
  }

  test('an already signed file is refused without --force, replaced with it', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const theirs = await signFile({
      algo: 'sha256',
      key: k.rsaKey,
      crt: k.rsaCrt,
      input: k.payload,
      out: join(dir, 'theirs'),
    });
    const f = join(dir, 'module.ko');
    writeFileSync(f, theirs);
    const r = await runCli(['modsig', 'sign', '-k', k.rsaKey, '-c', k.rsaCrt, '--signer-id', 'skid', f]);
    oneLineFailure(
      r,
      1,
      f,
      /: failed: already carries an appended signature \(\d+-byte PKCS#7\); --force replaces it$/,
    );
    assert.ok(readFileSync(f).equals(theirs), 'the file changed');
    const forced = await runCli([
      'modsig',
      'sign',
      '-k',
      k.rsaKey,
      '-c',
      k.rsaCrt,
      '--signer-id',
      'skid',
      '--force',
      f,
    ]);
    assert.equal(forced.status, 0, show(forced));
    assert.match(forced.stdout, /module\.ko: replaced \(sha256, skid/);
    const skidRef = await signFile({
      skid: true,
      algo: 'sha256',
      key: k.rsaKey,
      crt: k.rsaCrt,
      input: k.payload,
      out: join(dir, 'skidref'),
    });
    assert.ok(readFileSync(f).equals(skidRef), "the replaced signature is not sign-file -k's");
  });

  test('usage and configuration errors exit 2 before touching any file', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = copy(t, dir, k.payload, 'f');
    const rows: [string[], RegExp][] = [
      [['modsig', 'sign', '-k', k.rsaKey, f], /needs --cert/],
      [['modsig', 'sign', '-k', k.rsaKey, '-c', k.ecCrt, f], /does not match the private key/],
      [
        ['modsig', 'sign', '-k', k.rsaKey, '-c', k.noskidCrt, '--signer-id', 'skid', f],
        /no subjectKeyIdentifier.*sign-file -k/,
      ],
      [
        ['modsig', 'sign', '-k', k.rsaKey, '-c', k.rsaCrt, '-a', 'rmd160', f],
        /cannot be used in an appended signature/,
      ],
      [['modsig', 'sign', '-k', k.rsaKey, '-c', k.rsaCrt, '-o', join(dir, 'o'), f, f], /--output takes a single FILE/],
      [['modsig', 'strip', '-o', join(dir, 'o'), '-r', dir], /--output takes a single FILE/],
      [['modsig', 'strip', '-o', join(dir, 'o'), join(dir, '[fg]')], /--output takes a single FILE.*no pattern/],
      [['modsig', 'frobnicate', f], /Unknown argument|unknown|Did you mean/i],
      [['modsig'], /modsig subcommand|Not enough non-option arguments/],
    ];
    for (const [args, reason] of rows) {
      const r = await runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}\n${show(r)}`);
      assert.match(r.stderr, reason, show(r));
      assert.doesNotMatch(r.stderr, STACK, show(r));
    }
    assert.ok(readFileSync(f).equals(readFileSync(k.payload)));
    assert.equal(existsSync(join(dir, 'o')), false);
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('detach and attach', { concurrency: 4 }, () => {
  for (const ec of [false, true]) {
    test(
      `detach ${ec ? 'EC P-384' : 'RSA'} sign-file output, ` + `then evmctl ima_verify --sigfile on the payload`,
      async (t) => {
        const k = need(t);
        if (!k) return;
        const dir = await tempDir(t);
        const f = join(dir, 'module.ko');
        await signFile({
          algo: ec ? 'sha384' : 'sha256',
          key: ec ? k.ecKey : k.rsaKey,
          crt: ec ? k.ecCrt : k.rsaCrt,
          input: k.payload,
          out: f,
        });
        const signedBytes = readFileSync(f);
        const r = await runCli(['modsig', 'detach', '--cert', ec ? k.ecCrt : k.rsaCrt, f]);
        assert.equal(r.status, 0, show(r));
        const keyid = (ec ? k.ecSkid : k.rsaSkid).slice(-8);
        assert.match(
          r.stdout,
          new RegExp(
            `module\\.ko: detached \\(v2 ${ec ? 'sha384' : 'sha256'} keyid ${keyid} into .*module\\.ko\\.sig\\)`,
          ),
        );
        assert.ok(readFileSync(f).equals(readFileSync(k.payload)), 'the file is not the payload');
        const sidecar = readFileSync(`${f}.sig`);
        assert.equal(sidecar[0], 0x03);
        assert.equal(sidecar[1], 2);
        assert.equal(sidecar.subarray(3, 7).toString('hex'), keyid);
        // The sidecar holds exactly the CMS signature bytes.
        const cms = cutCms(signedBytes).cms;
        assert.ok(cms.includes(sidecar.subarray(9)), 'the sidecar signature is not the CMS signature');
        const ev = await run('evmctl', ['ima_verify', '--sigfile', '--key', ec ? k.ecDer : k.rsaDer, f]);
        assert.equal(ev.status, 0, show(ev));
        assert.match(ev.stdout + ev.stderr, /verification is OK/);
        const ours = await runCli(['verify', '--from', 'sidecar', '--cert', ec ? k.ecCrt : k.rsaCrt, f]);
        assert.equal(ours.status, 0, show(ours));
      },
    );
  }

  test('detach --output leaves the input alone and writes OUT and OUT.sig', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = join(dir, 'in.ko');
    const signed = await signFile({
      skid: true,
      algo: 'sha256',
      key: k.rsaKey,
      crt: k.rsaCrt,
      input: k.payload,
      out: f,
    });
    const out = join(dir, 'payload.bin');
    const r = await runCli(['modsig', 'detach', '-c', k.rsaCrt, '-o', out, f]);
    assert.equal(r.status, 0, show(r));
    assert.ok(readFileSync(f).equals(signed));
    assert.ok(readFileSync(out).equals(readFileSync(k.payload)));
    assert.ok(existsSync(`${out}.sig`));
    assert.equal(existsSync(`${f}.sig`), false);
  });

  for (const skid of [false, true]) {
    test(`attach of an evmctl-made sidecar reproduces sign-file${skid ? ' -k' : ''}'s bytes`, async (t) => {
      const k = need(t);
      if (!k) return;
      const dir = await tempDir(t);
      const f = copy(t, dir, k.payload, 'module.ko');
      const ev = await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', k.rsaKey, '-a', 'sha256', f]);
      assert.equal(ev.status, 0, show(ev));
      assert.ok(existsSync(`${f}.sig`));
      const theirs = await signFile({
        skid,
        algo: 'sha256',
        key: k.rsaKey,
        crt: k.rsaCrt,
        input: k.payload,
        out: join(dir, 'theirs'),
      });
      const r = await runCli(['modsig', 'attach', '--cert', k.rsaCrt, ...(skid ? ['--signer-id', 'skid'] : []), f]);
      assert.equal(r.status, 0, show(r));
      assert.match(r.stdout, /module\.ko: attached \(.*sidecar removed\)/);
      assert.ok(readFileSync(f).equals(theirs), 'attach differs from sign-file');
      assert.equal(existsSync(`${f}.sig`), false, 'the stale sidecar was not removed');
    });
  }

  test('attach --keep-sidecar, attach --output, and an ECDSA sidecar (verified by openssl cms)', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = copy(t, dir, k.payload, 'a.ko');
    assert.equal((await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', k.ecKey, '-a', 'sha384', f])).status, 0);
    const out = join(dir, 'signed.ko');
    const r = await runCli(['modsig', 'attach', '-c', k.ecCrt, '-o', out, f]);
    assert.equal(r.status, 0, show(r));
    assert.ok(existsSync(`${f}.sig`), '--output must keep the sidecar');
    assert.ok(readFileSync(f).equals(readFileSync(k.payload)));
    const o = await opensslVerify(t, readFileSync(out), k.payload, k.ecCrt);
    assert.equal(o.status, 0, show(o));
    const r2 = await runCli(['modsig', 'attach', '-c', k.ecCrt, '--keep-sidecar', f]);
    assert.equal(r2.status, 0, show(r2));
    assert.ok(existsSync(`${f}.sig`));
    const v = await runCli(['modsig', 'verify', '-c', k.ecCrt, f]);
    assert.equal(v.status, 0, show(v));
  });

  test("detach then attach gives back sign-file's file (RSA)", async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = join(dir, 'm.ko');
    const signed = await signFile({ algo: 'sha256', key: k.rsaKey, crt: k.rsaCrt, input: k.payload, out: f });
    assert.equal((await runCli(['modsig', 'detach', '-c', k.rsaCrt, f])).status, 0);
    assert.equal((await runCli(['modsig', 'attach', '-c', k.rsaCrt, f])).status, 0);
    assert.ok(readFileSync(f).equals(signed));
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('clear failures, never a crash', { concurrency: 4 }, () => {
  /** A sign-file RSA file, altered by `mutate`, in a fresh directory. */
  async function broken(
    t: TestContext,
    name: string,
    mutate: (b: Buffer) => Buffer,
  ): Promise<{ k: Pki; f: string } | undefined> {
    const k = need(t);
    if (!k) return undefined;
    const dir = await tempDir(t);
    const good = await signFile({
      algo: 'sha256',
      key: k.rsaKey,
      crt: k.rsaCrt,
      input: k.payload,
      out: join(dir, 'good'),
    });
    const f = join(dir, name);
    writeFileSync(f, mutate(Buffer.from(good)));
    return { k, f };
  }

  const rows: {
    name: string;
    mutate: (b: Buffer) => Buffer;
    inspect?: RegExp;
    verify: RegExp;
    verifyStatus: string;
  }[] = [
    {
      name: 'tampered payload',
      mutate: (b) => {
        b[100] ^= 1;
        return b;
      },
      verify: /: failed: bad signature: the payload differs from what was signed \(sha256 of the first 5000 bytes/,
      verifyStatus: 'failed',
    },
    {
      name: 'truncated trailer (4 bytes of struct module_signature missing)',
      mutate: (b) => Buffer.concat([b.subarray(0, b.length - 36), b.subarray(b.length - 32)]),
      inspect: /: invalid: (bad sig_len|id_type|struct module_signature)/,
      verify: /: invalid: (bad sig_len|id_type|struct module_signature)/,
      verifyStatus: 'invalid',
    },
    {
      name: 'a file that is nothing but the marker',
      mutate: () => Buffer.from(MAGIC),
      inspect: /: invalid: truncated: the file is 28 bytes/,
      verify: /: invalid: truncated/,
      verifyStatus: 'invalid',
    },
    {
      name: 'sig_len larger than the file',
      mutate: (b) => {
        b.writeUInt32BE(0x10000, b.length - 32);
        return b;
      },
      inspect: /: invalid: bad sig_len 65536: only \d+ bytes precede the 40-byte trailer/,
      verify: /: invalid: bad sig_len 65536/,
      verifyStatus: 'invalid',
    },
    {
      name: 'sig_len that leaves no payload',
      mutate: (b) => {
        b.writeUInt32BE(b.length - 40, b.length - 32);
        return b;
      },
      inspect: /: invalid: bad sig_len \d+: it leaves an empty payload, which the kernel rejects/,
      verify: /: invalid: bad sig_len \d+: it leaves an empty payload/,
      verifyStatus: 'invalid',
    },
    {
      name: 'sig_len pointing into the payload',
      mutate: (b) => {
        b.writeUInt32BE(b.readUInt32BE(b.length - 32) + 100, b.length - 32);
        return b;
      },
      inspect: /: invalid: not a PKCS#7 message|malformed PKCS#7/,
      verify: /: invalid: (not a PKCS#7 message|malformed PKCS#7)/,
      verifyStatus: 'invalid',
    },
    {
      name: 'garbage CMS',
      mutate: (b) => {
        const sigLen = b.readUInt32BE(b.length - 32);
        b.fill(0x41, b.length - 40 - sigLen, b.length - 40);
        return b;
      },
      inspect: /: invalid: not a PKCS#7 message/,
      verify: /: invalid: not a PKCS#7 message/,
      verifyStatus: 'invalid',
    },
    {
      name: 'id_type 1 (X.509)',
      mutate: (b) => {
        b[b.length - 40 + 2] = 1;
        return b;
      },
      inspect: /: invalid: id_type is 1 \(X\.509\), the kernel accepts only 2 \(PKCS#7\)/,
      verify: /: invalid: id_type is 1/,
      verifyStatus: 'invalid',
    },
  ];

  for (const row of rows) {
    test(row.name, async (t) => {
      const b = await broken(t, 'bad.ko', row.mutate);
      if (!b) return;
      if (row.inspect) oneLineFailure(await runCli(['modsig', 'inspect', b.f]), 1, b.f, row.inspect);
      oneLineFailure(await runCli(['modsig', 'verify', '-c', b.k.rsaCrt, b.f]), 1, b.f, row.verify);
      const j = await runCli(['modsig', 'verify', '--json', '-c', b.k.rsaCrt, b.f]);
      assert.equal(j.status, 1, show(j));
      assert.equal(one(j).status, row.verifyStatus);
      // The general verify fails on it too, naming the appended carrier's problem.
      const g = await runCli(['verify', '--from', 'appended', '-c', b.k.rsaCrt, b.f]);
      assert.equal(g.status, 1, show(g));
      assert.doesNotMatch(g.stderr, STACK);
      // detach refuses and leaves the file alone.
      const before = readFileSync(b.f);
      const d = await runCli(['modsig', 'detach', '-c', b.k.rsaCrt, b.f]);
      assert.equal(d.status, 1, show(d));
      assert.doesNotMatch(d.stderr, STACK);
      assert.ok(readFileSync(b.f).equals(before));
      assert.equal(existsSync(`${b.f}.sig`), false);
    });
  }

  test('signed attributes present (openssl cms -sign without -noattr)', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const cms = join(dir, 'attrs.cms');
    const o = await run('openssl', [
      'cms',
      '-sign',
      '-binary',
      '-outform',
      'DER',
      '-in',
      k.payload,
      '-signer',
      k.rsaCrt,
      '-inkey',
      k.rsaKey,
      '-md',
      'sha256',
      '-nocerts',
      '-out',
      cms,
    ]);
    assert.equal(o.status, 0, show(o));
    const der = readFileSync(cms);
    const trailer = Buffer.concat([Buffer.from('0000020000000000', 'hex'), Buffer.alloc(4), MAGIC]);
    trailer.writeUInt32BE(der.length, 8);
    const f = join(dir, 'attrs.ko');
    writeFileSync(f, Buffer.concat([readFileSync(k.payload), der, trailer]));
    oneLineFailure(
      await runCli(['modsig', 'inspect', f]),
      1,
      f,
      /: invalid: the kernel would reject it: signed attributes are present/,
    );
    oneLineFailure(
      await runCli(['modsig', 'verify', '-c', k.rsaCrt, f]),
      1,
      f,
      /: invalid: the kernel would reject it: signed attributes are present/,
    );
    const j = one(await runCli(['modsig', 'inspect', '--json', f]));
    assert.equal(j.status, 'invalid');
    assert.equal(j.signedAttributes, true);
    assert.deepEqual(j.problems, [
      'signed attributes are present (the kernel refuses them in module and appended signatures)',
    ]);
    // The same CMS made with -noattr is accepted: the attributes are the only problem.
    const ok = join(dir, 'noattr.cms');
    assert.equal(
      (
        await run('openssl', [
          'cms',
          '-sign',
          '-binary',
          '-outform',
          'DER',
          '-noattr',
          '-in',
          k.payload,
          '-signer',
          k.rsaCrt,
          '-inkey',
          k.rsaKey,
          '-md',
          'sha256',
          '-nocerts',
          '-out',
          ok,
        ])
      ).status,
      0,
    );
    const der2 = readFileSync(ok);
    trailer.writeUInt32BE(der2.length, 8);
    writeFileSync(f, Buffer.concat([readFileSync(k.payload), der2, trailer]));
    const v = await runCli(['modsig', 'verify', '-c', k.rsaCrt, f]);
    assert.equal(v.status, 0, show(v));
  });

  test('wrong certificate, unsigned file, missing file, missing sidecar', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = join(dir, 'm.ko');
    await signFile({ algo: 'sha256', key: k.rsaKey, crt: k.rsaCrt, input: k.payload, out: f });
    oneLineFailure(
      await runCli(['modsig', 'verify', '-c', k.ecCrt, f]),
      1,
      f,
      new RegExp(
        ': failed: unknown signer: no certificate given has issuer ' +
          '"CN=modsig test signer, O=ima-sidecar" serial 00F1E2D3C4B5A69788',
      ),
    );
    const plain = copy(t, dir, k.payload, 'plain');
    oneLineFailure(
      await runCli(['modsig', 'verify', '-c', k.rsaCrt, plain]),
      1,
      plain,
      /: unsigned: no appended signature/,
    );
    oneLineFailure(await runCli(['modsig', 'inspect', plain]), 1, plain, /: unsigned: no appended signature/);
    oneLineFailure(
      await runCli(['modsig', 'detach', '-c', k.rsaCrt, plain]),
      1,
      plain,
      /: unsigned: no appended signature/,
    );
    oneLineFailure(
      await runCli(['modsig', 'attach', '-c', k.rsaCrt, plain]),
      1,
      plain,
      /: failed: no sidecar .*plain\.sig/,
    );
    oneLineFailure(
      await runCli(['modsig', 'attach', '-c', k.rsaCrt, f]),
      1,
      f,
      /: failed: the file already ends with an appended signature/,
    );
    const gone = join(dir, 'gone.ko');
    oneLineFailure(await runCli(['modsig', 'verify', '-c', k.rsaCrt, gone]), 1, gone, /no such file or directory/);
    const g = await runCli(['verify', '-c', k.rsaCrt, plain]);
    assert.match(g.stderr, /no signature \(no sidecar, no security\.ima and no appended signature\)/);
  });

  test('an empty file is not signed: the kernel rejects an empty payload', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = join(dir, 'empty');
    writeFileSync(f, '');
    oneLineFailure(
      await runCli(['modsig', 'sign', '-k', k.rsaKey, '-c', k.rsaCrt, f]),
      1,
      f,
      /: failed: empty file: the kernel rejects an appended signature with no payload/,
    );
    assert.equal(readFileSync(f).length, 0);
  });

  test('a sidecar that does not verify is not attached', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = copy(t, dir, k.payload, 'x.ko');
    assert.equal(
      (await run('evmctl', ['ima_sign', '-n', '--sigfile', '--key', k.rsaKey, '-a', 'sha256', f])).status,
      0,
    );
    const b = readFileSync(f);
    b[0] ^= 1;
    writeFileSync(f, b);
    oneLineFailure(
      await runCli(['modsig', 'attach', '-c', k.rsaCrt, f]),
      1,
      f,
      /: failed: sidecar does not verify: digest mismatch/,
    );
    assert.ok(readFileSync(f).equals(b));
    assert.ok(existsSync(`${f}.sig`));
  });
});

// ------------------------------------------------------------------------------------------------------------

describe('modsig strip', { concurrency: 4 }, () => {
  test('in place, again (nothing to do), to --output, and with a garbage CMS behind a good trailer', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const f = join(dir, 's.ko');
    const signed = await signFile({ algo: 'sha256', key: k.rsaKey, crt: k.rsaCrt, input: k.payload, out: f });
    const r = await runCli(['modsig', 'strip', f]);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, new RegExp(`s\\.ko: stripped \\(${signed.length - 5000} bytes removed\\)`));
    assert.ok(readFileSync(f).equals(readFileSync(k.payload)));
    const again = await runCli(['modsig', 'strip', f]);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /s\.ko: unsigned: no appended signature; left as it is/);

    const g = join(dir, 'g.ko');
    writeFileSync(g, signed);
    const out = join(dir, 'g.payload');
    const r2 = await runCli(['modsig', 'strip', '--output', out, g]);
    assert.equal(r2.status, 0, show(r2));
    assert.ok(readFileSync(g).equals(signed));
    assert.ok(readFileSync(out).equals(readFileSync(k.payload)));

    const bad = Buffer.from(signed);
    bad.fill(0, 5000, signed.length - 40);
    writeFileSync(g, bad);
    const r3 = await runCli(['modsig', 'strip', '--json', g]);
    assert.equal(r3.status, 0, show(r3));
    const rec = one(r3);
    assert.equal(rec.status, 'stripped');
    assert.match(String((rec.warnings as string[])[0]), /the removed signature was malformed/);
    assert.ok(readFileSync(g).equals(readFileSync(k.payload)));
  });

  test('several files, a directory with -r, mode kept', async (t) => {
    const k = need(t);
    if (!k) return;
    const dir = await tempDir(t);
    const a = join(dir, 'a.ko');
    const b = join(dir, 'b.ko');
    await signFile({ algo: 'sha256', key: k.rsaKey, crt: k.rsaCrt, input: k.payload, out: a });
    await signFile({ skid: true, algo: 'sha256', key: k.rsaKey, crt: k.rsaCrt, input: k.payload, out: b });
    await run('chmod', ['0750', a]);
    const r = await runCli(['modsig', 'strip', '--json', '-r', dir]);
    assert.equal(r.status, 0, show(r));
    const { records, summary } = jsonOutput(r.stdout);
    assert.deepEqual(
      records.map((x) => [x.path, x.status]),
      [
        [a, 'stripped'],
        [b, 'stripped'],
      ],
    );
    assert.equal(summary.stripped, 2);
    const mode = (await run('stat', ['-c', '%a', a])).stdout.trim();
    assert.equal(mode, '750');
  });
});
