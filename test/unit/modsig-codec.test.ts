// The appended-signature trailer codec (src/codec/modsig.ts): golden bytes as sign-file writes them, every
// rule of the kernel's mod_check_sig() as a table, and the split of whole files (the golden fixtures).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  appendSignature,
  buildTrailer,
  decodeModuleSignatureInfo,
  encodeModuleSignatureInfo,
  endsWithMagic,
  MAX_SIG_LEN,
  MODSIG_MAGIC,
  MODSIG_TRAILER_SIZE,
  parseTrailer,
  splitAppended,
} from '../../src/codec/modsig.js';
import { FormatError } from '../../src/errors.js';
import { fixture, loadManifest } from '../helpers/cli.js';
import { skipOrFail } from '../helpers/skip.js';

const MAGIC_HEX = '7e4d6f64756c65207369676e617475726520617070656e6465647e0a';

/** A trailer from its 12 struct bytes (hex) and the marker. */
function trailer(structHex: string, magic: Buffer = MODSIG_MAGIC): Buffer {
  return Buffer.concat([Buffer.from(structHex.replace(/\s/g, ''), 'hex'), magic]);
}

function throwsFormat(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    assert.match(e.reason, pattern);
    return true;
  });
}

describe('trailer golden bytes', () => {
  test("the marker is the kernel's MODULE_SIG_STRING, 28 bytes", () => {
    assert.equal(MODSIG_MAGIC.toString('hex'), MAGIC_HEX);
    assert.equal(MODSIG_MAGIC.length, 28);
    assert.equal(MODSIG_TRAILER_SIZE, 40);
  });

  // Trailers observed in sign-file 6.1 output (RSA-2048 issuer+serial: 412, -k: 375; P-384: 246).
  const table: { sigLen: number; hex: string }[] = [
    { sigLen: 412, hex: '00 00 02 00 00 00 00 00 0000019c' },
    { sigLen: 375, hex: '00 00 02 00 00 00 00 00 00000177' },
    { sigLen: 246, hex: '00 00 02 00 00 00 00 00 000000f6' },
    { sigLen: 1, hex: '00 00 02 00 00 00 00 00 00000001' },
    { sigLen: MAX_SIG_LEN, hex: '00 00 02 00 00 00 00 00 0000ffff' },
  ];
  for (const { sigLen, hex } of table) {
    test(`sig_len ${sigLen}: build gives the golden bytes, parse gives them back`, () => {
      const golden = trailer(hex);
      assert.equal(golden.length, 40);
      assert.deepEqual(buildTrailer(sigLen), golden);
      const fileSize = 1000 + sigLen + 40;
      const l = parseTrailer(golden, fileSize);
      assert.equal(l.sigLen, sigLen);
      assert.equal(l.payloadLength, 1000);
      assert.equal(l.cmsOffset, 1000);
      assert.equal(l.fileSize, fileSize);
      assert.deepEqual(l.info, { algo: 0, hash: 0, idType: 2, signerLen: 0, keyIdLen: 0, pad: [0, 0, 0], sigLen });
    });
  }

  test('a one-byte payload is the smallest the kernel takes', () => {
    const l = parseTrailer(buildTrailer(10), 1 + 10 + 40);
    assert.equal(l.payloadLength, 1);
  });

  test('decodeModuleSignatureInfo reads the fields as stored, without judging', () => {
    const info = decodeModuleSignatureInfo(Buffer.from('0102030405060708deadbeef', 'hex'));
    assert.deepEqual(info, {
      algo: 1,
      hash: 2,
      idType: 3,
      signerLen: 4,
      keyIdLen: 5,
      pad: [6, 7, 8],
      sigLen: 0xdeadbeef,
    });
    throwsFormat(() => decodeModuleSignatureInfo(Buffer.alloc(11)), /12 bytes/);
  });

  test('encodeModuleSignatureInfo refuses lengths the parser would refuse', () => {
    for (const bad of [0, -1, 1.5, MAX_SIG_LEN + 1, 2 ** 32])
      throwsFormat(() => encodeModuleSignatureInfo(bad), /sig_len must be/);
  });
});

