// Property and fuzz tests for the certificate parser (fast-check): whatever the bytes, DER or PEM, parsing
// gives a certificate with well-formed keyids or a one-line ConfigError naming the file, never an error of
// another kind. Certificates built here with chosen SKIDs, serial numbers and issuers give the kernel's keyids:
// the SKID's last 4 bytes, else SHA-1 of the key bits, and the tail of serial || issuer as encoded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { Certificate, keyidFromSkid, parseCertificateDer, parseCertificates } from '../../src/crypto/certificate.js';
import { keyidOfPublicKey } from '../../src/crypto/signer.js';
import { ConfigError } from '../../src/errors.js';
import { FIXTURES } from '../helpers/cli.js';

const RUNS = 500;
const KEYS = join(FIXTURES, 'keys');
const SOURCE = 'c.crt';

const fixtures = readdirSync(KEYS)
  .filter((n) => n.endsWith('.crt.der'))
  .sort()
  .map((name) => ({ name, der: readFileSync(join(KEYS, name)) }));

/** Checks what a parse gave: well-formed certificates, or one ConfigError naming the file on one line. */
async function parsesCleanly(bytes: Buffer, source = SOURCE): Promise<Certificate[] | undefined> {
  try {
    const certs = await parseCertificates(bytes, source);
    for (const c of certs) {
      assert.match(c.keyid, /^[0-9a-f]{8}$/);
      assert.match(c.issuerKeyid, /^[0-9a-f]{8}$/);
      assert.equal(c.keyidSource, c.skid ? 'skid' : 'computed');
      if (c.skid) {
        assert.ok(c.skid.length > 0, 'an empty SKID counts as none');
        assert.equal(c.keyid, keyidFromSkid(c.skid));
      }
      assert.ok(c.der.includes(c.issuerDer), 'the issuer is taken as encoded');
    }
    return certs;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    assert.ok(e.message.startsWith(`${source}`), `names the file: ${e.message}`);
    assert.ok(!e.message.includes('\n'), `one line: ${JSON.stringify(e.message)}`);
    return undefined;
  }
}

describe('certificate parser: hostile input', () => {
  test('the fixtures parse', async () => {
    assert.ok(fixtures.length >= 9, 'fixture certificates are present');
    for (const f of fixtures) {
      const certs = await parsesCleanly(f.der, f.name);
      assert.equal(certs?.length, 1, f.name);
    }
  });

  test('every truncation of every fixture certificate is a ConfigError', async () => {
    for (const f of fixtures) {
      for (let n = 0; n < f.der.length; n++) {
        const certs = await parsesCleanly(f.der.subarray(0, n));
        assert.equal(certs, undefined, `${f.name} cut to ${n} bytes parsed`);
      }
    }
  });

  test('a key OpenSSL cannot decode is a ConfigError (it decodes the key only when asked)', async () => {
    const der = Buffer.from(fixtures.find((f) => f.name === 'ed25519.crt.der')!.der);
    // SubjectPublicKeyInfo { AlgorithmIdentifier { 1.3.101.112 } ...}: make the OID 0.0.101.112.
    const at = der.indexOf(Buffer.from('302a300506032b6570', 'hex'));
    assert.ok(at > 0);
    der[at + 6] = 0;
    await assert.rejects(parseCertificateDer(der, SOURCE), {
      name: 'ConfigError',
      message: `${SOURCE}: cannot read the certificate's public key`,
    });
  });

  test('random bytes, and random bytes behind a SEQUENCE header', async () => {
    const sequence = fc
      .uint8Array({ minLength: 0, maxLength: 600 })
      .map((u) => Buffer.concat([Buffer.from([0x30, 0x82, u.length >> 8, u.length & 0xff]), u]));
    const anything = fc.uint8Array({ minLength: 0, maxLength: 600 }).map((u) => Buffer.from(u));
    await fc.assert(
      fc.asyncProperty(fc.oneof(anything, sequence), async (b) => {
        await parsesCleanly(b);
      }),
      { numRuns: RUNS },
    );
  });

  test('fixture certificates with bytes changed, cut short or followed by more', async () => {
    const mutated = fc
      .record({
        cert: fc.constantFrom(...fixtures),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        end: fc.oneof(fc.constant('as is'), fc.constant('cut'), fc.constant('more')),
        cut: fc.nat(),
        more: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      })
      .map(({ cert, edits, end, cut, more }) => {
        let b = Buffer.from(cert.der);
        for (const [at, v] of edits) b[at % b.length] = v;
        if (end === 'cut') b = b.subarray(0, cut % b.length);
        if (end === 'more') b = Buffer.concat([b, more]);
        return b;
      });
    await fc.assert(
      fc.asyncProperty(mutated, async (b) => {
        await parsesCleanly(b);
      }),
      { numRuns: RUNS * 4 },
    );
  });

  test('PEM: garbage, mutated and several certificates in one file', async () => {
    const block = (der: Uint8Array) =>
      `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`;
    const der = fc.oneof(
      fc.constantFrom(...fixtures.map((f) => f.der)),
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(fc.constantFrom(...fixtures.map((f) => f.der)), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([d, at, v]) => {
          const b = Buffer.from(d);
          b[at % b.length] = v;
          return b;
        }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(der, { minLength: 1, maxLength: 3 }),
        fc.string({ maxLength: 20 }),
        async (ders, junk) => {
          const text = junk + ders.map(block).join(junk);
          const certs = await parsesCleanly(Buffer.from(text, 'latin1'));
          if (certs) assert.equal(certs.length, ders.length);
        },
      ),
      { numRuns: RUNS },
    );
    // A bad certificate in a bundle is named by its place in it.
    const bad = block(fixtures[0]!.der) + block(fixtures[0]!.der.subarray(0, 100));
    await assert.rejects(parseCertificates(Buffer.from(bad), SOURCE), {
      name: 'ConfigError',
      message: `${SOURCE}#2: not an X.509 certificate`,
    });
  });
});

