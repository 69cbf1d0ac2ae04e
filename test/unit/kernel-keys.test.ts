// What the kernel's asymmetric keys take: P-192 keys next to the other curves, the key and hash pairs sign
// refuses (RSA with sm3 or streebog, ECDSA with rmd160 or sm3, md5 for all), the weak keys it warns about
// (RSA below 2048 bits, P-192), the digest values hash writes (md5 and sha1 as 0x01, md4 refused), and key
// files that carry their certificate, as the kernel's certs/signing_key.pem does.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashAlgoByName, hashingAlgoNames, hashingRefusal } from '../../src/codec/hash-algo.js';
import { decodeImaValue, digestValue, encodeImaValue } from '../../src/codec/ima-value.js';
import { classifyKey, parsePrivateKey } from '../../src/crypto/keys.js';
import { kernelPairs, keyWeakness, pairingRefusal } from '../../src/crypto/kernel-support.js';
import { loadKeyFile } from '../../src/crypto/key-file.js';
import { resolveSigner } from '../../src/crypto/signer.js';
import { signingAlgo } from '../../src/cli/common.js';
import { ConfigError } from '../../src/errors.js';
import { run, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const algo = (n: string) => hashAlgoByName(n)!;
const pem = (k: KeyObject): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('key types', () => {
  test('P-192 keys are taken, as the kernel takes them (ecdsa-nist-p192)', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'prime192v1' }).privateKey;
    assert.deepEqual(classifyKey(k), { algorithm: 'ecdsa-p192', bits: 192 });
    const parsed = parsePrivateKey(Buffer.from(pem(k)), 'p192.pem');
    assert.equal(parsed.algorithm, 'ecdsa-p192');
  });

  test('weak keys the kernel takes are named: RSA below 2048 bits and P-192', () => {
    assert.match(keyWeakness({ algorithm: 'rsa', bits: 1024 })!, /^RSA-1024 is weak \(below 112-bit security/);
    assert.match(keyWeakness({ algorithm: 'rsa', bits: 1536 })!, /^RSA-1536 is weak/);
    assert.match(keyWeakness({ algorithm: 'ecdsa-p192', bits: 192 })!, /^P-192 is weak \(96-bit security\)/);
    for (const k of [
      { algorithm: 'rsa', bits: 2048 },
      { algorithm: 'rsa', bits: 4096 },
      { algorithm: 'ecdsa-p256', bits: 256 },
      { algorithm: 'ecdsa-p521', bits: 521 },
    ] as const)
      assert.equal(keyWeakness(k), undefined, `${k.algorithm} ${k.bits}`);
  });
});

