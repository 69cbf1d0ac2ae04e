// The security.ima codec and the hash algorithm table: every value type, every rejection with its reason,
// the size warnings, and the table against include/uapi/linux/hash_info.h.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  canCompute,
  HASH_ALGO_LAST,
  HASH_ALGOS,
  hashAlgoById,
  hashAlgoByName,
  signingRefusal,
  SIGNING_ALGO_NAMES,
} from '../../src/codec/hash-algo.js';
import {
  decodeImaValue,
  describeValue,
  digestValue,
  encodeImaValue,
  EVMCTL_MAX_VALUE_SIZE,
  imaFileId,
  MAX_VALUE_SIZE,
  SIGNATURE_HEADER_SIZE,
  SignatureValue,
  typeName,
} from '../../src/codec/ima-value.js';
import { FormatError } from '../../src/errors.js';

const algo = (name: string) => {
  const a = hashAlgoByName(name);
  assert.ok(a, `no algorithm ${name}`);
  return a;
};

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Asserts decode throws a FormatError whose reason matches `reason`. */
function rejects(bytes: Buffer, reason: RegExp): void {
  assert.throws(
    () => decodeImaValue(bytes),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
      assert.match(e.reason, reason);
      return true;
    },
  );
}

function sigHeader(type: number, version: number, algoId: number, keyid: string, sigSize: number): Buffer {
  const h = Buffer.alloc(SIGNATURE_HEADER_SIZE);
  h[0] = type;
  h[1] = version;
  h[2] = algoId;
  hex(keyid).copy(h, 3);
  h.writeUInt16BE(sigSize, 7);
  return h;
}

function sigBytes(
  type: number,
  version: number,
  algoId: number,
  keyid: string,
  sig: Buffer,
  sigSize = sig.length,
): Buffer {
  return Buffer.concat([sigHeader(type, version, algoId, keyid, sigSize), sig]);
}

describe('hash algorithm table (include/uapi/linux/hash_info.h)', () => {
  const kernel: [number, string, number][] = [
    [0, 'md4', 16],
    [1, 'md5', 16],
    [2, 'sha1', 20],
    [3, 'rmd160', 20],
    [4, 'sha256', 32],
    [5, 'sha384', 48],
    [6, 'sha512', 64],
    [7, 'sha224', 28],
    [8, 'rmd128', 16],
    [9, 'rmd256', 32],
    [10, 'rmd320', 40],
    [11, 'wp256', 32],
    [12, 'wp384', 48],
    [13, 'wp512', 64],
    [14, 'tgr128', 16],
    [15, 'tgr160', 20],
    [16, 'tgr192', 24],
    [17, 'sm3', 32],
    [18, 'streebog256', 32],
    [19, 'streebog512', 64],
    [20, 'sha3-256', 32],
    [21, 'sha3-384', 48],
    [22, 'sha3-512', 64],
  ];

  test('ids 0..22 carry the kernel names and digest sizes, in order', () => {
    assert.equal(HASH_ALGOS.length, 23);
    assert.equal(HASH_ALGO_LAST, 23);
    for (const [id, name, size] of kernel) {
      const a = hashAlgoById(id);
      assert.ok(a, `id ${id}`);
      assert.deepEqual([a.id, a.name, a.digestSize], [id, name, size]);
      assert.equal(HASH_ALGOS[id], a);
      assert.equal(hashAlgoByName(name), a);
    }
  });

  test('ids outside 0..22 and non-integers are unknown', () => {
    for (const id of [-1, 23, 24, 255, 1.5, Number.NaN]) assert.equal(hashAlgoById(id), undefined, String(id));
  });

  test('names are found case-insensitively and by their OpenSSL names', () => {
    assert.equal(hashAlgoByName('SHA256')?.id, 4);
    assert.equal(hashAlgoByName('ripemd160')?.name, 'rmd160');
    assert.equal(hashAlgoByName('whirlpool')?.name, 'wp512');
    assert.equal(hashAlgoByName('sha3-512')?.id, 22);
    assert.equal(hashAlgoByName('sha257'), undefined);
  });

  test('every algorithm Node says it can compute gives a digest of the table size', () => {
    for (const a of HASH_ALGOS) {
      if (!canCompute(a)) continue;
      assert.equal(createHash(a.nodeName!).update('x').digest().length, a.digestSize, a.name);
    }
    for (const name of ['sha1', 'sha256', 'sha384', 'sha512', 'sha224']) assert.ok(canCompute(algo(name)), name);
    for (const name of ['rmd128', 'tgr192', 'streebog256', 'streebog512', 'wp256'])
      assert.equal(canCompute(algo(name)), false, name);
  });

  test('signing refuses weak and unavailable algorithms with a reason', () => {
    assert.match(signingRefusal(algo('md5'))!, /md5 is too weak/);
    assert.match(signingRefusal(algo('md4'))!, /md4 is too weak/);
    assert.match(signingRefusal(algo('streebog256'))!, /streebog256 is not available/);
    assert.equal(signingRefusal(algo('sha256')), undefined);
    assert.ok(SIGNING_ALGO_NAMES.includes('sha256'));
    assert.ok(!SIGNING_ALGO_NAMES.includes('md5'));
  });
});

