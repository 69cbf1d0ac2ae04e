// Signature bytes: RSA over a digest equals `openssl dgst -sign`, ECDSA verifies with openssl, v3 signs
// struct ima_file_id, verification tells a changed file from a wrong key, malformed signatures are simply
// not valid, and streaming gives the same digest as hashing at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashAlgoByName } from '../../src/codec/hash-algo.js';
import { imaFileId } from '../../src/codec/ima-value.js';
import { DigestSink, digestBytes, ONE_READ, streamHandle, streamSmallSync } from '../../src/crypto/digest.js';
import {
  ContentSigner,
  ContentVerifier,
  digestInfo,
  rsaSignDigest,
  rsaVerifyDigest,
} from '../../src/crypto/signature.js';
import { FormatError } from '../../src/errors.js';
import { removeTempDir, run, tempDir } from '../helpers/cli.js';
import { haveCommand, skipOrFail } from '../helpers/skip.js';

const algo = (name: string) => hashAlgoByName(name)!;

let dir: string;
let rsa: { privateKey: KeyObject; publicKey: KeyObject };
let p256: { privateKey: KeyObject; publicKey: KeyObject };
let p384: { privateKey: KeyObject; publicKey: KeyObject };
let otherRsa: { privateKey: KeyObject; publicKey: KeyObject };
const content = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

before(async () => {
  dir = await tempDir();
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
});

after(async () => {
  if (dir) await removeTempDir(dir);
});

function signWhole(
  key: KeyObject,
  algoName: string,
  version: 2 | 3,
  data: Buffer = content,
  hashType: 0x03 | 0x06 = 0x03,
) {
  const s = new ContentSigner(key, algo(algoName), version, hashType);
  // Feed in uneven pieces, as the streaming reader would.
  for (let i = 0; i < data.length; i += 777) s.update(data.subarray(i, i + 777));
  return s.finish();
}

function verifyWhole(
  key: KeyObject,
  algoName: string,
  version: 2 | 3,
  signature: Buffer,
  data: Buffer = content,
  hashType: 0x03 | 0x06 = 0x03,
) {
  const v = new ContentVerifier(key, algo(algoName), version, signature, hashType);
  if (v.needsContent) for (let i = 0; i < data.length; i += 1000) v.update(data.subarray(i, i + 1000));
  return v.finish(digestBytes(algo(algoName), data));
}

