// Property and fuzz tests for appended signatures (fast-check): whatever the bytes, the trailer parser and the
// CMS parser only ever throw FormatError, and reading a whole file (loadAppended + verifyAppended) never
// throws at all. The categories the kernel cares about are generated on purpose: tampered payloads,
// truncated trailers, bad sig_len, garbage CMS, signed attributes present.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { buildTrailer, MAX_SIG_LEN, MODSIG_MAGIC, parseTrailer, splitAppended } from '../../src/codec/modsig.js';
import { parseCertificates } from '../../src/crypto/certificate.js';
import type { Certificate } from '../../src/crypto/certificate.js';
import { describeCms, kernelRules, parseCms } from '../../src/crypto/cms.js';
import { FormatError } from '../../src/errors.js';
import { loadAppended, verifyAppended } from '../../src/ops/modsig.js';
import { fixture, loadManifest, tempDir } from '../helpers/cli.js';

const RUNS = 400;

function onlyFormatErrors<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof FormatError) {
      assert.ok(e.reason.length > 0, 'a FormatError has a reason');
      return undefined;
    }
    throw e;
  }
}

async function onlyFormatErrorsAsync<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof FormatError) {
      assert.ok(e.reason.length > 0, 'a FormatError has a reason');
      return undefined;
    }
    throw e;
  }
}

interface Golden {
  name: string;
  file: Buffer;
  payloadLength: number;
  cms: Buffer;
  cert: Certificate;
}

const goldens: Golden[] = [];
let certs: Certificate[] = [];
let scratch = '';

before(async () => {
  scratch = join(await tempDir(), 'file');
  const m = loadManifest();
  for (const e of m?.files.filter((f) => f.kind === 'modsig') ?? []) {
    const file = readFileSync(fixture(e.file));
    if (file.length > 100_000) continue; // kernel.bin: the same CMS as small.bin's, and slow to fuzz
    const s = splitAppended(file)!;
    const cert = (await parseCertificates(readFileSync(fixture(e.cert!)), e.cert!))[0]!;
    goldens.push({ name: e.file, file, payloadLength: s.layout.payloadLength, cms: Buffer.from(s.cms), cert });
  }
  // Without the fixtures the file-level properties have nothing to start from; under CI that is a failure.
  if (goldens.length === 0 && process.env.CI === 'true')
    throw new Error('no modsig fixtures in test/fixtures/manifest.json');
  certs = goldens.map((g) => g.cert);
});

// 'large' lets fast-check reach the stated maximum now and then (its default size keeps arrays short).
const anyBytes = (max: number, min = 0) =>
  fc.uint8Array({ minLength: min, maxLength: max, size: 'large' }).map((u) => Buffer.from(u));

/** Applies byte edits: overwrite, delete a run, insert a run. */
type Edit =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'insert'; at: number; bytes: Buffer };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: anyBytes(16) }),
);

function applyEdits(input: Buffer, edits: readonly Edit[], from = 0): Buffer {
  let b = Buffer.from(input);
  for (const e of edits) {
    const span = Math.max(1, b.length - from);
    const at = from + (e.at % span);
    if (e.kind === 'set') {
      if (at < b.length) b[at] = e.value;
    } else if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.n)]);
    else b = Buffer.concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
  }
  return b;
}

function checkLayoutInvariants(fileSize: number, l: ReturnType<typeof parseTrailer>): void {
  assert.ok(l.payloadLength >= 1, 'the payload is never empty');
  assert.ok(l.sigLen >= 1 && l.sigLen <= MAX_SIG_LEN);
  assert.equal(l.payloadLength + l.sigLen + 40, fileSize);
  assert.equal(l.info.idType, 2);
  assert.deepEqual([l.info.algo, l.info.hash, l.info.signerLen, l.info.keyIdLen, ...l.info.pad], [0, 0, 0, 0, 0, 0, 0]);
}

