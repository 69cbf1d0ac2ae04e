/**
 * Putting a signing key together with the keyid the kernel will look up.
 * The keyid comes from --keyid, --cert, the certificate beside the key in
 * its file, or, failing all, is computed from the public key with a warning.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { Certificate, computedKeyid, noSkidWarning, parseCertificates, subjectPublicKeyBits } from './certificate.js';
import { loadKeyFile } from './key-file.js';
import { SigningKey, KeyPasswordSource } from './keys.js';
import { keyWeakness } from './kernel-support.js';
import { readFile } from 'node:fs/promises';
import { describeSystemError } from '../errors.js';

export interface Signer {
  readonly key: SigningKey;
  readonly keyid: string;
  readonly keyidSource: 'skid' | 'computed' | 'given';
  readonly cert?: Certificate;
}

export function parseKeyidHex(hex: string): string {
  const clean = hex.replace(/^0x/i, '').toLowerCase();
  if (!/^[0-9a-f]{1,8}$/.test(clean)) throw new ConfigError(`--keyid must be up to 8 hex digits, not "${hex}"`);
  return clean.padStart(8, '0');
}

/** evmctl's keyid for a key without a certificate: SHA-1 of the public key bits. Takes a public or a private key. */
export async function keyidOfPublicKey(key: KeyObject): Promise<string> {
  // A private KeyObject cannot be exported as SPKI: derive its public half first.
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  return computedKeyid(subjectPublicKeyBits(spki));
}

/** Whether the certificate is the key's. */
export function certificateMatches(cert: Certificate, key: SigningKey): boolean {
  return cert.x509.checkPrivateKey(key.key);
}

export interface SignerOptions extends KeyPasswordSource {
  readonly keyPath?: string;
  readonly certPath?: string;
  readonly keyid?: string;
}

async function readCertificateFile(path: string): Promise<Certificate[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new ConfigError(`${path}: cannot read certificate: ${describeSystemError(e)}`, path);
  }
  return parseCertificates(bytes, path);
}

export async function resolveSigner(opts: SignerOptions, warn: (m: string) => void): Promise<Signer> {
  const given = opts.certPath ? await readCertificateFile(opts.certPath) : undefined;
  const { key, certificates: beside } = await loadKeyFile(opts.keyPath, opts);
  const weakness = keyWeakness(key);
  if (weakness) warn(`${key.path}: ${weakness}`);
  let cert: Certificate | undefined;
  if (given) {
    cert = given.find((c) => certificateMatches(c, key));
    if (!cert)
      throw new ConfigError(
        `${opts.certPath}: the certificate does not match the private key ${key.path}`,
        opts.certPath,
      );
  } else if (beside.length > 0) {
    // The certificate beside the key (as in signing_key.pem) gives the keyid, as for evmctl and sign-file.
    cert = beside.find((c) => certificateMatches(c, key));
    if (!cert)
      throw new ConfigError(
        `${beside[0]!.source}: the certificate beside the key does not match the private key ${key.path}`,
      );
  }
  if (opts.keyid !== undefined) return { key, keyid: parseKeyidHex(opts.keyid), keyidSource: 'given', cert };
  if (cert) {
    if (cert.keyidSource === 'computed') warn(noSkidWarning(cert));
    return { key, keyid: cert.keyid, keyidSource: cert.keyidSource, cert };
  }
  const keyid = await keyidOfPublicKey(key.key);
  warn(
    `${key.path}: no --cert given: keyid ${keyid} computed from the public key, which matches the certificate only if its subjectKeyIdentifier was made the same way`,
  );
  return { key, keyid, keyidSource: 'computed' };
}
