/**
 * A key file that may carry its certificate, as the kernel's
 * certs/signing_key.pem does (the private key and its X.509 certificate in
 * one PEM file): evmctl and sign-file take the keyid from that certificate,
 * and so does this tool.
 */
import { Certificate, parseCertificates } from './certificate.js';
import { KeyPasswordSource, parsePrivateKey, readPrivateKeyFile, SigningKey } from './keys.js';

export interface KeyFile {
  readonly key: SigningKey;
  /** The certificates in the same file (none for a bare key, and for DER, which holds one object). */
  readonly certificates: readonly Certificate[];
}

const PEM_CERTIFICATE = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----/;

/** Reads a private key, and the certificates beside it in a PEM file; ConfigError naming the file. */
export async function loadKeyFile(path: string | undefined, passSrc: KeyPasswordSource = {}): Promise<KeyFile> {
  const { path: p, bytes } = await readPrivateKeyFile(path);
  const key = parsePrivateKey(bytes, p, passSrc);
  const certificates = PEM_CERTIFICATE.test(bytes.toString('latin1')) ? await parseCertificates(bytes, p) : [];
  return { key, certificates };
}