describe('RSA', () => {
  test('DigestInfo for sha256 is the PKCS#1 prefix followed by the digest', () => {
    const d = Buffer.alloc(32, 0xab);
    assert.equal(
      digestInfo(algo('sha256'), d).toString('hex'),
      '3031300d060960864801650304020105000420' + 'ab'.repeat(32),
    );
    assert.equal(
      digestInfo(algo('sha1'), Buffer.alloc(20)).toString('hex'),
      '3021300906052b0e03021a05000414' + '00'.repeat(20),
    );
    assert.equal(
      digestInfo(algo('sha512'), Buffer.alloc(64)).subarray(0, 19).toString('hex'),
      '3051300d060960864801650304020305000440',
    );
    assert.throws(() => digestInfo(algo('streebog256'), Buffer.alloc(32)), FormatError);
  });

  for (const name of ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256']) {
    test(`signing a ${name} digest equals node's sign() of the whole content`, () => {
      const sig = rsaSignDigest(rsa.privateKey, algo(name), digestBytes(algo(name), content));
      assert.deepEqual(sig, nodeSign(name, content, rsa.privateKey));
      assert.equal(sig.length, 256);
      assert.deepEqual(signWhole(rsa.privateKey, name, 2).signature, sig);
    });
  }

  test(
    'many signatures in flight at once: those over the thread ' +
      "pool's memory budget are made here, every one the same bytes",
    async () => {
      // 40 contents of 900 KB: 36 MB, more than the 16 MiB the pool may hold at once.
      const contents = Array.from({ length: 40 }, (_, i) => Buffer.alloc(900_000, i));
      const signers = contents.map((c) => {
        const s = new ContentSigner(rsa.privateKey, algo('sha256'), 2);
        for (let i = 0; i < c.length; i += 65536) s.update(c.subarray(i, i + 65536));
        return s;
      });
      const got = await Promise.all(signers.map((s) => s.finishAsync()));
      got.forEach((g, i) => {
        assert.deepEqual(g.signature, nodeSign('sha256', contents[i]!, rsa.privateKey), `signature ${i}`);
        assert.deepEqual(
          signers[i]!.digest(),
          digestBytes(algo('sha256'), contents[i]!),
          `digest ${i}, computed only when asked`,
        );
      });
    },
  );

  test(
    'finishAsync: the same signature and digest whether the content ' +
      'is kept for the thread pool or outgrows the copy mid-stream',
    async () => {
      for (const size of [0, 1, 1 << 20, (1 << 20) + 1, 3 << 20]) {
        for (const piece of [777, 65536]) {
          const data = Buffer.alloc(size);
          for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 9)) & 0xff;
          const s = new ContentSigner(rsa.privateKey, algo('sha256'), 2);
          for (let i = 0; i < size; i += piece) s.update(data.subarray(i, i + piece));
          const { signature } = await s.finishAsync();
          assert.deepEqual(
            signature,
            nodeSign('sha256', data, rsa.privateKey),
            `signature, ${size} bytes in pieces of ${piece}`,
          );
          assert.deepEqual(
            s.digest(),
            digestBytes(algo('sha256'), data),
            `digest, ${size} bytes in pieces of ${piece}`,
          );
        }
      }
    },
  );

  test('signing a digest equals `openssl dgst -sha256 -sign key file` (and sha1, sha384, sha512)', async (t) => {
    if (!haveCommand('openssl')) return skipOrFail(t, 'needs the command openssl');
    const data = join(dir, 'data.bin');
    await writeFile(data, content);
    for (const [keys, name] of [
      [rsa, 'sha256'],
      [rsa, 'sha1'],
      [rsa, 'sha512'],
      [rsa, 'sha384'],
    ] as const) {
      const keyPath = join(dir, `key-${name}-${keys.privateKey.asymmetricKeyDetails!.modulusLength}.pem`);
      await writeFile(keyPath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      const r = await run('openssl', ['dgst', `-${name}`, '-sign', keyPath, data]);
      assert.equal(r.status, 0, r.stderr);
      const ours = rsaSignDigest(keys.privateKey, algo(name), digestBytes(algo(name), content));
      assert.deepEqual(ours, r.stdoutBytes, `${name}: our signature differs from openssl's`);
    }
  });

  test('RSA signatures are deterministic', () => {
    assert.deepEqual(
      signWhole(rsa.privateKey, 'sha256', 2).signature,
      signWhole(rsa.privateKey, 'sha256', 2).signature,
    );
  });

  test('verification: ok; a changed file is a digest mismatch; another key is a bad signature', () => {
    const { signature, digest } = signWhole(rsa.privateKey, 'sha256', 2);
    assert.deepEqual(digest, createHash('sha256').update(content).digest());
    assert.deepEqual(rsaVerifyDigest(rsa.publicKey, algo('sha256'), digest, signature), { ok: true });
    assert.deepEqual(verifyWhole(rsa.publicKey, 'sha256', 2, signature), { ok: true });
    const changed = Buffer.from(content);
    changed[10]! ^= 1;
    const mismatch = verifyWhole(rsa.publicKey, 'sha256', 2, signature, changed);
    assert.equal(mismatch.ok, false);
    assert.equal(!mismatch.ok && mismatch.reason, 'digest-mismatch');
    assert.match(!mismatch.ok ? mismatch.detail : '', /file content differs from what was signed/);
    const wrongKey = verifyWhole(otherRsa.publicKey, 'sha256', 2, signature);
    assert.equal(!wrongKey.ok && wrongKey.reason, 'bad-signature');
  });

  test('a signature checked with another hash algorithm fails', () => {
    const { signature } = signWhole(rsa.privateKey, 'sha256', 2);
    assert.equal(verifyWhole(rsa.publicKey, 'sha512', 2, signature).ok, false);
  });

  test('a private key also verifies (its public half)', () => {
    const { signature } = signWhole(rsa.privateKey, 'sha256', 2);
    assert.deepEqual(verifyWhole(rsa.privateKey, 'sha256', 2, signature), { ok: true });
  });

  test('malformed signatures are bad signatures, never exceptions', () => {
    const { signature } = signWhole(rsa.privateKey, 'sha256', 2);
    const cases = [
      Buffer.alloc(0),
      Buffer.alloc(1),
      Buffer.alloc(256),
      Buffer.alloc(256, 0xff),
      Buffer.concat([signature, Buffer.of(0)]),
      Buffer.concat([Buffer.of(0), signature]),
      signature.subarray(0, 255),
      signature.subarray(1),
    ];
    for (const sig of cases) {
      const r = verifyWhole(rsa.publicKey, 'sha256', 2, sig);
      assert.equal(r.ok, false, `length ${sig.length}`);
    }
  });

  test(
    'a signature shorter than the modulus (a leading zero byte ' +
      'dropped) is refused, as the kernel and OpenSSL refuse it',
    () => {
      // About one RSA signature in 256 starts with a zero byte; find one.
      let found: { data: Buffer; sig: Buffer } | undefined;
      for (let i = 0; i < 5000 && !found; i++) {
        const data = Buffer.from(`content ${i}`);
        const sig = rsaSignDigest(rsa.privateKey, algo('sha256'), digestBytes(algo('sha256'), data));
        if (sig[0] === 0) found = { data, sig };
      }
      assert.ok(found, 'no signature with a leading zero byte in 5000 tries');
      const { data, sig } = found;
      assert.deepEqual(verifyWhole(rsa.publicKey, 'sha256', 2, sig, data), { ok: true });
      assert.equal(
        nodeVerify('sha256', data, rsa.publicKey, sig.subarray(1)),
        false,
        'OpenSSL refuses the short signature',
      );
      const short = verifyWhole(rsa.publicKey, 'sha256', 2, sig.subarray(1), data);
      assert.equal(short.ok, false);
      assert.match(!short.ok ? short.detail : '', /signature is 255 bytes, the 2048-bit key needs 256/);
    },
  );
});

