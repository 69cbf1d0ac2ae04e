// Property tests for the security.ima codec (fast-check): every valid value survives encode/decode, and
// nothing but FormatError ever comes out of the decoder, whatever the bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HASH_ALGOS, hashAlgoByName } from '../../src/codec/hash-algo.js';
import {
  decodeImaValue,
  encodeImaValue,
  ImaValue,
  MAX_VALUE_SIZE,
  SIGNATURE_HEADER_SIZE,
} from '../../src/codec/ima-value.js';
import { FormatError } from '../../src/errors.js';

const RUNS = 1000;

const md5 = hashAlgoByName('md5')!;
const sha1 = hashAlgoByName('sha1')!;

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((u) => Buffer.from(u));

const algoArb = fc.constantFrom(...HASH_ALGOS);

/** Any value the kernel would take, as the codec models it. */
const digestNg: fc.Arbitrary<ImaValue> = algoArb.chain((algo) =>
  bytes(algo.digestSize).map((digest) => ({ kind: 'digest' as const, type: 0x04 as const, algo, digest })),
);

const legacySha1: fc.Arbitrary<ImaValue> = bytes(20)
  // A sha1 digest ending in four zero bytes cannot take the 0x01 form (the kernel reads md5 then).
  .filter((d) => d.readUInt32BE(16) !== 0)
  .map((digest) => ({ kind: 'digest' as const, type: 0x01 as const, algo: sha1, digest }));

const legacyMd5: fc.Arbitrary<ImaValue> = fc
  .tuple(bytes(16), fc.boolean())
  .map(([digest, padded]) =>
    padded
      ? { kind: 'digest' as const, type: 0x01 as const, algo: md5, digest, md5Padded: true }
      : { kind: 'digest' as const, type: 0x01 as const, algo: md5, digest },
  );

const keyidArb = bytes(4).map((b) => b.toString('hex'));

// Mostly small signatures of random bytes; sometimes large ones up to the 64 KiB limit, filled with a
// repeated random pattern (generating 64 KiB byte by byte would make the suite slow).
const smallSig = fc.uint8Array({ minLength: 1, maxLength: 1100 }).map((u) => Buffer.from(u));
const largeSig = fc
  .tuple(
    fc.integer({ min: 1, max: MAX_VALUE_SIZE - SIGNATURE_HEADER_SIZE }),
    fc.uint8Array({ minLength: 1, maxLength: 16 }),
  )
  .map(([n, pattern]) => Buffer.alloc(n, Buffer.from(pattern)));
const signatureBytes = fc.oneof({ weight: 8, arbitrary: smallSig }, { weight: 1, arbitrary: largeSig });

const signature: fc.Arbitrary<ImaValue> = fc
  .record({
    tv: fc.constantFrom([0x03, 2], [0x03, 3], [0x06, 3]) as fc.Arbitrary<[0x03 | 0x06, 2 | 3]>,
    algo: algoArb,
    keyid: keyidArb,
    signature: signatureBytes,
  })
  .map(({ tv, algo, keyid, signature }) => ({
    kind: 'signature' as const,
    type: tv[0],
    version: tv[1],
    algo,
    keyid,
    signature,
  }));

const validValue: fc.Arbitrary<ImaValue> = fc.oneof(digestNg, legacySha1, legacyMd5, signature, signature);

/** Runs decode; passes when it returns or throws a FormatError with a non-empty reason; rethrows anything else. */
function decodeOnlyFormatErrors(input: Uint8Array): void {
  let d;
  try {
    d = decodeImaValue(input);
  } catch (e) {
    if (e instanceof FormatError) {
      assert.ok(e.reason.length > 0);
      return;
    }
    throw e;
  }
  // What decodes must encode back to the same bytes: the codec has exactly one spelling per value.
  assert.deepEqual(encodeImaValue(d.value), Buffer.from(input));
}