describe('decoding and encoding each value type', () => {
  test('0x01 with a sha1 digest (what ima_hash -a sha1 writes)', () => {
    const digest = createHash('sha1').update('abc').digest();
    const bytes = Buffer.concat([Buffer.of(0x01), digest]);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, { kind: 'digest', type: 0x01, algo: algo('sha1'), digest });
    assert.deepEqual(warnings, []);
    assert.deepEqual(encodeImaValue(value), bytes);
    assert.deepEqual(encodeImaValue(digestValue(algo('sha1'), digest)), bytes);
  });

  test('0x01 with a 16-byte md5 digest (17 bytes)', () => {
    const digest = createHash('md5').update('abc').digest();
    const bytes = Buffer.concat([Buffer.of(0x01), digest]);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, { kind: 'digest', type: 0x01, algo: algo('md5'), digest });
    assert.deepEqual(warnings, []);
    assert.deepEqual(encodeImaValue(value), bytes);
  });

  test('0x01 with an md5 digest padded to 20 bytes (21 bytes ending in four zeros), with a warning', () => {
    const digest = createHash('md5').update('abc').digest();
    const bytes = Buffer.concat([Buffer.of(0x01), digest, Buffer.alloc(4)]);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, { kind: 'digest', type: 0x01, algo: algo('md5'), digest, md5Padded: true });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /padded md5/);
    assert.deepEqual(encodeImaValue(value), bytes);
  });

  test(
    'a sha1 digest that ends in four zero bytes is never ' + 'written in the 0x01 form (the kernel would read md5)',
    () => {
      const digest = Buffer.concat([Buffer.alloc(16, 0xab), Buffer.alloc(4)]);
      // encodeImaValue refuses the ambiguous 0x01 form...
      assert.throws(
        () => encodeImaValue({ kind: 'digest', type: 0x01, algo: algo('sha1'), digest }),
        (e: unknown) => e instanceof FormatError && /md5/.test(e.reason),
      );
      // ...and the value ima_hash would make falls back to 0x04, which decodes as sha1 again.
      const v = digestValue(algo('sha1'), digest);
      assert.equal(v.type, 0x04);
      assert.deepEqual(decodeImaValue(encodeImaValue(v)).value, v);
    },
  );

  for (const name of [
    'md5',
    'sha1',
    'sha224',
    'sha256',
    'sha384',
    'sha512',
    'sm3',
    'sha3-256',
    'sha3-512',
    'streebog512',
    'wp384',
  ]) {
    test(`0x04 with ${name}`, () => {
      const a = algo(name);
      const digest = Buffer.alloc(a.digestSize, 0x5a);
      const bytes = Buffer.concat([Buffer.of(0x04, a.id), digest]);
      const { value, warnings } = decodeImaValue(bytes);
      assert.deepEqual(value, { kind: 'digest', type: 0x04, algo: a, digest });
      assert.deepEqual(warnings, []);
      assert.deepEqual(encodeImaValue(value), bytes);
      // What hash writes: the 0x01 form for md5 and sha1 (as evmctl ima_hash), 0x04 for the rest.
      if (name !== 'sha1' && name !== 'md5') assert.deepEqual(encodeImaValue(digestValue(a, digest)), bytes);
    });
  }

  test('0x03 version 2 (what evmctl ima_sign writes), RSA-2048 sized', () => {
    const sig = Buffer.alloc(256, 0x77);
    const bytes = sigBytes(0x03, 2, 4, '07615a63', sig);
    assert.equal(bytes.length, 265);
    assert.deepEqual([...bytes.subarray(0, 9)], [0x03, 0x02, 0x04, 0x07, 0x61, 0x5a, 0x63, 0x01, 0x00]);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, {
      kind: 'signature',
      type: 0x03,
      version: 2,
      algo: algo('sha256'),
      keyid: '07615a63',
      signature: sig,
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(encodeImaValue(value), bytes);
  });

  test('0x03 version 3 decodes, with a warning that it needs kernel 7.1', () => {
    const sig = Buffer.alloc(71, 0x30);
    const bytes = sigBytes(0x03, 3, 5, 'deadbeef', sig);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, {
      kind: 'signature',
      type: 0x03,
      version: 3,
      algo: algo('sha384'),
      keyid: 'deadbeef',
      signature: sig,
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /7\.1/);
    assert.deepEqual(encodeImaValue(value), bytes);
  });

  test('0x06 version 3 (fs-verity)', () => {
    const sig = Buffer.alloc(512, 1);
    const bytes = sigBytes(0x06, 3, 6, '00000001', sig);
    const { value, warnings } = decodeImaValue(bytes);
    assert.deepEqual(value, {
      kind: 'signature',
      type: 0x06,
      version: 3,
      algo: algo('sha512'),
      keyid: '00000001',
      signature: sig,
    });
    assert.deepEqual(warnings, []);
    assert.deepEqual(encodeImaValue(value), bytes);
  });

  test('a one-byte signature is the smallest accepted; keyid keeps its leading zeros', () => {
    const bytes = sigBytes(0x03, 2, 2, '0000000a', Buffer.of(0xff));
    const { value } = decodeImaValue(bytes);
    assert.equal((value as SignatureValue).keyid, '0000000a');
    assert.equal((value as SignatureValue).signature.length, 1);
  });

  test('decodes from a Uint8Array view into a larger buffer, and copies the digest out of it', () => {
    const backing = new Uint8Array(100).fill(9);
    backing.set([0x04, 4], 10);
    const view = backing.subarray(10, 10 + 34);
    const { value } = decodeImaValue(view);
    assert.equal(value.kind, 'digest');
    assert.deepEqual([...(value.kind === 'digest' ? value.digest : [])], new Array(32).fill(9));
    backing[20] = 0; // decoded values must not alias the input
    assert.equal(value.kind === 'digest' && value.digest[8], 9);
  });

  test('size warnings: above 1024 bytes (evmctl 1.4 limit) a warning, at 1024 none', () => {
    const at = sigBytes(0x03, 2, 4, '01020304', Buffer.alloc(EVMCTL_MAX_VALUE_SIZE - 9, 1));
    assert.equal(at.length, 1024);
    assert.deepEqual(decodeImaValue(at).warnings, []);
    const above = sigBytes(0x03, 2, 4, '01020304', Buffer.alloc(EVMCTL_MAX_VALUE_SIZE - 8, 1));
    const w = decodeImaValue(above).warnings;
    assert.equal(w.length, 1);
    assert.match(w[0]!, /1025 bytes: evmctl 1\.4 reads at most 1024/);
    // ML-DSA-87 sized (4636 bytes): valid, with the warning.
    const mldsa = sigBytes(0x03, 2, 6, '01020304', Buffer.alloc(4636 - 9, 1));
    assert.equal(decodeImaValue(mldsa).warnings.length, 1);
  });

  test('exactly 64 KiB (XATTR_SIZE_MAX) is accepted', () => {
    const bytes = sigBytes(0x03, 2, 4, '01020304', Buffer.alloc(MAX_VALUE_SIZE - 9, 1));
    assert.equal(bytes.length, 65536);
    assert.equal(decodeImaValue(bytes).value.kind, 'signature');
    assert.deepEqual(encodeImaValue(decodeImaValue(bytes).value), bytes);
  });
});