describe('ECDSA', () => {
  for (const [name, keys, algoName] of [
    ['P-256', () => p256, 'sha256'],
    ['P-384', () => p384, 'sha384'],
    ['P-256 with sha512', () => p256, 'sha512'],
  ] as const) {
    test(`${name}: our signature verifies with node's verify() over the content; signatures are randomised`, () => {
      const k = keys();
      const a = signWhole(k.privateKey, algoName, 2);
      const b = signWhole(k.privateKey, algoName, 2);
      assert.notDeepEqual(a.signature, b.signature);
      assert.equal(a.signature[0], 0x30, 'DER SEQUENCE');
      for (const s of [a.signature, b.signature]) {
        assert.ok(nodeVerify(algoName, content, k.publicKey, s));
        assert.deepEqual(verifyWhole(k.publicKey, algoName, 2, s), { ok: true });
      }
      // node's sign() verifies with us too.
      assert.deepEqual(verifyWhole(k.publicKey, algoName, 2, nodeSign(algoName, content, k.privateKey)), { ok: true });
    });
  }

  test('our ECDSA signature verifies with `openssl dgst -verify`', async (t) => {
    if (!haveCommand('openssl')) return skipOrFail(t, 'needs the command openssl');
    const data = join(dir, 'ec-data.bin');
    await writeFile(data, content);
    for (const [k, name] of [
      [p256, 'sha256'],
      [p384, 'sha384'],
    ] as const) {
      const pub = join(dir, `ec-${name}.pub.pem`);
      const sigPath = join(dir, `ec-${name}.sig`);
      await writeFile(pub, k.publicKey.export({ type: 'spki', format: 'pem' }));
      await writeFile(sigPath, signWhole(k.privateKey, name, 2).signature);
      const r = await run('openssl', ['dgst', `-${name}`, '-verify', pub, '-signature', sigPath, data]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Verified OK/);
    }
  });

  test('a changed file, another key, and malformed DER all fail without exceptions', () => {
    const { signature } = signWhole(p256.privateKey, 'sha256', 2);
    const changed = Buffer.concat([content, Buffer.of(0)]);
    assert.equal(verifyWhole(p256.publicKey, 'sha256', 2, signature, changed).ok, false);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    assert.equal(verifyWhole(other, 'sha256', 2, signature).ok, false);
    for (const bad of [
      Buffer.alloc(0),
      Buffer.of(0x30),
      Buffer.of(0x30, 0x00),
      Buffer.alloc(71, 0xff),
      Buffer.concat([signature, Buffer.of(0)]),
      signature.subarray(0, signature.length - 1),
    ]) {
      const r = verifyWhole(p256.publicKey, 'sha256', 2, bad);
      assert.equal(r.ok, false, bad.toString('hex'));
    }
    // A P-384 key checking a P-256 signature.
    assert.equal(verifyWhole(p384.publicKey, 'sha256', 2, signature).ok, false);
  });
});