// ---- certificates built here -------------------------------------------------------------------------------

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const publicKey = createPublicKey(readFileSync(join(KEYS, 'rsa2048.pub.pem')));
const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });

interface Built {
  readonly der: Buffer;
  readonly skid?: Uint8Array;
  readonly serial: Uint8Array;
  readonly issuerDer: Buffer;
}

/** Makes a certificate for the fixture RSA key. OpenSSL does not check a signature when it parses: none is made. */
function buildCertificate(opts: {
  skid?: Uint8Array;
  skidValue?: asn1js.BaseBlock;
  serial: Uint8Array;
  issuer: readonly string[];
  version: 0 | 2;
}): Built {
  const cert = new pkijs.Certificate();
  cert.version = opts.version;
  cert.serialNumber = new asn1js.Integer({ valueHex: new Uint8Array(opts.serial) });
  cert.signature = new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_WITH_RSA, algorithmParams: new asn1js.Null() });
  cert.signatureAlgorithm = cert.signature;
  cert.issuer.typesAndValues = opts.issuer.map(
    (value) => new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value }) }),
  );
  cert.subject.typesAndValues = [
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.10', value: new asn1js.Utf8String({ value: 'subject' }) }),
  ];
  cert.notBefore.value = new Date(Date.UTC(2024, 0, 1));
  cert.notAfter.value = new Date(Date.UTC(2034, 0, 1));
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(new Uint8Array(publicKeyDer));
  const skidValue = opts.skidValue ?? (opts.skid && new asn1js.OctetString({ valueHex: new Uint8Array(opts.skid) }));
  if (opts.version === 2 && skidValue) {
    cert.extensions = [
      new pkijs.Extension({ extnID: '2.5.29.19', extnValue: new pkijs.BasicConstraints({}).toSchema().toBER(false) }),
      new pkijs.Extension({ extnID: '2.5.29.14', extnValue: skidValue.toBER(false) }),
    ];
  }
  cert.signatureValue = new asn1js.BitString({ valueHex: new Uint8Array(256).fill(0x5a) });
  const issuerDer = Buffer.from(cert.issuer.toSchema().toBER(false));
  return { der: Buffer.from(cert.toSchema(true).toBER(false)), skid: opts.skid, serial: opts.serial, issuerDer };
}

/** A serial number's contents octets as DER has them: minimal, positive. */
const serialArb = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((u) => {
  let b = Buffer.from(u);
  while (b.length > 1 && b[0] === 0 && !(b[1]! & 0x80)) b = b.subarray(1);
  return b[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b;
});

const nameArb = fc.string({ minLength: 1, maxLength: 24, unit: fc.constantFrom(...'abcxyzABC019 -.é') });

describe('certificate parser: keyids of certificates built here', () => {
  test('SKID (any length), serial and issuer give the kernel keyids', async () => {
    const computed = await keyidOfPublicKey(publicKey);
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.uint8Array({ minLength: 0, maxLength: 40 }), { nil: undefined }),
        serialArb,
        fc.array(nameArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom<0 | 2>(0, 2, 2),
        async (skid, serial, issuer, version) => {
          const b = buildCertificate({ skid, serial, issuer, version });
          const c = await parseCertificateDer(b.der, SOURCE);
          const hasSkid = version === 2 && skid !== undefined && skid.length > 0;
          assert.equal(c.skid?.toString('hex'), hasSkid ? Buffer.from(skid!).toString('hex') : undefined);
          assert.equal(c.keyidSource, hasSkid ? 'skid' : 'computed');
          assert.equal(c.keyid, hasSkid ? keyidFromSkid(skid!) : computed);
          assert.deepEqual(c.serialBytes, Buffer.from(serial));
          assert.deepEqual(c.issuerDer, b.issuerDer);
          const tail = Buffer.concat([serial, b.issuerDer]);
          assert.equal(c.issuerKeyid, tail.subarray(tail.length - 4).toString('hex'));
          // The same serial number OpenSSL reads (it prints no leading zero byte).
          assert.equal(BigInt(`0x${c.serialNumber}`), BigInt(`0x${Buffer.from(serial).toString('hex')}`));
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('a SKID that is not an OCTET STRING is a ConfigError', async () => {
    for (const skidValue of [new asn1js.Integer({ value: 5 }), new asn1js.Sequence({ value: [] })]) {
      const b = buildCertificate({ skidValue, serial: Buffer.from([1]), issuer: ['ca'], version: 2 });
      await assert.rejects(parseCertificateDer(b.der, SOURCE), {
        name: 'ConfigError',
        message: `${SOURCE}: cannot parse the certificate: subjectKeyIdentifier is not an OCTET STRING`,
      });
    }
  });
});