describe('trailer parser: only FormatError', () => {
  test('any 40 bytes, any file size', () => {
    fc.assert(
      fc.property(anyBytes(40, 40), fc.integer({ min: -5, max: 2 ** 40 }), (t, size) => {
        const l = onlyFormatErrors(() => parseTrailer(t, size));
        if (l) checkLayoutInvariants(size, l);
      }),
      { numRuns: RUNS },
    );
  });

  test('any struct module_signature before the marker (bad sig_len, id_type, non-zero fields)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.integer({ min: 0, max: 200_000 }), (s, size) => {
        const t = Buffer.concat([Buffer.from(s), MODSIG_MAGIC]);
        const l = onlyFormatErrors(() => parseTrailer(t, size));
        if (l) checkLayoutInvariants(size, l);
      }),
      { numRuns: RUNS },
    );
  });

  test('a well-formed struct with a random sig_len: accepted exactly when it leaves a payload', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 41, max: 100_000 }), (sigLen, size) => {
        const t = Buffer.concat([Buffer.from('0000020000000000', 'hex'), Buffer.alloc(4), MODSIG_MAGIC]);
        t.writeUInt32BE(sigLen, 8);
        const l = onlyFormatErrors(() => parseTrailer(t, size));
        const acceptable = sigLen >= 1 && sigLen <= MAX_SIG_LEN && sigLen < size - 40;
        assert.equal(l !== undefined, acceptable, `sig_len ${sigLen}, size ${size}`);
      }),
      { numRuns: RUNS },
    );
  });

  test('whole buffers, with and without the marker, and truncated', () => {
    fc.assert(
      fc.property(anyBytes(600), fc.boolean(), fc.nat(40), (b, magic, cut) => {
        let file = magic ? Buffer.concat([b, MODSIG_MAGIC]) : b;
        file = file.subarray(0, Math.max(0, file.length - (magic ? 0 : cut)));
        const s = onlyFormatErrors(() => splitAppended(file));
        if (s) assert.equal(s.payload.length + s.cms.length + 40, file.length);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('CMS parser: only FormatError', () => {
  test('random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(anyBytes(1500), async (b) => {
        const cms = await onlyFormatErrorsAsync(() => parseCms(b));
        if (cms) {
          kernelRules(cms);
          describeCms(cms);
        }
      }),
      { numRuns: RUNS },
    );
  });

  test('random bytes under a SEQUENCE header and the signedData OID (reaches deeper)', async () => {
    const oid = Buffer.from('06092a864886f70d010702', 'hex');
    await fc.assert(
      fc.asyncProperty(anyBytes(600), async (body) => {
        const inner = Buffer.concat([oid, Buffer.from([0xa0, 0x82]), Buffer.alloc(2), body]);
        inner.writeUInt16BE(body.length, oid.length + 2);
        const der = Buffer.concat([Buffer.from([0x30, 0x82]), Buffer.alloc(2), inner]);
        der.writeUInt16BE(inner.length, 2);
        await onlyFormatErrorsAsync(() => parseCms(der));
      }),
      { numRuns: RUNS },
    );
  });

  test('mutated sign-file CMS (garbage edits anywhere)', async () => {
    if (goldens.length === 0) return;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(goldens.length - 1),
        fc.array(editArb, { minLength: 1, maxLength: 8 }),
        async (i, edits) => {
          const cms = await onlyFormatErrorsAsync(() => parseCms(applyEdits(goldens[i]!.cms, edits)));
          if (cms) {
            kernelRules(cms);
            describeCms(cms);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('every strict prefix of a sign-file CMS is refused', async () => {
    for (const g of goldens) {
      for (let n = 0; n < g.cms.length; n++) {
        await assert.rejects(parseCms(g.cms.subarray(0, n)), FormatError, `${g.name}: prefix of ${n} bytes`);
      }
    }
  });
});

/** sign-file's CMS with signed attributes added (contentType), as openssl cms -sign makes by default. */
function withSignedAttributes(der: Buffer): Buffer {
  const ci = pkijs.ContentInfo.fromBER(new Uint8Array(der));
  const sd = new pkijs.SignedData({ schema: ci.content });
  sd.signerInfos[0]!.signedAttrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({
        type: '1.2.840.113549.1.9.3',
        values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })],
      }),
    ],
  });
  const out = new pkijs.ContentInfo({ contentType: ci.contentType, content: sd.toSchema() });
  return Buffer.from(out.toSchema().toBER(false));
}

function withCms(g: Golden, cms: Buffer): Buffer {
  return Buffer.concat([g.file.subarray(0, g.payloadLength), cms, buildTrailer(cms.length)]);
}