describe('rejections, each with its reason', () => {
  const sig = Buffer.alloc(32, 7);
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /^empty value$/],
    ['only a type byte 0x03', Buffer.of(0x03), /1 bytes, shorter than its 9-byte header/],
    ['a short 0x03 header (5 bytes)', Buffer.of(0x03, 2, 4, 0, 0), /5 bytes, shorter than its 9-byte header/],
    [
      'a 0x03 header with no signature (9 bytes)',
      sigHeader(0x03, 2, 4, '01020304', 0),
      /9 bytes, shorter than its 9-byte header plus a signature/,
    ],
    ['a short 0x06 header', Buffer.of(0x06, 3), /shorter than its 9-byte header/],
    ['0x04 with no algorithm byte', Buffer.of(0x04), /no hash algorithm byte/],
    [
      'truncated signature',
      sigBytes(0x03, 2, 4, '01020304', sig, 33),
      /truncated: header says 33 signature bytes, value holds 32/,
    ],
    [
      'sig_size smaller than the signature (trailing bytes)',
      sigBytes(0x03, 2, 4, '01020304', sig, 30),
      /2 trailing bytes after the 30-byte signature/,
    ],
    [
      'sig_size 0 with a signature',
      sigBytes(0x03, 2, 4, '01020304', sig, 0),
      /32 trailing bytes after the 0-byte signature/,
    ],
    [
      'truncated RSA-2048 sidecar',
      sigBytes(0x03, 2, 4, '01020304', Buffer.alloc(256, 1)).subarray(0, 200),
      /truncated: header says 256 signature bytes, value holds 191/,
    ],
    [
      'a sidecar with a newline appended',
      Buffer.concat([sigBytes(0x03, 2, 4, '01020304', sig), Buffer.from('\n')]),
      /1 trailing bytes after the 32-byte signature/,
    ],
    [
      'sha1 0x01 digest one byte short',
      Buffer.concat([Buffer.of(0x01), Buffer.alloc(19, 1)]),
      /0x01 digest value must be 21 bytes \(sha1\) or 17 \(md5\), not 20/,
    ],
    [
      'sha1 0x01 digest with a trailing byte',
      Buffer.concat([Buffer.of(0x01), Buffer.alloc(21, 1)]),
      /must be 21 bytes \(sha1\) or 17 \(md5\), not 22/,
    ],
    ['0x01 with no digest', Buffer.of(0x01), /must be 21 bytes \(sha1\) or 17 \(md5\), not 1/],
    [
      'sha256 0x04 digest one byte short',
      Buffer.concat([Buffer.of(0x04, 4), Buffer.alloc(31)]),
      /sha256 digest must be 32 bytes, value holds 31/,
    ],
    [
      'sha256 0x04 digest with a trailing byte',
      Buffer.concat([Buffer.of(0x04, 4), Buffer.alloc(33)]),
      /sha256 digest must be 32 bytes, value holds 33/,
    ],
    [
      'sha512 0x04 with a sha256-sized digest',
      Buffer.concat([Buffer.of(0x04, 6), Buffer.alloc(32)]),
      /sha512 digest must be 64 bytes, value holds 32/,
    ],
    [
      '0x04 with an algorithm id out of range',
      Buffer.concat([Buffer.of(0x04, 23), Buffer.alloc(32)]),
      /hash algorithm id 23 is out of range \(0\.\.22\)/,
    ],
    [
      '0x03 with an algorithm id out of range',
      sigBytes(0x03, 2, 200, '01020304', sig),
      /hash algorithm id 200 is out of range \(0\.\.22\)/,
    ],
    [
      '0x02 (EVM HMAC)',
      Buffer.concat([Buffer.of(0x02), Buffer.alloc(20)]),
      /type 0x02 \(EVM HMAC\) belongs in security\.evm/,
    ],
    [
      '0x05 (EVM portable signature)',
      sigBytes(0x05, 2, 4, '01020304', sig),
      /type 0x05 \(EVM portable signature\) belongs in security\.evm/,
    ],
    ['type 0x00', Buffer.of(0x00, 1, 2, 3), /unknown value type 0x00/],
    ['type 0x07', sigBytes(0x07, 2, 4, '01020304', sig), /unknown value type 0x07/],
    ['type 0xff', Buffer.of(0xff), /unknown value type 0xff/],
    ['signature version 1', sigBytes(0x03, 1, 4, '01020304', sig), /unknown signature version 1 \(2 or 3 expected\)/],
    ['signature version 4', sigBytes(0x03, 4, 4, '01020304', sig), /unknown signature version 4/],
    ['signature version 0', sigBytes(0x06, 0, 4, '01020304', sig), /unknown signature version 0/],
    ['0x06 with version 2', sigBytes(0x06, 2, 4, '01020304', sig), /fs-verity signature \(0x06\) must be version 3/],
    [
      'over 64 KiB',
      Buffer.concat([sigHeader(0x03, 2, 4, '01020304', 65535), Buffer.alloc(65535)]),
      /65544 bytes, larger than the 65536-byte xattr limit/,
    ],
    [
      'one byte over 64 KiB',
      Buffer.alloc(MAX_VALUE_SIZE + 1, 0x03),
      /65537 bytes, larger than the 65536-byte xattr limit/,
    ],
    ['text (a PEM file given as a sidecar)', Buffer.from('-----BEGIN CERTIFICATE-----\n'), /unknown value type 0x2d/],
  ];
  for (const [name, bytes, reason] of cases) {
    test(name, () => rejects(bytes, reason));
  }
});