describe("the kernel's rules (mod_check_sig), one row each", () => {
  const rows: { name: string; struct: string; fileSize: number; reason: RegExp }[] = [
    {
      name: 'id_type 0 (PGP)',
      struct: '000000000000000000000010',
      fileSize: 100,
      reason: /id_type is 0 \(PGP\).*only 2 \(PKCS#7\)/,
    },
    { name: 'id_type 1 (X.509)', struct: '000001000000000000000010', fileSize: 100, reason: /id_type is 1 \(X\.509\)/ },
    {
      name: 'id_type 3 (unknown)',
      struct: '000003000000000000000010',
      fileSize: 100,
      reason: /id_type is 3 \(unknown \(3\)\)/,
    },
    { name: 'algo non-zero', struct: '010002000000000000000010', fileSize: 100, reason: /non-zero fields.*algo=1/ },
    { name: 'hash non-zero', struct: '000402000000000000000010', fileSize: 100, reason: /non-zero fields.*hash=4/ },
    { name: 'signer_len non-zero', struct: '000002050000000000000010', fileSize: 100, reason: /signer_len=5/ },
    { name: 'key_id_len non-zero', struct: '000002000700000000000010', fileSize: 100, reason: /key_id_len=7/ },
    { name: 'pad[0] non-zero', struct: '000002000001000000000010', fileSize: 100, reason: /__pad=1,0,0/ },
    { name: 'pad[2] non-zero', struct: '000002000000000900000010', fileSize: 100, reason: /__pad=0,0,9/ },
    { name: 'several fields non-zero', struct: '010202000000000000000010', fileSize: 100, reason: /algo=1, hash=2/ },
    { name: 'sig_len 0', struct: '000002000000000000000000', fileSize: 100, reason: /bad sig_len 0/ },
    {
      name: 'sig_len leaves an empty payload',
      struct: '00000200000000000000003c',
      fileSize: 100,
      reason: /bad sig_len 60: it leaves an empty payload/,
    },
    {
      name: 'sig_len larger than the file',
      struct: '000002000000000000000100',
      fileSize: 100,
      reason: /bad sig_len 256: only 60 bytes precede/,
    },
    { name: 'sig_len 0xffffffff', struct: '0000020000000000ffffffff', fileSize: 100, reason: /bad sig_len 4294967295/ },
    {
      name: 'sig_len over the ASN.1 decoder limit',
      struct: '000002000000000000010000',
      fileSize: 200000,
      reason: /bad sig_len 65536: the kernel's ASN\.1 decoder takes at most 65535/,
    },
    {
      name: 'file of exactly 40 bytes',
      struct: '000002000000000000000001',
      fileSize: 40,
      reason: /truncated: the file is 40 bytes/,
    },
    // The kernel checks sig_len before id_type: a wrong length is reported even when id_type is wrong too.
    {
      name: 'kernel order: sig_len before id_type',
      struct: '000001000000000000000100',
      fileSize: 100,
      reason: /bad sig_len 256/,
    },
  ];
  for (const r of rows) {
    test(r.name, () => throwsFormat(() => parseTrailer(trailer(r.struct), r.fileSize), r.reason));
  }

  test('a trailer that is not 40 bytes', () => {
    throwsFormat(() => parseTrailer(buildTrailer(10).subarray(1), 100), /last 40 bytes, not 39/);
    throwsFormat(() => parseTrailer(Buffer.concat([Buffer.alloc(1), buildTrailer(10)]), 100), /not 41/);
  });

  test('no marker, or a marker with one byte changed', () => {
    throwsFormat(() => parseTrailer(Buffer.alloc(40), 100), /no appended signature/);
    for (const i of [0, 13, 27]) {
      const t = buildTrailer(10);
      t[12 + i] ^= 0x20;
      assert.equal(endsWithMagic(t), false);
      throwsFormat(() => parseTrailer(t, 100), /no appended signature/);
    }
  });

  test('a bad file size', () => {
    throwsFormat(() => parseTrailer(buildTrailer(10), -1), /bad file size/);
    throwsFormat(() => parseTrailer(buildTrailer(10), Number.NaN), /bad file size/);
  });
});

describe('endsWithMagic', () => {
  const rows: [string, Buffer, boolean][] = [
    ['empty', Buffer.alloc(0), false],
    ['the marker alone', MODSIG_MAGIC, true],
    ['the marker after bytes', Buffer.concat([Buffer.from('payload'), MODSIG_MAGIC]), true],
    ['the marker without its newline', MODSIG_MAGIC.subarray(0, 27), false],
    ['the marker then a byte', Buffer.concat([MODSIG_MAGIC, Buffer.of(0)]), false],
  ];
  for (const [name, bytes, want] of rows) test(name, () => assert.equal(endsWithMagic(bytes), want));
});

describe('splitting whole files', () => {
  test('no marker: undefined', () => {
    assert.equal(splitAppended(Buffer.from('an ordinary file')), undefined);
    assert.equal(splitAppended(Buffer.alloc(0)), undefined);
  });

  test('the marker with too little before it: truncated', () => {
    throwsFormat(() => splitAppended(MODSIG_MAGIC), /truncated: the file is 28 bytes/);
    throwsFormat(
      () => splitAppended(Buffer.concat([Buffer.alloc(5), MODSIG_MAGIC])),
      /truncated: the file is 33 bytes/,
    );
  });

  test('appendSignature and splitAppended are inverse', () => {
    const payload = Buffer.from('the payload\n');
    const cms = Buffer.from('3003020101', 'hex');
    const file = appendSignature(payload, cms);
    assert.equal(file.length, payload.length + cms.length + 40);
    const s = splitAppended(file)!;
    assert.deepEqual(s.payload, payload);
    assert.deepEqual(s.cms, cms);
    assert.equal(s.layout.payloadLength, payload.length);
    throwsFormat(() => appendSignature(Buffer.alloc(0), cms), /empty payload/);
  });

  test('the golden sign-file outputs split into their payload and CMS', (t) => {
    const m = loadManifest();
    const entries = m?.files.filter((f) => f.kind === 'modsig') ?? [];
    if (entries.length === 0) {
      skipOrFail(t, 'no modsig fixtures in test/fixtures/manifest.json');
      return;
    }
    for (const e of entries) {
      const rec = e as unknown as { payload_size: number; sig_len: number; payload: string };
      const file = readFileSync(fixture(e.file));
      const s = splitAppended(file);
      assert.ok(s, e.file);
      assert.equal(s.layout.payloadLength, rec.payload_size, e.file);
      assert.equal(s.layout.sigLen, rec.sig_len, e.file);
      assert.deepEqual(s.payload, readFileSync(fixture(rec.payload)), `${e.file}: payload`);
      // The trailer is exactly what buildTrailer makes: sign-file and we agree on every byte.
      assert.deepEqual(file.subarray(file.length - 40), buildTrailer(rec.sig_len), `${e.file}: trailer`);
      assert.equal(s.cms[0], 0x30, `${e.file}: the CMS starts with a SEQUENCE`);
    }
  });
});