describe('whole files: loadAppended and verifyAppended never throw', () => {
  /** Writes the bytes to a real file and reads them back as the operations do. */
  async function judge(file: Buffer): Promise<{ kind: string; ok?: boolean; reason?: string }> {
    writeFileSync(scratch, file);
    const h = await open(scratch, 'r');
    try {
      const loaded = await loadAppended(h, file.length);
      if (loaded.kind !== 'found')
        return { kind: loaded.kind, reason: loaded.kind === 'invalid' ? loaded.reason : undefined };
      const v = await verifyAppended(h, loaded, certs);
      return { kind: 'found', ok: v.ok, reason: v.ok ? undefined : v.reason };
    } finally {
      await h.close();
    }
  }

  test('the goldens verify (the properties below start from files that are good)', async () => {
    for (const g of goldens)
      assert.deepEqual(await judge(g.file), { kind: 'found', ok: true, reason: undefined }, g.name);
  });

  test('tampered payloads never verify', async () => {
    if (goldens.length === 0) return;
    await fc.assert(
      fc.asyncProperty(fc.nat(goldens.length - 1), fc.nat(), fc.integer({ min: 1, max: 255 }), async (i, at, x) => {
        const g = goldens[i]!;
        const file = Buffer.from(g.file);
        file[at % g.payloadLength] ^= x;
        const r = await judge(file);
        assert.equal(r.kind, 'found');
        assert.equal(r.ok, false);
        assert.match(r.reason!, /^bad signature/);
      }),
      { numRuns: 100 },
    );
  });

  test('truncated trailers and files: invalid or unsigned, never a crash', async () => {
    if (goldens.length === 0) return;
    await fc.assert(
      fc.asyncProperty(fc.nat(goldens.length - 1), fc.integer({ min: 1, max: 11 }), fc.nat(), async (i, cut, where) => {
        const g = goldens[i]!;
        const structStart = g.file.length - 40;
        // Cut bytes out of struct module_signature, keeping the marker: the trailer is then read shifted.
        const at = structStart + (where % (12 - cut + 1));
        const file = Buffer.concat([g.file.subarray(0, at), g.file.subarray(at + cut)]);
        const r = await judge(file);
        assert.notEqual(r.ok, true);
        // Or the file simply cut short anywhere.
        const short = g.file.subarray(0, where % g.file.length);
        const s = await judge(short);
        assert.notEqual(s.ok, true);
      }),
      { numRuns: 200 },
    );
  });

  test('bad sig_len: invalid unless it is the real one', async () => {
    if (goldens.length === 0) return;
    await fc.assert(
      fc.asyncProperty(fc.nat(goldens.length - 1), fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (i, sigLen) => {
        const g = goldens[i]!;
        const file = Buffer.from(g.file);
        file.writeUInt32BE(sigLen, file.length - 32);
        const r = await judge(file);
        if (sigLen === g.cms.length) assert.equal(r.ok, true);
        else assert.notEqual(r.ok, true, `sig_len ${sigLen} (real ${g.cms.length})`);
      }),
      { numRuns: 200 },
    );
  });

  test(
    'garbage edits to the CMS: never a crash, and a ' + 'changed signature or digest algorithm never verifies',
    async () => {
      if (goldens.length === 0) return;
      await fc.assert(
        fc.asyncProperty(
          fc.nat(goldens.length - 1),
          fc.array(editArb, { minLength: 1, maxLength: 6 }),
          async (i, edits) => {
            const g = goldens[i]!;
            const cms = applyEdits(g.cms, edits);
            const r = await judge(withCms(g, cms));
            if (r.ok) {
              // Some bytes are checked by nobody (SignedData.digestAlgorithms, the kernel ignores it too); the
              // signer's signature, digest algorithm and identity are not among them.
              const [was, now] = [(await parseCms(g.cms)).signers[0]!, (await parseCms(cms)).signers[0]!];
              assert.deepEqual(now.signature, was.signature);
              assert.equal(now.digestAlgorithmOid, was.digestAlgorithmOid);
              assert.deepEqual(now.sid, was.sid);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
  );

  test('random bytes as the CMS: invalid', async () => {
    if (goldens.length === 0) return;
    await fc.assert(
      fc.asyncProperty(fc.nat(goldens.length - 1), anyBytes(800, 1), async (i, cms) => {
        const r = await judge(withCms(goldens[i]!, cms));
        assert.notEqual(r.ok, true);
      }),
      { numRuns: RUNS },
    );
  });

  test('signed attributes present: invalid with that reason, and mutations of it never crash', async () => {
    if (goldens.length === 0) return;
    for (const g of goldens) {
      const r = await judge(withCms(g, withSignedAttributes(g.cms)));
      assert.equal(r.kind, 'invalid', g.name);
      assert.match(r.reason!, /signed attributes are present/, g.name);
    }
    await fc.assert(
      fc.asyncProperty(
        fc.nat(goldens.length - 1),
        fc.array(editArb, { minLength: 1, maxLength: 4 }),
        async (i, edits) => {
          const g = goldens[i]!;
          const r = await judge(withCms(g, applyEdits(withSignedAttributes(g.cms), edits)));
          assert.notEqual(r.ok, true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
