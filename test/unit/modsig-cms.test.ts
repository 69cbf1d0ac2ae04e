// The CMS of appended signatures (src/crypto/cms.ts): parsing sign-file's output (golden fixtures), the
// kernel's structural rules, matching signers to certificates, and rebuilding sign-file's DER byte for byte.
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashAlgoByName } from '../../src/codec/hash-algo.js';
import { splitAppended } from '../../src/codec/modsig.js';
import { parseCertificates } from '../../src/crypto/certificate.js';
import type { Certificate } from '../../src/crypto/certificate.js';
import {
  buildModuleCms,
  buildRefusal,
  certMatchesSid,
  describeCms,
  kernelRules,
  parseCms,
} from '../../src/crypto/cms.js';
import { rsaSignDigest } from '../../src/crypto/signature.js';
import { FormatError } from '../../src/errors.js';
import { fixture, loadManifest, ManifestEntry, run, tempDir } from '../helpers/cli.js';
import { missing, skipOrFail } from '../helpers/skip.js';

interface ModsigEntry extends ManifestEntry {
  payload: string;
  key: string;
  algo: string;
  cert: string;
  keyid: string;
  signer_id: 'issuerAndSerialNumber' | 'subjectKeyIdentifier';
  signer_info_version: number;
  payload_size: number;
  sig_len: number;
}

function modsigEntries(t: TestContext): ModsigEntry[] {
  const list = (loadManifest()?.files.filter((f) => f.kind === 'modsig') ?? []) as ModsigEntry[];
  if (list.length === 0) skipOrFail(t, 'no modsig fixtures in test/fixtures/manifest.json');
  return list;
}

async function certOf(rel: string): Promise<Certificate> {
  return (await parseCertificates(readFileSync(fixture(rel)), rel))[0]!;
}

function certEntry(rel: string): ManifestEntry | undefined {
  return loadManifest()?.files.find((f) => f.file === rel);
}

describe('parsing sign-file output', () => {
  test('every golden modsig parses with the fields sign-file writes', async (t) => {
    for (const e of modsigEntries(t)) {
      const s = splitAppended(readFileSync(fixture(e.file)))!;
      const cms = await parseCms(s.cms);
      assert.equal(cms.signers.length, 1, e.file);
      const signer = cms.signers[0]!;
      assert.equal(signer.version, e.signer_info_version, `${e.file}: SignerInfo version`);
      assert.equal(cms.signedDataVersion, e.signer_info_version, `${e.file}: SignedData version follows the signer`);
      assert.equal(signer.sid.kind, e.signer_id === 'subjectKeyIdentifier' ? 'skid' : 'issuer-serial', e.file);
      assert.equal(signer.digestAlgo?.name, e.algo, e.file);
      assert.equal(signer.keyType, e.key.startsWith('rsa') ? 'rsa' : 'ecdsa', e.file);
      assert.equal(
        signer.signatureAlgorithmName,
        e.key.startsWith('rsa') ? 'rsaEncryption' : `ecdsa-with-${e.algo.toUpperCase()}`,
        e.file,
      );
      assert.equal(signer.signedAttributes, false, e.file);
      assert.equal(signer.unsignedAttributes, false, e.file);
      assert.equal(cms.certificates, 0, e.file);
      assert.equal(cms.hasContent, false, `${e.file}: detached`);
      assert.equal(cms.contentType, '1.2.840.113549.1.7.1', `${e.file}: id-data`);
      assert.equal(cms.trailingBytes, 0, e.file);
      assert.deepEqual(kernelRules(cms), { problems: [], warnings: [] }, e.file);
      const ce = certEntry(e.cert);
      if (signer.sid.kind === 'skid')
        assert.equal(signer.sid.skid.toString('hex'), ce?.skid, `${e.file}: the SKID is the certificate's`);
      else
        assert.equal(
          signer.sid.serial.toString('hex'),
          (ce as { serial?: string } | undefined)?.serial,
          `${e.file}: the serial is the certificate's`,
        );
      const d = describeCms(cms);
      assert.equal(d.signerId, signer.sid.kind);
      assert.equal(d.digestAlgorithm, e.algo);
    }
  });

  test('the signer identifier matches its certificate and no other', async (t) => {
    const other = await certOf('keys/other-rsa2048.crt.pem');
    const otherSkid = await certOf('keys/rsa2048-otherskid.crt.pem');
    for (const e of modsigEntries(t)) {
      const cms = await parseCms(splitAppended(readFileSync(fixture(e.file)))!.cms);
      const sid = cms.signers[0]!.sid;
      assert.equal(await certMatchesSid(await certOf(e.cert), sid), true, e.file);
      assert.equal(await certMatchesSid(other, sid), false, `${e.file}: other key`);
      // Same key and issuer name, another serial and another SKID: the kernel would not match it either.
      assert.equal(await certMatchesSid(otherSkid, sid), false, `${e.file}: otherskid cert`);
    }
  });
});

