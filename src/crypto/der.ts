/**
 * Just enough DER to read what Node's X509Certificate does not give: the
 * subjectKeyIdentifier, the subjectPublicKey bits, the raw serial number and
 * issuer Name. pkijs and asn1js were 34 of the 142 modules a one-file
 * `verify` loaded, 66 ms of its imports under load (bench/bench.js,
 * NODE_DEBUG=esm, timed imports), and OpenSSL has
 * already checked the structure by the time these run (X509Certificate parsed
 * the same bytes), so a small strict reader is enough. pkijs stays for CMS.
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte: bytes.subarray(start, end) is the whole element. */
  readonly start: number;
  /** Offset of the contents. */
  readonly body: number;
  readonly end: number;
}

function fail(what: string): never {
  throw new Error(`malformed DER: ${what}`);
}

function readTlv(b: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) fail('truncated header');
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) fail('multi-byte tag');
  let length = b[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) fail('bad length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + b[body + i]!;
    body += n;
  }
  const end = body + length;
  if (end > limit) fail('truncated contents');
  return { tag, start: at, body, end };
}

function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const t = readTlv(b, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}`);
  return t;
}

/** The subjectPublicKey BIT STRING's contents, without its unused-bits octet, of a SubjectPublicKeyInfo. */
function subjectPublicKeyBits(b: Uint8Array, spki: Tlv): Uint8Array {
  const [, keyBits] = children(b, expect(spki, 0x30, 'SubjectPublicKeyInfo'));
  const t = expect(keyBits, 0x03, 'subjectPublicKey');
  if (t.end - t.body < 1) fail('empty BIT STRING');
  return b.subarray(t.body + 1, t.end);
}

/** DER of OID 2.5.29.14 (subjectKeyIdentifier), contents only. */
const SKID_OID = [0x55, 0x1d, 0x0e];

export interface CertificateFields {
  /** subjectKeyIdentifier, when present and not empty. */
  readonly skid?: Uint8Array;
  /** subjectPublicKey BIT STRING contents, without the unused-bits octet. */
  readonly spkBits: Uint8Array;
  /** The serialNumber INTEGER's contents octets, as encoded. */
  readonly serial: Uint8Array;
  /** The issuer Name exactly as encoded (tag, length and contents). */
  readonly issuer: Uint8Array;
}

/** Reads the fields above from a DER certificate (RFC 5280 section 4.1). Throws Error on a malformed one. */
export function certificateFields(der: Uint8Array): CertificateFields {
  const cert = expect(readTlv(der, 0, der.length), 0x30, 'Certificate');
  const tbs = expect(children(der, cert)[0], 0x30, 'TBSCertificate');
  const f = children(der, tbs);
  let i = f[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version, absent for v1
  const serial = expect(f[i++], 0x02, 'serialNumber');
  expect(f[i++], 0x30, 'signature');
  const issuer = expect(f[i++], 0x30, 'issuer');
  expect(f[i++], 0x30, 'validity');
  expect(f[i++], 0x30, 'subject');
  const spkBits = subjectPublicKeyBits(der, expect(f[i++], 0x30, 'subjectPublicKeyInfo'));
  let skid: Uint8Array | undefined;
  const extensions = f.slice(i).find((t) => t.tag === 0xa3); // [3] EXPLICIT Extensions
  if (extensions) {
    const list = expect(children(der, extensions)[0], 0x30, 'Extensions');
    for (const ext of children(der, list)) {
      const parts = children(der, expect(ext, 0x30, 'Extension'));
      const oid = expect(parts[0], 0x06, 'extnID');
      if (oid.end - oid.body !== SKID_OID.length || SKID_OID.some((v, k) => der[oid.body + k] !== v)) continue;
      const value = expect(parts[parts.length - 1], 0x04, 'extnValue');
      const keyId = expect(readTlv(der, value.body, value.end), 0x04, 'keyIdentifier');
      if (keyId.end > keyId.body) skid = der.subarray(keyId.body, keyId.end);
      break;
    }
  }
  return {
    skid,
    spkBits,
    serial: der.subarray(serial.body, serial.end),
    issuer: der.subarray(issuer.start, issuer.end),
  };
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo. */
export function spkiBits(der: Uint8Array): Uint8Array {
  return subjectPublicKeyBits(der, readTlv(der, 0, der.length));
}