describe('the encoder refuses what the decoder would refuse', () => {
  const base: SignatureValue = {
    kind: 'signature',
    type: 0x03,
    version: 2,
    algo: hashAlgoById(4)!,
    keyid: '01020304',
    signature: Buffer.alloc(8, 1),
  };
  const bad: [string, unknown, RegExp][] = [
    ['keyid of 7 digits', { ...base, keyid: '0102030' }, /keyid must be 8 hex digits/],
    ['keyid with upper case', { ...base, keyid: 'DEADBEEF' }, /keyid must be 8 hex digits/],
    ['empty signature', { ...base, signature: Buffer.alloc(0) }, /empty signature/],
    ['0x06 version 2', { ...base, type: 0x06 }, /must be version 3/],
    [
      'a value over 64 KiB',
      { ...base, signature: Buffer.alloc(MAX_VALUE_SIZE - 8) },
      /65537 bytes, larger than the 65536-byte xattr limit/,
    ],
    ['version 4 (from untyped callers)', { ...base, version: 4 }, /version/],
    ['type 0x05 (from untyped callers)', { ...base, type: 0x05 }, /type/],
    [
      'a digest of the wrong size',
      { kind: 'digest', type: 0x04, algo: hashAlgoById(4)!, digest: Buffer.alloc(20) },
      /sha256 digest must be 32 bytes/,
    ],
    [
      '0x01 with sha256',
      { kind: 'digest', type: 0x01, algo: hashAlgoById(4)!, digest: Buffer.alloc(32) },
      /0x01 form holds only sha1 or md5/,
    ],
    [
      'an algorithm not in the table',
      { kind: 'digest', type: 0x04, algo: { id: 23, name: 'x', digestSize: 4 }, digest: Buffer.alloc(4) },
      /out of range|algorithm/,
    ],
  ];
  for (const [name, value, reason] of bad) {
    test(name, () => {
      assert.throws(
        () => encodeImaValue(value as never),
        (e: unknown) => e instanceof FormatError && reason.test(e.reason),
      );
    });
  }
  test('the largest signature that fits 64 KiB encodes', () => {
    const bytes = encodeImaValue({ ...base, signature: Buffer.alloc(MAX_VALUE_SIZE - 9) });
    assert.equal(bytes.length, MAX_VALUE_SIZE);
    assert.equal(bytes.readUInt16BE(7), MAX_VALUE_SIZE - 9);
  });
});