describe('building the SignedData sign-file builds', () => {
  test(
    "with the signature taken from sign-file's output, the " +
      'DER is byte-identical (RSA and ECDSA, both signer forms)',
    async (t) => {
      for (const e of modsigEntries(t)) {
        const s = splitAppended(readFileSync(fixture(e.file)))!;
        const theirs = await parseCms(s.cms);
        const ours = await buildModuleCms({
          cert: await certOf(e.cert),
          hashAlgo: hashAlgoByName(e.algo)!,
          signature: theirs.signers[0]!.signature,
          signerId: theirs.signers[0]!.sid.kind,
        });
        assert.equal(ours.toString('hex'), s.cms.toString('hex'), e.file);
      }
    },
  );

  test("RSA: our signature over the payload digest gives sign-file's whole CMS", async (t) => {
    for (const e of modsigEntries(t).filter((x) => x.key.startsWith('rsa'))) {
      const s = splitAppended(readFileSync(fixture(e.file)))!;
      const algo = hashAlgoByName(e.algo)!;
      const key = createPrivateKey(readFileSync(fixture(`keys/${e.key}.key.pem`)));
      const signature = rsaSignDigest(key, algo, createHash(algo.nodeName!).update(s.payload).digest());
      const ours = await buildModuleCms({
        cert: await certOf(e.cert),
        hashAlgo: algo,
        signature,
        signerId: e.signer_id === 'subjectKeyIdentifier' ? 'skid' : 'issuer-serial',
      });
      assert.deepEqual(ours, s.cms, e.file);
    }
  });

  test('refusals: no SKID for skid, unsupported keys, hashes without a CMS identifier', async () => {
    const noskid = await certOf('keys/rsa2048-noskid.crt.pem');
    const rsa = await certOf('keys/rsa2048.crt.pem');
    const ed = await certOf('keys/ed25519.crt.pem');
    const sha256 = hashAlgoByName('sha256')!;
    assert.match(buildRefusal(noskid, sha256, 'skid') ?? '', /no subjectKeyIdentifier.*sign-file -k/);
    assert.equal(buildRefusal(noskid, sha256, 'issuer-serial'), undefined);
    assert.match(buildRefusal(ed, sha256, 'issuer-serial') ?? '', /cannot make a kernel-verifiable signature/);
    assert.match(buildRefusal(rsa, hashAlgoByName('rmd160')!, 'issuer-serial') ?? '', /cannot be used in a PKCS#7/);
    await assert.rejects(
      buildModuleCms({ cert: noskid, hashAlgo: sha256, signature: Buffer.alloc(256), signerId: 'skid' }),
      FormatError,
    );
  });
});

describe("the kernel's rules on CMS that sign-file would not make (openssl cms)", () => {
  async function opensslCms(t: TestContext, extra: string[]): Promise<Buffer | undefined> {
    const why = missing({ commands: ['openssl'] });
    if (why) {
      skipOrFail(t, why);
      return undefined;
    }
    const dir = await tempDir(t);
    const payload = join(dir, 'payload');
    writeFileSync(payload, 'payload bytes\n');
    const out = join(dir, 'cms.der');
    const r = await run('openssl', [
      'cms',
      '-sign',
      '-binary',
      '-outform',
      'DER',
      '-in',
      payload,
      '-signer',
      fixture('keys/rsa2048.crt.pem'),
      '-inkey',
      fixture('keys/rsa2048.key.pem'),
      '-md',
      'sha256',
      '-out',
      out,
      ...extra,
    ]);
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(out);
  }

  test('-noattr -nocerts: what sign-file makes, no problems', async (t) => {
    const der = await opensslCms(t, ['-noattr', '-nocerts']);
    if (!der) return;
    const cms = await parseCms(der);
    assert.deepEqual(kernelRules(cms).problems, []);
  });

  test('signed attributes (openssl cms -sign without -noattr): refused', async (t) => {
    const der = await opensslCms(t, ['-nocerts']);
    if (!der) return;
    const cms = await parseCms(der);
    assert.equal(cms.signers[0]!.signedAttributes, true);
    assert.ok(
      kernelRules(cms).problems.some((p) => /signed attributes are present/.test(p)),
      kernelRules(cms).problems.join('; '),
    );
  });

  test('embedded content (-nodetach): refused', async (t) => {
    const der = await opensslCms(t, ['-noattr', '-nocerts', '-nodetach']);
    if (!der) return;
    const cms = await parseCms(der);
    assert.equal(cms.hasContent, true);
    assert.ok(kernelRules(cms).problems.some((p) => /embeds its content/.test(p)));
  });

  test('certificates included: accepted with a warning', async (t) => {
    const der = await opensslCms(t, ['-noattr']);
    if (!der) return;
    const cms = await parseCms(der);
    assert.equal(cms.certificates, 1);
    const rules = kernelRules(cms);
    assert.deepEqual(rules.problems, []);
    assert.ok(rules.warnings.some((w) => /carries 1 certificate/.test(w)));
  });
});

describe('parse errors are FormatErrors with a reason', () => {
  const rows: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /empty PKCS#7/],
    ['not DER', Buffer.from('hello world'), /not a PKCS#7 message/],
    ['a bare INTEGER', Buffer.from('020101', 'hex'), /not a PKCS#7 message/],
    [
      'ContentInfo of id-data',
      Buffer.from('300f06092a864886f70d010701a0020400', 'hex'),
      /content type is id-data, not signedData/,
    ],
    [
      'signedData with an INTEGER inside',
      Buffer.from('301006092a864886f70d010702a003020101', 'hex'),
      /malformed PKCS#7 SignedData/,
    ],
  ];
  for (const [name, bytes, reason] of rows) {
    test(name, async () => {
      await assert.rejects(parseCms(bytes), (e: unknown) => e instanceof FormatError && reason.test(e.reason));
    });
  }
});