describe('codec properties', () => {
  test('decode(encode(x)) = x for every valid value', () => {
    fc.assert(
      fc.property(validValue, (v) => {
        const enc = encodeImaValue(v);
        assert.ok(enc.length <= MAX_VALUE_SIZE);
        assert.deepEqual(decodeImaValue(enc).value, v);
      }),
      { numRuns: RUNS },
    );
  });

  test('encode(decode(b)) = b for the bytes of every valid value', () => {
    fc.assert(
      fc.property(validValue, (v) => {
        const enc = encodeImaValue(v);
        assert.deepEqual(encodeImaValue(decodeImaValue(enc).value), enc);
      }),
      { numRuns: RUNS },
    );
  });

  test('random bytes only ever give a value or a FormatError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), decodeOnlyFormatErrors), { numRuns: RUNS * 3 });
  });

  test('random bytes behind each type byte only ever give a value or a FormatError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: 300 }), (type, rest) =>
        decodeOnlyFormatErrors(Buffer.concat([Buffer.of(type), rest])),
      ),
      { numRuns: RUNS * 2 },
    );
  });

  test('bit flips in valid values only ever give a value or a FormatError', () => {
    fc.assert(
      fc.property(validValue, fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), (v, flips) => {
        const enc = Buffer.from(encodeImaValue(v));
        for (const f of flips) {
          const bit = f % (enc.length * 8);
          enc[bit >> 3]! ^= 1 << (bit & 7);
        }
        decodeOnlyFormatErrors(enc);
      }),
      { numRuns: RUNS },
    );
  });

  test('a flipped header byte of a signature is either refused or decodes to a different value', () => {
    fc.assert(
      fc.property(
        signature,
        fc.integer({ min: 0, max: SIGNATURE_HEADER_SIZE - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (v, at, x) => {
          const enc = Buffer.from(encodeImaValue(v));
          enc[at]! ^= x;
          try {
            const d = decodeImaValue(enc);
            assert.notDeepEqual(d.value, v);
          } catch (e) {
            if (!(e instanceof FormatError)) throw e;
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('truncating a valid value is always refused with a FormatError', () => {
    fc.assert(
      fc.property(validValue, fc.nat(), (v, n) => {
        const enc = encodeImaValue(v);
        const cut = enc.subarray(0, n % enc.length);
        // A 21-byte 0x01 value (sha1 or padded md5) cut to 17 bytes is a plain md5 value: the one
        // truncation that stays valid.
        if (v.kind === 'digest' && v.type === 0x01 && enc.length === 21 && cut.length === 17) {
          assert.equal(decodeImaValue(cut).value.algo.name, 'md5');
          return;
        }
        assert.throws(() => decodeImaValue(cut), FormatError);
      }),
      { numRuns: RUNS },
    );
  });

  test('extending a valid value is always refused with a FormatError', () => {
    fc.assert(
      fc.property(validValue, fc.uint8Array({ minLength: 1, maxLength: 64 }), (v, extra) => {
        const enc = Buffer.concat([encodeImaValue(v), extra]);
        // 17-byte md5 plus four zero bytes is the padded md5 form: the one extension that is still valid.
        if (
          v.kind === 'digest' &&
          v.type === 0x01 &&
          v.algo.name === 'md5' &&
          !v.md5Padded &&
          extra.length === 4 &&
          Buffer.from(extra).readUInt32BE(0) === 0
        ) {
          assert.equal(decodeImaValue(enc).value.kind, 'digest');
          return;
        }
        // 17-byte md5 plus any other four bytes is a 21-byte sha1 value.
        if (v.kind === 'digest' && v.type === 0x01 && v.algo.name === 'md5' && !v.md5Padded && extra.length === 4) {
          assert.equal(decodeImaValue(enc).value.algo.name, 'sha1');
          return;
        }
        assert.throws(() => decodeImaValue(enc), FormatError);
      }),
      { numRuns: RUNS },
    );
  });

  test('every decoded signature keeps sig_size = length - 9 and a keyid of 8 hex digits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 200 }), (raw) => {
        const b = Buffer.from(raw);
        b[0] = 0x03;
        b[1] = 2;
        b[2] = b[2]! % 23;
        b.writeUInt16BE(b.length - SIGNATURE_HEADER_SIZE, 7);
        const d = decodeImaValue(b);
        assert.equal(d.value.kind, 'signature');
        if (d.value.kind === 'signature') {
          assert.equal(d.value.signature.length, b.length - SIGNATURE_HEADER_SIZE);
          assert.match(d.value.keyid, /^[0-9a-f]{8}$/);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