describe('helpers', () => {
  test('typeName names every type and shows unknown ones in hex', () => {
    assert.match(typeName(0x01), /IMA_XATTR_DIGEST/);
    assert.match(typeName(0x03), /EVM_IMA_XATTR_DIGSIG/);
    assert.match(typeName(0x04), /IMA_XATTR_DIGEST_NG/);
    assert.match(typeName(0x06), /IMA_VERITY_DIGSIG/);
    assert.equal(typeName(0x1a), 'unknown type 0x1a');
  });

  test('imaFileId packs hash_type, hash_algorithm and the digest', () => {
    const d = Buffer.alloc(32, 0xcc);
    assert.deepEqual(imaFileId(0x03, algo('sha256'), d), Buffer.concat([Buffer.of(0x03, 0x04), d]));
    assert.deepEqual(
      imaFileId(0x06, algo('sha512'), Buffer.alloc(64)),
      Buffer.concat([Buffer.of(0x06, 0x06), Buffer.alloc(64)]),
    );
  });

  test('describeValue gives the fields --json prints', () => {
    const sig = decodeImaValue(sigBytes(0x03, 2, 4, '07615a63', Buffer.alloc(256))).value;
    assert.deepEqual(describeValue(sig), {
      type: '0x03',
      typeName: typeName(3),
      version: 2,
      hashAlgo: 'sha256',
      keyid: '07615a63',
      signatureSize: 256,
    });
    const dig = decodeImaValue(Buffer.concat([Buffer.of(0x04, 6), Buffer.alloc(64, 0xee)])).value;
    assert.deepEqual(describeValue(dig), {
      type: '0x04',
      typeName: typeName(4),
      hashAlgo: 'sha512',
      digest: 'ee'.repeat(64),
    });
  });
});
