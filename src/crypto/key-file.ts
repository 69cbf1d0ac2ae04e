/**
 * A key file that may carry its certificate, as the kernel's
 * certs/signing_key.pem does (the private key and its X.509 certificate in
 * one PEM file): evmctl and sign-file take the keyid from that certificate,
 * and so does this tool.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, describeSystemError } from '../errors.js';
import { Certificate, parseCertificates } from './certificate.js';
import { DEFAULT_PRIVATE_KEY, KeyPasswordSource, parsePrivateKey, SigningKey } from './keys.js';

export interface KeyFile {
  readonly key: SigningKey;
  /** The certificates in the same file (none for a bare key, and for DER, which holds one object). */
  readonly certificates: readonly Certificate[];
}

const PEM_CERTIFICATE = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/;

/** Reads a private key, and the certificates beside it in a PEM file; ConfigError naming the file. */
export async function loadKeyFile(path: string | undefined, passSrc: KeyPasswordSource = {}): Promise<KeyFile> {
  const p = path ?? DEFAULT_PRIVATE_KEY;
  let bytes: Buffer;
  try {
    bytes = await readFile(p);
  } catch (e) {
    const hint = path === undefined ? ' (the default key; give --key)' : '';
    throw new ConfigError(`${p}: cannot read private key: ${describeSystemError(e)}${hint}`, p);
  }
  const key = parsePrivateKey(bytes, p, passSrc);
  const certificates = PEM_CERTIFICATE.test(bytes.toString('latin1')) ? await parseCertificates(bytes, p) : [];
  return { key, certificates };
}
