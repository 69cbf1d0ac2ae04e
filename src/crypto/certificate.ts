/**
 * X.509 certificates that verify IMA signatures: the public key, and the keyid
 * the kernel matches (last 4 bytes of the subjectKeyIdentifier).
 * Node's X509Certificate gives the key object and the names as Node prints them;
 * pkijs reads the fields as encoded (SKID, serial, issuer, key bits).
 */
import { createHash, KeyObject, X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBER, OctetString } from 'asn1js';
import { Certificate as PkijsCertificate, PublicKeyInfo } from 'pkijs';
import { ConfigError, describeSystemError } from '../errors.js';
import { classifyKey, KeyAlgorithm } from './keys.js';

export const DEFAULT_CERTIFICATES = ['/etc/keys/x509_evm.der', '/etc/keys/x509_ima.der'];

export interface Certificate {
  /** File it came from, with `#N` for the N-th certificate of a PEM bundle. */
  readonly source: string;
  readonly der: Buffer;
  readonly subject: string;
  readonly issuer: string;
  /** Serial number as upper-case hex, as Node prints it. */
  readonly serialNumber: string;
  readonly skid?: Buffer;
  /** The serialNumber INTEGER's contents octets, as encoded. */
  readonly serialBytes: Buffer;
  /** The issuer Name exactly as encoded (tag, length and contents): a CMS names its signer's certificate by it. */
  readonly issuerDer: Buffer;
  /** The 8-hex-digit keyid the kernel matches. */
  readonly keyid: string;
  readonly keyidSource: 'skid' | 'computed';
  /**
   * Last 4 bytes of serial number || issuer Name (DER): the kernel's other id of an X.509 key
   * (x509_cert_parser.c), which its `id:` lookup also tail-matches. For a certificate without
   * SKID it is the only keyid the kernel can find the certificate by.
   */
  readonly issuerKeyid: string;
  readonly publicKey: KeyObject;
  /** Undefined when the key type cannot verify IMA signatures. */
  readonly algorithm?: KeyAlgorithm;
  readonly x509: X509Certificate;
}

/** evmctl's calc_keyid_v2: last 4 bytes of SHA-1 over the subjectPublicKey bits. */
export function computedKeyid(subjectPublicKeyBits: Uint8Array): string {
  return createHash('sha1').update(subjectPublicKeyBits).digest().subarray(16, 20).toString('hex');
}

export function keyidFromSkid(skid: Uint8Array): string {
  const b = Buffer.from(skid);
  if (b.length >= 4) return b.subarray(b.length - 4).toString('hex');
  return Buffer.concat([Buffer.alloc(4 - b.length), b]).toString('hex');
}

const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

/** The subjectPublicKey BIT STRING's contents, without its unused-bits octet. */
function keyBits(spki: PublicKeyInfo): Buffer {
  // The constructed (BER) form has no contents of its own: its keyid would be that of no bits.
  if (spki.subjectPublicKey.idBlock.isConstructed) throw new Error('subjectPublicKey is a constructed BIT STRING');
  return Buffer.from(spki.subjectPublicKey.valueBlock.valueHexView);
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (what evmctl hashes for a keyid). */
export function subjectPublicKeyBits(spkiDer: Uint8Array): Buffer {
  // pkijs's types take views of an ArrayBuffer only, and a Buffer's may be shared: copy.
  return keyBits(PublicKeyInfo.fromBER(new Uint8Array(spkiDer)));
}

/** The subjectKeyIdentifier, when present and not empty. Throws Error when its value is not an OCTET STRING. */
function subjectKeyIdentifier(cert: PkijsCertificate): Buffer | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === OID_SUBJECT_KEY_IDENTIFIER);
  if (!ext) return undefined;
  const value = fromBER(ext.extnValue.valueBlock.valueHexView);
  if (value.offset === -1 || !(value.result instanceof OctetString) || value.result.idBlock.isConstructed)
    throw new Error('subjectKeyIdentifier is not an OCTET STRING');
  const skid = value.result.valueBlock.valueHexView;
  return skid.length > 0 ? Buffer.from(skid) : undefined;
}

interface Fields {
  readonly skid?: Buffer;
  readonly spkBits: Buffer;
  readonly serialBytes: Buffer;
  readonly issuerDer: Buffer;
}

/** Reads these fields with pkijs. Throws Error (or whatever asn1js throws) on a malformed certificate. */
function fieldsOf(der: Buffer): Fields {
  const cert = PkijsCertificate.fromBER(new Uint8Array(der));
  return {
    skid: subjectKeyIdentifier(cert),
    spkBits: keyBits(cert.subjectPublicKeyInfo),
    serialBytes: Buffer.from(cert.serialNumber.valueBlock.valueHexView),
    // The issuer exactly as encoded in the certificate (re-encoding could differ from the original bytes).
    issuerDer: Buffer.from(cert.issuer.valueBeforeDecode),
  };
}