describe('key and hash pairs', () => {
  const rsa = { algorithm: 'rsa' } as const;
  const ec = { algorithm: 'ecdsa-p256' } as const;

  test("RSA: every hash with a DigestInfo in the kernel's table; sm3 and streebog have none", () => {
    for (const n of ['sha1', 'rmd160', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-512'])
      assert.equal(pairingRefusal(rsa, algo(n)), undefined, n);
    assert.equal(
      pairingRefusal(rsa, algo('sm3')),
      'RSA signatures with sm3 cannot be verified by the kernel: its PKCS#1 DigestInfo table has no sm3',
    );
    assert.match(pairingRefusal(rsa, algo('streebog256'))!, /DigestInfo table has no streebog256/);
  });

  test('ECDSA: sha1, sha2 and sha3 only', () => {
    for (const n of ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-384'])
      assert.ok(kernelPairs('ecdsa-p192', algo(n)), n);
    for (const n of ['rmd160', 'sm3', 'streebog512', 'md5'])
      assert.match(pairingRefusal(ec, algo(n))!, new RegExp(`^ECDSA signatures with ${n} cannot be verified`), n);
  });

  test('sign refuses with one line: md5 as weak, then the pair, then what cannot be computed here', () => {
    const refusal = (name: string, key?: { algorithm: 'rsa' | 'ecdsa-p256' }): string => {
      try {
        signingAlgo(name, key);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        assert.ok(!e.message.includes('\n'));
        return e.message;
      }
      return '';
    };
    assert.match(refusal('md5', rsa), /md5 is too weak/);
    assert.match(refusal('sm3', rsa), /DigestInfo table has no sm3/);
    assert.match(refusal('streebog256', rsa), /DigestInfo table has no streebog256/);
    assert.match(refusal('rmd160', ec), /ECDSA signatures with rmd160/);
    assert.match(refusal('wp256'), /not available/);
    assert.equal(refusal('rmd160', rsa), '');
    assert.equal(refusal('sha3-256', ec), '');
  });
});

describe('digest values', () => {
  test('md5 and sha1 in the 0x01 form, the rest as 0x04; a 17-byte 0x01 value decodes as md5', () => {
    const md5 = createHash('md5').update('x').digest();
    const v = digestValue(algo('md5'), md5);
    assert.equal(v.type, 0x01);
    const bytes = encodeImaValue(v);
    assert.equal(bytes.length, 17);
    assert.equal(decodeImaValue(bytes).value.algo.name, 'md5');
    assert.equal(digestValue(algo('sha1'), createHash('sha1').update('x').digest()).type, 0x01);
    for (const n of ['rmd160', 'sm3', 'sha224', 'sha256', 'sha3-512']) {
      const d = digestValue(algo(n), Buffer.alloc(algo(n).digestSize, 1));
      assert.equal(d.type, 0x04, n);
      assert.equal(encodeImaValue(d)[1], algo(n).id);
    }
  });

  test('md4 is refused with a reason; rmd160 and sm3 are computed here', () => {
    assert.equal(
      hashingRefusal(algo('md4')),
      'hash algorithm md4 cannot be written: evmctl puts it in the 0x01 form, which the kernel reads as md5',
    );
    const names = hashingAlgoNames();
    for (const n of ['md5', 'sha1', 'rmd160', 'sm3', 'sha256', 'sha3-256']) assert.ok(names.includes(n), n);
    assert.ok(!names.includes('md4'));
    assert.ok(!names.includes('streebog256'));
  });
});

describe('key files that carry their certificate', () => {
  let dir: string;
  let rsa: KeyObject;
  let keyPem: string;
  let certPem: string;
  let otherCertPem: string;
  let noOpenssl: string | undefined;

  before(async () => {
    dir = await tempDir();
    if (!haveCommand('openssl')) {
      noOpenssl = 'needs the command openssl';
      return;
    }
    rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    keyPem = join(dir, 'key.pem');
    await writeFile(keyPem, pem(rsa));
    const cert = async (key: string, out: string, skid: string): Promise<void> => {
      const r = await run('openssl', [
        'req',
        '-new',
        '-x509',
        '-key',
        key,
        '-subj',
        '/CN=signing key',
        '-days',
        '30',
        '-addext',
        `subjectKeyIdentifier=${skid}`,
        '-out',
        out,
      ]);
      assert.equal(r.status, 0, r.stderr);
    };
    certPem = join(dir, 'cert.pem');
    await cert(keyPem, certPem, '0a:0b:0c:0d:0e:0f:10:11');
    const other = join(dir, 'other.pem');
    await writeFile(other, pem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
    otherCertPem = join(dir, 'other-cert.pem');
    await cert(other, otherCertPem, 'hash');
  });

  test('the key first or the certificate first: the keyid is the certificate SKID, without a warning', async (t) => {
    if (noOpenssl) return skipOrFail(t, noOpenssl);
    for (const [name, order] of [
      ['signing_key.pem', [keyPem, certPem]],
      ['cert-first.pem', [certPem, keyPem]],
    ] as const) {
      const both = join(dir, name);
      await writeFile(both, Buffer.concat(await Promise.all(order.map((p) => readFile(p)))));
      const kf = await loadKeyFile(both);
      assert.equal(kf.certificates.length, 1);
      const warnings: string[] = [];
      const s = await resolveSigner({ keyPath: both }, (w) => warnings.push(w));
      assert.equal(s.keyid, '0e0f1011');
      assert.equal(s.keyidSource, 'skid');
      assert.equal(s.cert?.source, both);
      assert.deepEqual(warnings, []);
    }
  });

  test('--cert still wins, and must match; a certificate in the key file that is not its own is refused', async (t) => {
    if (noOpenssl) return skipOrFail(t, noOpenssl);
    const both = join(dir, 'both.pem');
    await writeFile(both, Buffer.concat([await readFile(keyPem), await readFile(certPem)]));
    const s = await resolveSigner({ keyPath: both, certPath: certPem }, () => {});
    assert.equal(s.cert?.source, certPem);
    const mixed = join(dir, 'mixed.pem');
    await writeFile(mixed, Buffer.concat([await readFile(keyPem), await readFile(otherCertPem)]));
    await assert.rejects(
      resolveSigner({ keyPath: mixed }, () => {}),
      (e: unknown) =>
        e instanceof ConfigError && /certificate beside the key does not match the private key/.test(e.message),
    );
    // --keyid still overrides, and the certificate is kept for modsig.
    const given = await resolveSigner({ keyPath: both, keyid: 'deadbeef' }, () => {});
    assert.deepEqual([given.keyid, given.keyidSource, given.cert?.source], ['deadbeef', 'given', both]);
  });

  test('a weak key is warned about once, naming the key', async () => {
    const small = join(dir, 'rsa1024.pem');
    await writeFile(small, pem(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey));
    const warnings: string[] = [];
    await resolveSigner({ keyPath: small, keyid: '01020304' }, (w) => warnings.push(w));
    assert.deepEqual(warnings, [
      `${small}: RSA-1024 is weak (below 112-bit security; a kernel in FIPS mode refuses it): use 2048 bits or more`,
    ]);
  });
});
