/**
 * X.509 certificates that verify IMA signatures: the public key, and the keyid
 * the kernel matches (last 4 bytes of the subjectKeyIdentifier).
 * Node's X509Certificate gives the key and names; ./der.ts the extensions.
 */
import { createHash, KeyObject, X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, describeSystemError } from '../errors.js';
import { certificateFields } from './der.js';
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

async function parseExtensions(der: Buffer): Promise<{ skid?: Buffer; spkBits: Buffer; issuerKeyid: string }> {
  const f = certificateFields(der);
  // The issuer exactly as encoded in the certificate (re-encoding could differ from the original bytes).
  const serialAndIssuer = Buffer.concat([f.serial, f.issuer]);
  return {
    skid: f.skid && Buffer.from(f.skid),
    spkBits: Buffer.from(f.spkBits),
    issuerKeyid: serialAndIssuer
      .subarray(Math.max(0, serialAndIssuer.length - 4))
      .toString('hex')
      .padStart(8, '0'),
  };
}

export async function parseCertificateDer(der: Buffer, source: string): Promise<Certificate> {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch {
    throw new ConfigError(`${source}: not an X.509 certificate`, source);
  }
  let ext: { skid?: Buffer; spkBits: Buffer; issuerKeyid: string };
  try {
    ext = await parseExtensions(der);
  } catch (e) {
    throw new ConfigError(`${source}: cannot parse the certificate: ${(e as Error).message}`, source);
  }
  const kind = classifyKey(x509.publicKey);
  return {
    source,
    der,
    subject: x509.subject.replace(/\n/g, ', '),
    issuer: x509.issuer.replace(/\n/g, ', '),
    serialNumber: x509.serialNumber,
    skid: ext.skid,
    keyid: ext.skid ? keyidFromSkid(ext.skid) : computedKeyid(ext.spkBits),
    keyidSource: ext.skid ? 'skid' : 'computed',
    issuerKeyid: ext.issuerKeyid,
    publicKey: x509.publicKey,
    algorithm: 'refused' in kind ? undefined : kind.algorithm,
    x509,
  };
}

/** What to say about a certificate without SKID: evmctl's keyid is used, the kernel would look for another. */
export function noSkidWarning(c: Certificate): string {
  return `${c.source}: certificate has no subjectKeyIdentifier; using the keyid ${c.keyid} computed from its key (as evmctl does), which the kernel cannot match: it finds this certificate only by keyid ${c.issuerKeyid} (the end of its serial number and issuer name; give --keyid ${c.issuerKeyid} to sign for the kernel)`;
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