export async function parseCertificateDer(der: Buffer, source: string): Promise<Certificate> {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new ConfigError(`${source}: not an X.509 certificate`, source);
  }
  let f: Fields;
  try {
    f = fieldsOf(der);
  } catch (e) {
    // asn1js and pkijs throw plain Errors, and RangeErrors or TypeErrors on absurd input: all mean "malformed".
    const why = e instanceof Error && e.message ? `: ${e.message.split('\n')[0]}` : '';
    throw new ConfigError(`${source}: cannot parse the certificate${why}`, source);
  }
  let publicKey: KeyObject;
  try {
    publicKey = x509.publicKey;
  } catch {
    // OpenSSL decodes the key only when asked: a certificate can parse and still hold no usable key.
    throw new ConfigError(`${source}: cannot read the certificate's public key`, source);
  }
  // The kernel's other id of an X.509 key (x509_cert_parser.c): the tail of serial || issuer.
  const serialAndIssuer = Buffer.concat([f.serialBytes, f.issuerDer]);
  const kind = classifyKey(publicKey);
  return {
    source,
    der,
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    serialNumber: x509.serialNumber,
    skid: f.skid,
    serialBytes: f.serialBytes,
    issuerDer: f.issuerDer,
    keyid: f.skid ? keyidFromSkid(f.skid) : computedKeyid(f.spkBits),
    keyidSource: f.skid ? 'skid' : 'computed',
    issuerKeyid: serialAndIssuer
      .subarray(Math.max(0, serialAndIssuer.length - 4))
      .toString('hex')
      .padStart(8, '0'),
    publicKey,
    algorithm: 'refused' in kind ? undefined : kind.algorithm,
    x509,
  };
}

/** What to say about a certificate without SKID: evmctl's keyid is used, the kernel would look for another. */
export function noSkidWarning(c: Certificate): string {
  return (
    `${c.source}: certificate has no subjectKeyIdentifier; ` +
    `using the keyid ${c.keyid} computed from its key (as evmctl does), which the kernel cannot match: ` +
    `it finds this certificate only by keyid ${c.issuerKeyid} (the end of its serial number and issuer name; ` +
    `give --keyid ${c.issuerKeyid} to sign for the kernel)`
  );
}

const PEM_CERT =
  /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g;

/** Parses a file's bytes: DER, or PEM with one or more certificates. */
export async function parseCertificates(bytes: Buffer, source: string): Promise<Certificate[]> {
  const text = bytes.includes('-----BEGIN') ? bytes.toString('latin1') : undefined;
  if (text === undefined) return [await parseCertificateDer(bytes, source)];
  const blocks = [...text.matchAll(PEM_CERT)];
  if (blocks.length === 0) {
    const what = /PRIVATE KEY/.test(text) ? 'a private key, not a certificate' : 'no PEM certificate in it';
    throw new ConfigError(`${source}: ${what}`, source);
  }
  const certs: Certificate[] = [];
  for (const [i, m] of blocks.entries()) {
    const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
    certs.push(await parseCertificateDer(der, blocks.length > 1 ? `${source}#${i + 1}` : source));
  }
  return certs;
}

/**
 * Loads certificates from files and directories (every regular file in a
 * directory that parses as a certificate). With no paths, evmctl's defaults
 * that exist.
 */
export async function loadCertificates(
  paths: readonly string[] | undefined,
  warn: (msg: string) => void = () => {},
  opts: { allowNone?: boolean } = {},
): Promise<Certificate[]> {
  const explicit = paths && paths.length > 0;
  const list = explicit ? paths : DEFAULT_CERTIFICATES;
  const certs: Certificate[] = [];
  for (const p of list) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      if (!explicit) continue;
      throw new ConfigError(`${p}: cannot read certificate: ${describeSystemError(e)}`, p);
    }
    if (st.isDirectory()) {
      const names = (await readdir(p)).sort();
      let found = 0;
      for (const name of names) {
        const f = join(p, name);
        try {
          if (!(await stat(f)).isFile()) continue;
          const got = await parseCertificates(await readFile(f), f);
          certs.push(...got);
          found += got.length;
        } catch (e) {
          warn(`${f}: skipped: ${(e as Error).message.replace(`${f}: `, '')}`);
        }
      }
      if (found === 0) throw new ConfigError(`${p}: no certificates in this directory`, p);
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(p);
    } catch (e) {
      throw new ConfigError(`${p}: cannot read certificate: ${describeSystemError(e)}`, p);
    }
    certs.push(...(await parseCertificates(bytes, p)));
  }
  if (certs.length === 0) {
    // Digest values need no certificate: a caller that may meet only digests asks for none rather than an error.
    if (!explicit && opts.allowNone) return certs;
    throw new ConfigError(
      `no certificate given and none of the defaults exist (${DEFAULT_CERTIFICATES.join(', ')}); use --cert`,
    );
  }
  for (const c of certs) {
    if (c.keyidSource === 'computed') {
      warn(noSkidWarning(c));
    }
  }
  return certs;
}