describe('version 3 signatures (over struct ima_file_id)', () => {
  test('RSA v3 signs the hash of {0x03, algo, digest}, and differs from v2', () => {
    const { signature, digest } = signWhole(rsa.privateKey, 'sha256', 3);
    const fileId = imaFileId(0x03, algo('sha256'), digest);
    assert.deepEqual(signature, nodeSign('sha256', fileId, rsa.privateKey));
    assert.notDeepEqual(signature, signWhole(rsa.privateKey, 'sha256', 2).signature);
    assert.deepEqual(verifyWhole(rsa.publicKey, 'sha256', 3, signature), { ok: true });
    // Checked as v2 it fails, and a v2 signature checked as v3 fails.
    assert.equal(verifyWhole(rsa.publicKey, 'sha256', 2, signature).ok, false);
    assert.equal(verifyWhole(rsa.publicKey, 'sha256', 3, signWhole(rsa.privateKey, 'sha256', 2).signature).ok, false);
  });

  test('ECDSA v3 verifies over ima_file_id; the hash type (0x03 vs 0x06) is covered', () => {
    const { signature, digest } = signWhole(p384.privateKey, 'sha384', 3);
    assert.ok(nodeVerify('sha384', imaFileId(0x03, algo('sha384'), digest), p384.publicKey, signature));
    assert.deepEqual(verifyWhole(p384.publicKey, 'sha384', 3, signature), { ok: true });
    assert.equal(verifyWhole(p384.publicKey, 'sha384', 3, signature, content, 0x06).ok, false);
    const verity = signWhole(p256.privateKey, 'sha256', 3, content, 0x06);
    assert.deepEqual(verifyWhole(p256.publicKey, 'sha256', 3, verity.signature, content, 0x06), { ok: true });
    assert.equal(verifyWhole(p256.publicKey, 'sha256', 3, verity.signature, content, 0x03).ok, false);
  });

  test('v3 over a changed file fails', () => {
    const { signature } = signWhole(rsa.privateKey, 'sha512', 3);
    const changed = Buffer.from(content);
    changed[0]! ^= 0x80;
    assert.equal(verifyWhole(rsa.publicKey, 'sha512', 3, signature, changed).ok, false);
  });
});

