// Keys, certificates and signers: every key encoding the tool promises, passwords from the environment and
// from --pass-file, refusals of key types the kernel cannot verify, certificates in PEM/DER/bundles/
// directories, the keyid from the SKID (or computed, with a warning), --keyid, and cert/key mismatch.
// Keys are made here with node:crypto; certificates with openssl (the test skips, or fails under CI,
// without it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classifyKey, keyPassword, loadPrivateKey, parsePrivateKey, readPassFile } from '../../src/crypto/keys.js';
import {
  computedKeyid,
  DEFAULT_CERTIFICATES,
  keyidFromSkid,
  loadCertificates,
  parseCertificates,
} from '../../src/crypto/certificate.js';
import { keyidOfPublicKey, parseKeyidHex, resolveSigner } from '../../src/crypto/signer.js';
import { ConfigError } from '../../src/errors.js';
import { removeTempDir, run, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';
import { existsSync } from 'node:fs';

const PASSWORD = 'correct horse';

interface Material {
  dir: string;
  rsa: KeyObject;
  p256: KeyObject;
  p384: KeyObject;
  p521: KeyObject;
  other: KeyObject;
}

let m: Material;

before(async () => {
  const dir = await tempDir();
  const gen = (type: 'rsa' | 'ec', opt: object): KeyObject =>
    (generateKeyPairSync as (t: string, o: object) => { privateKey: KeyObject })(type, opt).privateKey;
  m = {
    dir,
    rsa: gen('rsa', { modulusLength: 2048 }),
    p256: gen('ec', { namedCurve: 'P-256' }),
    p384: gen('ec', { namedCurve: 'P-384' }),
    p521: gen('ec', { namedCurve: 'P-521' }),
    other: gen('ec', { namedCurve: 'P-256' }),
  };
});

after(async () => {
  if (m) await removeTempDir(m.dir);
});

let counter = 0;
async function file(name: string, content: string | Buffer): Promise<string> {
  const p = join(m.dir, `${counter++}-${name}`);
  await writeFile(p, content, { mode: 0o600 });
  return p;
}

/** Asserts that `f` throws (or rejects with) a ConfigError whose message matches. */
async function configError(f: () => unknown, message: RegExp): Promise<ConfigError> {
  let caught: unknown;
  try {
    await f();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof ConfigError,
    `expected ConfigError, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
  );
  assert.match(caught.message, message);
  // One line, no stack trace in the message.
  assert.ok(!caught.message.includes('\n'), caught.message);
  return caught;
}

function samePrivateKey(a: KeyObject, b: KeyObject): void {
  assert.deepEqual(a.export({ type: 'pkcs8', format: 'der' }), b.export({ type: 'pkcs8', format: 'der' }));
}

describe('private keys', () => {
  test('RSA in PKCS#8 PEM, PKCS#1 PEM, PKCS#8 DER and PKCS#1 DER', async () => {
    const forms: [string, string | Buffer][] = [
      ['pkcs8.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' })],
      ['pkcs1.pem', m.rsa.export({ type: 'pkcs1', format: 'pem' })],
      ['pkcs8.der', m.rsa.export({ type: 'pkcs8', format: 'der' })],
      ['pkcs1.der', m.rsa.export({ type: 'pkcs1', format: 'der' })],
    ];
    for (const [name, bytes] of forms) {
      const p = await file(name, bytes);
      const k = await loadPrivateKey(p);
      assert.equal(k.algorithm, 'rsa', name);
      assert.equal(k.bits, 2048, name);
      assert.equal(k.path, p);
      samePrivateKey(k.key, m.rsa);
    }
  });

  test('ECDSA P-256, P-384 and P-521 in PKCS#8 and SEC1, PEM and DER', async () => {
    for (const [key, algorithm, bits] of [
      [m.p256, 'ecdsa-p256', 256],
      [m.p384, 'ecdsa-p384', 384],
      [m.p521, 'ecdsa-p521', 521],
    ] as const) {
      for (const type of ['pkcs8', 'sec1'] as const) {
        for (const format of ['pem', 'der'] as const) {
          const p = await file(
            `${algorithm}.${type}.${format}`,
            format === 'pem' ? key.export({ type, format }) : key.export({ type, format }),
          );
          const k = await loadPrivateKey(p);
          assert.equal(k.algorithm, algorithm, `${algorithm} ${type} ${format}`);
          assert.equal(k.bits, bits);
          samePrivateKey(k.key, key);
        }
      }
    }
  });

  test('encrypted PKCS#8 PEM with IMA_SIDECAR_KEY_PASSWORD', async () => {
    const p = await file(
      'enc.pem',
      m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    const k = await loadPrivateKey(p, { env: { IMA_SIDECAR_KEY_PASSWORD: PASSWORD } });
    samePrivateKey(k.key, m.rsa);
  });

  test('encrypted PKCS#8 PEM with EVMCTL_KEY_PASSWORD as the fallback', async () => {
    const p = await file(
      'enc.pem',
      m.p256.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-128-cbc', passphrase: PASSWORD }),
    );
    const k = await loadPrivateKey(p, { env: { EVMCTL_KEY_PASSWORD: PASSWORD } });
    samePrivateKey(k.key, m.p256);
  });

  test('IMA_SIDECAR_KEY_PASSWORD wins over EVMCTL_KEY_PASSWORD; a --pass-file password wins over both', async () => {
    assert.equal(keyPassword({ env: { IMA_SIDECAR_KEY_PASSWORD: 'a', EVMCTL_KEY_PASSWORD: 'b' } }), 'a');
    assert.equal(keyPassword({ env: { EVMCTL_KEY_PASSWORD: 'b' } }), 'b');
    assert.equal(keyPassword({ password: 'c', env: { IMA_SIDECAR_KEY_PASSWORD: 'a', EVMCTL_KEY_PASSWORD: 'b' } }), 'c');
    assert.equal(keyPassword({ env: {} }), undefined);
    const p = await file(
      'enc.pem',
      m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    samePrivateKey(
      (await loadPrivateKey(p, { env: { IMA_SIDECAR_KEY_PASSWORD: PASSWORD, EVMCTL_KEY_PASSWORD: 'wrong' } })).key,
      m.rsa,
    );
    samePrivateKey(
      (await loadPrivateKey(p, { password: PASSWORD, env: { IMA_SIDECAR_KEY_PASSWORD: 'wrong' } })).key,
      m.rsa,
    );
  });

  test('--pass-file: only the first line is the password (LF or CRLF)', async () => {
    assert.equal(await readPassFile(await file('pass', `${PASSWORD}\n`)), PASSWORD);
    assert.equal(await readPassFile(await file('pass', `${PASSWORD}\r\nsecond line\n`)), PASSWORD);
    assert.equal(await readPassFile(await file('pass', PASSWORD)), PASSWORD);
    const p = await file(
      'enc.pem',
      m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    const password = await readPassFile(await file('pass', `${PASSWORD}\n`));
    samePrivateKey((await loadPrivateKey(p, { password, env: {} })).key, m.rsa);
    await configError(
      () => readPassFile(join(m.dir, 'no-such-pass-file')),
      /no-such-pass-file: cannot read password file: no such file or directory \(ENOENT\)/,
    );
  });

  test('encrypted PKCS#8 DER and legacy encrypted PKCS#1 PEM', async () => {
    const der = await file(
      'enc.der',
      m.p384.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    samePrivateKey((await loadPrivateKey(der, { password: PASSWORD })).key, m.p384);
    const legacy = await file(
      'enc1.pem',
      m.rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    samePrivateKey((await loadPrivateKey(legacy, { password: PASSWORD })).key, m.rsa);
  });

  test('an encrypted key without a password names the variables and --pass-file', async () => {
    const p = await file(
      'enc.pem',
      m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    const e = await configError(
      () => loadPrivateKey(p, { env: {} }),
      /the key is encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file/,
    );
    assert.ok(e.message.startsWith(`${p}: `));
    assert.equal(e.path, p);
    const legacy = await file(
      'enc1.pem',
      m.rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    await configError(() => loadPrivateKey(legacy, { env: {} }), /the key is encrypted/);
  });

  test('an encrypted DER key without a password says it needs one', async () => {
    const der = await file(
      'enc.der',
      m.p256.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    await configError(
      () => loadPrivateKey(der, { env: {} }),
      /enc\.der: the key is encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file$/,
    );
  });

  test('a wrong password is said to be wrong (PEM, DER, legacy PEM)', async () => {
    const pem = await file(
      'enc.pem',
      m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    await configError(
      () => loadPrivateKey(pem, { password: 'nope', env: {} }),
      /: wrong password for the encrypted key$/,
    );
    await configError(() => loadPrivateKey(pem, { env: { IMA_SIDECAR_KEY_PASSWORD: 'nope' } }), /wrong password/);
    const der = await file(
      'enc.der',
      m.p256.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    await configError(() => loadPrivateKey(der, { password: 'nope' }), /wrong password/);
    const legacy = await file(
      'enc1.pem',
      m.rsa.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
    );
    await configError(() => loadPrivateKey(legacy, { password: 'nope' }), /wrong password/);
  });

  test(
    'a wrong password that happens to decrypt to valid ' + 'padding is still a wrong password (PEM and DER)',
    async () => {
      // About one wrong password in 256 passes the CBC padding check; OpenSSL then reports a decoding error
      // ("DECODER routines::unsupported", "asn1 encoding routines::header too long") instead of "bad decrypt".
      const { createPrivateKey } = await import('node:crypto');
      for (const format of ['pem', 'der'] as const) {
        const bytes =
          format === 'pem'
            ? Buffer.from(m.p256.export({ type: 'pkcs8', format, cipher: 'aes-256-cbc', passphrase: PASSWORD }))
            : m.p256.export({ type: 'pkcs8', format, cipher: 'aes-256-cbc', passphrase: PASSWORD });
        let sneaky: string | undefined;
        for (let i = 0; i < 5000 && !sneaky; i++) {
          try {
            createPrivateKey(
              format === 'pem'
                ? { key: bytes, format, passphrase: `wrong-${i}` }
                : { key: bytes, format, type: 'pkcs8', passphrase: `wrong-${i}` },
            );
          } catch (e) {
            if (!/bad decrypt/.test((e as Error).message)) sneaky = `wrong-${i}`;
          }
        }
        assert.ok(sneaky, `${format}: no password in 5000 passed the padding check`);
        await configError(
          async () => parsePrivateKey(bytes, `k.${format}`, { password: sneaky }),
          new RegExp(`^k\\.${format}: wrong password for the encrypted key$`),
        );
      }
    },
  );

  test('Ed25519, Ed448, X25519 and DSA keys are refused with a clear ConfigError', async () => {
    const cases: [string, KeyObject, RegExp][] = [
      [
        'ed25519',
        generateKeyPairSync('ed25519').privateKey,
        /ed25519 keys are not supported for IMA signatures \(RSA or ECDSA P-192\/P-256\/P-384\/P-521\)/,
      ],
      ['ed448', generateKeyPairSync('ed448').privateKey, /ed448 keys are not supported/],
      ['x25519', generateKeyPairSync('x25519').privateKey, /x25519 keys are not supported/],
      [
        'dsa',
        generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey,
        /dsa keys are not supported/,
      ],
    ];
    for (const [name, key, message] of cases) {
      const pem = await file(`${name}.pem`, key.export({ type: 'pkcs8', format: 'pem' }));
      const e = await configError(() => loadPrivateKey(pem), message);
      assert.ok(e.message.startsWith(`${pem}: `), e.message);
      const der = await file(`${name}.der`, key.export({ type: 'pkcs8', format: 'der' }));
      await configError(() => loadPrivateKey(der), message);
    }
  });

  test('an EC key on a curve the kernel does not verify (secp256k1) is refused', async () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    await configError(
      async () => parsePrivateKey(Buffer.from(k.export({ type: 'pkcs8', format: 'pem' })), 'k1.pem'),
      /^k1\.pem: EC curve secp256k1 is not supported \(P-192, P-256, P-384 or P-521\)$/,
    );
    assert.deepEqual(classifyKey(k), { refused: 'EC curve secp256k1 is not supported (P-192, P-256, P-384 or P-521)' });
  });

  test(
    'RSA key sizes the kernel cannot load are refused; ' + '1024 to 4096 pass (crypto/rsa.c rsa_check_key_length)',
    async () => {
      const sized = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).privateKey;
      for (const bits of [1024, 1536, 2047]) {
        const k = parsePrivateKey(Buffer.from(sized(bits).export({ type: 'pkcs8', format: 'pem' })), `rsa${bits}.pem`);
        assert.equal(k.algorithm, 'rsa');
        assert.equal(k.bits, bits);
      }
      await configError(
        async () => parsePrivateKey(Buffer.from(sized(2560).export({ type: 'pkcs8', format: 'pem' })), 'rsa2560.pem'),
        new RegExp(
          "^rsa2560\\.pem: RSA-2560 keys cannot be used: the kernel's RSA verifier takes only " +
            '1024, 1536, 2048, 3072 or 4096-bit keys$',
        ),
      );
      await configError(
        async () => parsePrivateKey(Buffer.from(sized(1100).export({ type: 'pkcs8', format: 'pem' })), 'rsa1100.pem'),
        /RSA-1100 keys cannot be used/,
      );
      await configError(
        async () => parsePrivateKey(Buffer.from(sized(512).export({ type: 'pkcs8', format: 'pem' })), 'rsa512.pem'),
        /RSA-512 keys are too weak/,
      );
    },
  );

  test('garbage, empty files, public keys and certificates are not private keys', async () => {
    await configError(
      async () => parsePrivateKey(Buffer.from('hello world\n'), 'g.pem'),
      /^g\.pem: not a private key in PEM or DER \(PKCS#8, PKCS#1 or SEC1\)$/,
    );
    await configError(async () => parsePrivateKey(Buffer.alloc(0), 'empty'), /^empty: not a private key/);
    await configError(
      async () => parsePrivateKey(Buffer.from([0x30, 0x82, 0x01, 0x00, 1, 2, 3]), 'bad.der'),
      /^bad\.der: not a private key/,
    );
    await configError(
      async () =>
        parsePrivateKey(
          Buffer.from('-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n'),
          'broken.pem',
        ),
      /^broken\.pem: not a private key/,
    );
    const pub = Buffer.from(
      generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'pkcs1', format: 'pem' }),
    );
    await configError(async () => parsePrivateKey(pub, 'pub.pem'), /^pub\.pem: not a private key/);
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    await configError(async () => parsePrivateKey(Buffer.from(spki), 'spki.pem'), /^spki\.pem: not a private key/);
    await configError(
      async () =>
        parsePrivateKey(Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'), 'c.pem'),
      /^c\.pem: this is a certificate, not a private key$/,
    );
  });

  test('a missing key file, a directory, and the missing default key', async () => {
    const missingKey = join(m.dir, 'nope.pem');
    await configError(
      () => loadPrivateKey(missingKey),
      new RegExp(`^${missingKey}: cannot read private key: no such file or directory \\(ENOENT\\)$`),
    );
    await configError(() => loadPrivateKey(m.dir), /cannot read private key: is a directory \(EISDIR\)/);
    if (!existsSync('/etc/keys/privkey_evm.pem')) {
      await configError(
        () => loadPrivateKey(undefined),
        /^\/etc\/keys\/privkey_evm\.pem: cannot read private key: .*\(the default key; give --key\)$/,
      );
    }
  });
});

// ---- certificates (made with openssl) ---------------------------------------------------------------

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ima-sidecar unit test
O = test
[skid]
subjectKeyIdentifier = hash
basicConstraints = critical,CA:FALSE
[noskid]
subjectKeyIdentifier = none
authorityKeyIdentifier = none
basicConstraints = critical,CA:FALSE
[otherskid]
subjectKeyIdentifier = 00112233445566778899aabbccddeeff01020304
basicConstraints = critical,CA:FALSE
[shortskid]
subjectKeyIdentifier = abcd
basicConstraints = critical,CA:FALSE
`;

interface Certs {
  dir: string;
  /** PEM and DER of certs for m.rsa with the hash SKID, no SKID, another SKID, a 2-byte SKID. */
  rsaPem: string;
  rsaDer: string;
  noskidPem: string;
  otherskidPem: string;
  shortskidDer: string;
  p256Pem: string;
  p384Der: string;
  ed25519Pem: string;
  /** SHA-1 of the subjectPublicKey of m.rsa as openssl computed it (the hash SKID). */
  rsaSkid: string;
  p256Skid: string;
}

async function makeCert(dir: string, key: KeyObject, name: string, ext: string, der: boolean): Promise<string> {
  const keyPath = join(dir, `${name}.key.pem`);
  await writeFile(keyPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const cnf = join(dir, 'openssl.cnf');
  if (!existsSync(cnf)) await writeFile(cnf, OPENSSL_CNF);
  const out = join(dir, `${name}.crt.${der ? 'der' : 'pem'}`);
  const r = await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    keyPath,
    '-config',
    cnf,
    '-extensions',
    ext,
    '-days',
    '36500',
    '-outform',
    der ? 'DER' : 'PEM',
    '-out',
    out,
  ]);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

async function skidOf(cert: string): Promise<string> {
  const r = await run('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectKeyIdentifier']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n')[1]!.trim().replace(/:/g, '').toLowerCase();
}

describe('certificates and keyids', () => {
  let c: Certs | undefined;
  let noOpenssl: string | undefined;

  before(async () => {
    if (!haveCommand('openssl')) {
      noOpenssl = 'needs the command openssl';
      return;
    }
    const dir = join(m.dir, 'certs');
    await mkdir(dir);
    const ed = generateKeyPairSync('ed25519').privateKey;
    const rsaPem = await makeCert(dir, m.rsa, 'rsa', 'skid', false);
    const p256Pem = await makeCert(dir, m.p256, 'p256', 'skid', false);
    c = {
      dir,
      rsaPem,
      rsaDer: await makeCert(dir, m.rsa, 'rsa-der', 'skid', true),
      noskidPem: await makeCert(dir, m.rsa, 'noskid', 'noskid', false),
      otherskidPem: await makeCert(dir, m.rsa, 'otherskid', 'otherskid', false),
      shortskidDer: await makeCert(dir, m.rsa, 'shortskid', 'shortskid', true),
      p256Pem,
      p384Der: await makeCert(dir, m.p384, 'p384', 'skid', true),
      ed25519Pem: await makeCert(dir, ed, 'ed25519', 'skid', false),
      rsaSkid: await skidOf(rsaPem),
      p256Skid: await skidOf(p256Pem),
    };
  });

  const need = (t: import('node:test').TestContext): Certs | undefined => {
    if (!c) skipOrFail(t, noOpenssl ?? 'certificates were not made');
    return c;
  };

  test('PEM and DER give the same keyid: the last 4 bytes of the SKID', async (t) => {
    const c = need(t);
    if (!c) return;
    const [pem] = await parseCertificates(await import('node:fs/promises').then((f) => f.readFile(c.rsaPem)), c.rsaPem);
    const [der] = await loadCertificates([c.rsaDer]);
    for (const cert of [pem!, der!]) {
      assert.equal(cert.keyid, c.rsaSkid.slice(-8));
      assert.equal(cert.keyidSource, 'skid');
      assert.equal(cert.skid?.toString('hex'), c.rsaSkid);
      assert.equal(cert.algorithm, 'rsa');
      assert.match(cert.subject, /CN=ima-sidecar unit test/);
    }
    assert.equal(pem!.source, c.rsaPem);
    assert.equal(der!.source, c.rsaDer);
  });

  test(
    "the hash SKID equals evmctl's computed keyid (SHA-1 " + 'of the subjectPublicKey bits), for RSA and EC',
    async (t) => {
      const c = need(t);
      if (!c) return;
      assert.equal(await keyidOfPublicKey(m.rsa), c.rsaSkid.slice(-8));
      assert.equal(await keyidOfPublicKey(m.p256), c.p256Skid.slice(-8));
      const [p256] = await loadCertificates([c.p256Pem]);
      assert.equal(p256!.keyid, c.p256Skid.slice(-8));
      assert.equal(p256!.algorithm, 'ecdsa-p256');
      const [p384] = await loadCertificates([c.p384Der]);
      assert.equal(p384!.algorithm, 'ecdsa-p384');
      assert.equal(p384!.keyid, await keyidOfPublicKey(m.p384));
    },
  );

  test('a certificate without SKID: computed keyid, with a warning naming the file', async (t) => {
    const c = need(t);
    if (!c) return;
    const warnings: string[] = [];
    const [cert] = await loadCertificates([c.noskidPem], (w) => warnings.push(w));
    assert.equal(cert!.skid, undefined);
    assert.equal(cert!.keyidSource, 'computed');
    assert.equal(cert!.keyid, await keyidOfPublicKey(m.rsa));
    assert.equal(warnings.length, 1);
    // The kernel tail-matches the keyid against serial || issuer Name DER too (x509_cert_parser.c): without SKID that
    // is the only keyid it can find the certificate by. The issuer here ends with O=test, so its tail is "test".
    assert.equal(cert!.issuerKeyid, Buffer.from('test').toString('hex'));
    assert.match(
      warnings[0]!,
      new RegExp(
        `^${c.noskidPem}: certificate has no subjectKeyIdentifier; ` +
          `using the keyid ${cert!.keyid} computed from its key \\(as ` +
          `evmctl does\\), which the kernel cannot match: it finds this ` +
          `certificate only by keyid 74657374 .*give --keyid 74657374`,
      ),
    );
  });

  test('a SKID that is not the key hash wins over the computed keyid', async (t) => {
    const c = need(t);
    if (!c) return;
    const warnings: string[] = [];
    const [cert] = await loadCertificates([c.otherskidPem], (w) => warnings.push(w));
    assert.equal(cert!.keyid, '01020304');
    assert.equal(cert!.keyidSource, 'skid');
    assert.notEqual(cert!.keyid, await keyidOfPublicKey(m.rsa));
    assert.deepEqual(warnings, []);
  });

  test('a SKID shorter than 4 bytes is zero-padded in front', async (t) => {
    const c = need(t);
    if (!c) return;
    const [cert] = await loadCertificates([c.shortskidDer]);
    assert.equal(cert!.keyid, '0000abcd');
    assert.equal(keyidFromSkid(Buffer.from('abcd', 'hex')), '0000abcd');
    assert.equal(keyidFromSkid(Buffer.from('0102030405', 'hex')), '02030405');
  });

  test('a PEM bundle gives every certificate, each named FILE#N', async (t) => {
    const c = need(t);
    if (!c) return;
    const { readFile } = await import('node:fs/promises');
    const bundle = join(c.dir, 'bundle.pem');
    await writeFile(
      bundle,
      Buffer.concat([
        await readFile(c.rsaPem),
        Buffer.from('some text between\n'),
        await readFile(c.p256Pem),
        await readFile(c.ed25519Pem),
      ]),
    );
    const certs = await loadCertificates([bundle]);
    assert.deepEqual(
      certs.map((x) => x.source),
      [`${bundle}#1`, `${bundle}#2`, `${bundle}#3`],
    );
    assert.deepEqual(
      certs.map((x) => x.algorithm),
      ['rsa', 'ecdsa-p256', undefined],
    );
    assert.equal(certs[0]!.keyid, c.rsaSkid.slice(-8));
    assert.equal(certs[1]!.keyid, c.p256Skid.slice(-8));
  });

  test(
    'a directory gives every certificate in it, in name ' + 'order; other files are skipped with a warning',
    async (t) => {
      const c = need(t);
      if (!c) return;
      const { copyFile } = await import('node:fs/promises');
      const dir = join(c.dir, 'trusted');
      await mkdir(dir);
      await copyFile(c.p256Pem, join(dir, 'b-p256.pem'));
      await copyFile(c.rsaDer, join(dir, 'a-rsa.der'));
      await writeFile(join(dir, 'c-readme.txt'), 'not a certificate\n');
      await mkdir(join(dir, 'd-subdir'));
      const warnings: string[] = [];
      const certs = await loadCertificates([dir], (w) => warnings.push(w));
      assert.deepEqual(
        certs.map((x) => x.source),
        [join(dir, 'a-rsa.der'), join(dir, 'b-p256.pem')],
      );
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /c-readme\.txt: skipped: /);
      const empty = join(c.dir, 'empty-dir');
      await mkdir(empty);
      await configError(() => loadCertificates([empty]), /empty-dir: no certificates in this directory/);
    },
  );

  test('files and directories mix; a symlinked certificate is read', async (t) => {
    const c = need(t);
    if (!c) return;
    const link = join(c.dir, 'link.pem');
    await symlink(c.p256Pem, link);
    const certs = await loadCertificates([c.rsaPem, link]);
    assert.deepEqual(
      certs.map((x) => x.algorithm),
      ['rsa', 'ecdsa-p256'],
    );
  });

  test('missing, garbage and private-key files given as certificates are ConfigErrors naming the file', async (t) => {
    const c = need(t);
    if (!c) return;
    const missing = join(c.dir, 'missing.der');
    await configError(
      () => loadCertificates([missing]),
      new RegExp(`^${missing}: cannot read certificate: no such file or directory \\(ENOENT\\)$`),
    );
    const garbage = await file('garbage.der', Buffer.from('\x30\x03\x02\x01\x01junk'));
    await configError(() => loadCertificates([garbage]), new RegExp(`^${garbage}: not an X\\.509 certificate$`));
    const keyPem = await file('key.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' }));
    await configError(() => loadCertificates([keyPem]), /key\.pem: a private key, not a certificate$/);
    const text = await file('text.pem', '-----BEGIN SOMETHING-----\nabc\n-----END SOMETHING-----\n');
    await configError(() => loadCertificates([text]), /text\.pem: no PEM certificate in it$/);
    const badPem = await file('bad.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await configError(() => loadCertificates([badPem]), /bad\.pem: not an X\.509 certificate$/);
  });

  test('no certificate given and no default present: a ConfigError naming the defaults', async (t) => {
    if (DEFAULT_CERTIFICATES.some((p) => existsSync(p))) return t.skip('a default certificate exists on this machine');
    await configError(
      () => loadCertificates(undefined),
      new RegExp(
        'no certificate given and none of the defaults exist ' +
          '\\(/etc/keys/x509_evm\\.der, /etc/keys/x509_ima\\.der\\); use --cert',
      ),
    );
    await configError(() => loadCertificates([]), /use --cert/);
  });

  test('computedKeyid is the last 4 bytes of SHA-1', () => {
    const bits = Buffer.from('some public key bits');
    assert.equal(computedKeyid(bits), createHash('sha1').update(bits).digest().subarray(16).toString('hex'));
  });

  describe('signers', () => {
    const quiet = () => {};

    test('with a certificate: the SKID keyid, and the certificate kept', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file('rsa.pem', m.rsa.export({ type: 'pkcs1', format: 'pem' }));
      const warnings: string[] = [];
      const s = await resolveSigner({ keyPath, certPath: c.otherskidPem }, (w) => warnings.push(w));
      assert.equal(s.keyid, '01020304');
      assert.equal(s.keyidSource, 'skid');
      assert.equal(s.cert?.source, c.otherskidPem);
      assert.deepEqual(warnings, []);
      const der = await resolveSigner({ keyPath, certPath: c.rsaDer }, quiet);
      assert.equal(der.keyid, c.rsaSkid.slice(-8));
    });

    test('with a bundle: the certificate that matches the key', async (t) => {
      const c = need(t);
      if (!c) return;
      const { readFile } = await import('node:fs/promises');
      const bundle = join(c.dir, 'signer-bundle.pem');
      await writeFile(bundle, Buffer.concat([await readFile(c.p256Pem), await readFile(c.otherskidPem)]));
      const keyPath = await file('rsa.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' }));
      const s = await resolveSigner({ keyPath, certPath: bundle }, quiet);
      assert.equal(s.keyid, '01020304');
      assert.equal(s.cert?.source, `${bundle}#2`);
    });

    test('--keyid overrides the certificate and is normalised to 8 lower-case digits', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file('rsa.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' }));
      const s = await resolveSigner({ keyPath, certPath: c.rsaPem, keyid: '0xDEADBEEF' }, quiet);
      assert.deepEqual([s.keyid, s.keyidSource], ['deadbeef', 'given']);
      const short = await resolveSigner({ keyPath, keyid: 'abc' }, quiet);
      assert.equal(short.keyid, '00000abc');
      assert.equal(parseKeyidHex('07615A63'), '07615a63');
      for (const bad of ['', '0x', 'xyz', '123456789', '-1', 'de ad']) {
        await configError(() => parseKeyidHex(bad), /--keyid must be up to 8 hex digits/);
      }
    });

    test('without a certificate: the computed keyid, with a warning', async () => {
      const keyPath = await file('p256.pem', m.p256.export({ type: 'sec1', format: 'pem' }));
      const warnings: string[] = [];
      const s = await resolveSigner({ keyPath }, (w) => warnings.push(w));
      assert.equal(s.keyidSource, 'computed');
      assert.equal(s.keyid, await keyidOfPublicKey(m.p256));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /no --cert given: keyid [0-9a-f]{8} computed from the public key/);
    });

    test('a certificate without SKID: the computed keyid, with a warning', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file('rsa.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' }));
      const warnings: string[] = [];
      const s = await resolveSigner({ keyPath, certPath: c.noskidPem }, (w) => warnings.push(w));
      assert.equal(s.keyidSource, 'computed');
      assert.equal(s.keyid, await keyidOfPublicKey(m.rsa));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /certificate has no subjectKeyIdentifier/);
    });

    test('a certificate that does not match the key is refused, even with --keyid', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file('other.pem', m.other.export({ type: 'pkcs8', format: 'pem' }));
      await configError(
        () => resolveSigner({ keyPath, certPath: c.p256Pem }, quiet),
        new RegExp(`^${c.p256Pem}: the certificate does not match the private key ${keyPath}$`),
      );
      await configError(
        () => resolveSigner({ keyPath, certPath: c.rsaPem, keyid: '01020304' }, quiet),
        /does not match the private key/,
      );
    });

    test('a missing certificate, and a key that is not there, are ConfigErrors', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file('rsa.pem', m.rsa.export({ type: 'pkcs8', format: 'pem' }));
      await configError(
        () => resolveSigner({ keyPath, certPath: join(c.dir, 'nope.pem') }, quiet),
        /nope\.pem: cannot read certificate: no such file or directory/,
      );
      await configError(
        () => resolveSigner({ keyPath: join(c.dir, 'nokey.pem'), certPath: c.rsaPem }, quiet),
        /nokey\.pem: cannot read private key/,
      );
    });

    test('an encrypted key with its password through the signer', async (t) => {
      const c = need(t);
      if (!c) return;
      const keyPath = await file(
        'enc.pem',
        m.rsa.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD }),
      );
      const s = await resolveSigner({ keyPath, certPath: c.rsaPem, env: { EVMCTL_KEY_PASSWORD: PASSWORD } }, quiet);
      assert.equal(s.keyid, c.rsaSkid.slice(-8));
      await configError(() => resolveSigner({ keyPath, certPath: c.rsaPem, env: {} }, quiet), /encrypted/);
    });
  });
});