describe('streaming digests', () => {
  test(
    'streamSmallSync: a file below one read is hashed synchronously, to the same ' +
      'digest; one a byte over (or with a limit past it) is left alone, nothing fed',
    async () => {
      const cases: [string, number, number | undefined, boolean][] = [
        ['empty', 0, undefined, true],
        ['small', 5000, undefined, true],
        ['small, limited', 5000, 100, true],
        ['exactly one read', ONE_READ, undefined, true],
        ['one byte over', ONE_READ + 1, undefined, false],
        ['over, limited to one read', ONE_READ + 1, ONE_READ, true],
      ];
      for (const [what, size, limit, whole] of cases) {
        const bytes = Buffer.alloc(size);
        for (let i = 0; i < size; i += 997) bytes[i] = i & 0xff;
        const p = join(dir, `small-${size}.bin`);
        await writeFile(p, bytes);
        const h = await open(p, 'r');
        try {
          const sink = new DigestSink(algo('sha256'));
          let fed = 0;
          const counter = { update: (c: Buffer) => void (fed += c.length) };
          const n = streamSmallSync(h.fd, [sink, counter], limit);
          if (!whole) {
            assert.equal(n, undefined, what);
            assert.equal(fed, 0, `${what}: nothing fed`);
            continue;
          }
          const expected = bytes.subarray(0, Math.min(size, limit ?? Infinity));
          assert.equal(n, expected.length, what);
          assert.deepEqual(sink.digest(), createHash('sha256').update(expected).digest(), what);
        } finally {
          await h.close();
        }
      }
    },
  );

  test(
    'a file larger than the 1 MiB chunk streams to the ' + 'same digests as hashing at once; limit stops early',
    async () => {
      const big = Buffer.alloc(2.5 * 1024 * 1024 + 3);
      for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
      const p = join(dir, 'big.bin');
      await writeFile(p, big);
      const h = await open(p, 'r');
      try {
        const sinks = [new DigestSink(algo('sha256')), new DigestSink(algo('sha1')), new DigestSink(algo('sha512'))];
        assert.equal(await streamHandle(h, sinks), big.length);
        assert.deepEqual(
          sinks.map((s) => s.digest()),
          ['sha256', 'sha1', 'sha512'].map((n) => createHash(n).update(big).digest()),
        );
        const limited = new DigestSink(algo('sha256'));
        assert.equal(await streamHandle(h, [limited], 1_500_000), 1_500_000);
        assert.deepEqual(limited.digest(), createHash('sha256').update(big.subarray(0, 1_500_000)).digest());
      } finally {
        await h.close();
      }
    },
  );

  test(
    'many large files streamed at once: at most four past ' + 'their first chunk at a time, every digest right',
    async () => {
      const big = Buffer.alloc(3 * 1024 * 1024 + 5);
      for (let i = 0; i < big.length; i += 512) big[i] = (i / 512) & 0xff;
      const p = join(dir, 'big3.bin');
      await writeFile(p, big);
      const h = await open(p, 'r');
      let inAsyncRead = 0;
      let mostAtOnce = 0;
      // The thread-pool reads (past the first chunk) are counted while they run, slowed so that files overlap.
      const reader = {
        fd: h.fd,
        async read(buffer: Buffer, offset: number, length: number, position: number) {
          mostAtOnce = Math.max(mostAtOnce, ++inAsyncRead);
          await new Promise((r) => setTimeout(r, 5));
          try {
            return await h.read(buffer, offset, length, position);
          } finally {
            inAsyncRead--;
          }
        },
      };
      try {
        const sinks = Array.from({ length: 12 }, () => new DigestSink(algo('sha256')));
        const counts = await Promise.all(sinks.map((s) => streamHandle(reader, [s])));
        assert.deepEqual(
          counts,
          sinks.map(() => big.length),
        );
        const want = createHash('sha256').update(big).digest();
        for (const s of sinks) assert.deepEqual(s.digest(), want);
        assert.ok(mostAtOnce >= 2, `files did overlap (${mostAtOnce})`);
        assert.ok(mostAtOnce <= 4, `${mostAtOnce} large files read at once`);
      } finally {
        await h.close();
      }
    },
  );

  test('an empty file has the empty digest', async () => {
    const p = join(dir, 'empty.bin');
    await writeFile(p, '');
    const h = await open(p, 'r');
    try {
      const s = new DigestSink(algo('sha256'));
      assert.equal(await streamHandle(h, [s]), 0);
      assert.equal(s.digest().toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    } finally {
      await h.close();
    }
  });
});
