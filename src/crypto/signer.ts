/**
 * Putting a signing key together with the keyid the kernel will look up.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { Certificate, computedKeyid, noSkidWarning, parseCertificates, subjectPublicKeyBits } from './certificate.js';
import { loadPrivateKey, SigningKey, KeyPasswordSource } from './keys.js';
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

export interface SignerOptions extends KeyPasswordSource {
  readonly keyPath?: string;
  readonly certPath?: string;
  readonly keyid?: string;
}

export async function resolveSigner(opts: SignerOptions, warn: (m: string) => void): Promise<Signer> {
  const key = await loadPrivateKey(opts.keyPath, opts);
  let cert: Certificate | undefined;
  if (opts.certPath) {
    let bytes: Buffer;
    try {
      bytes = await readFile(opts.certPath);
    } catch (e) {
      throw new ConfigError(`${opts.certPath}: cannot read certificate: ${describeSystemError(e)}`, opts.certPath);
    }
    const certs = await parseCertificates(bytes, opts.certPath);
    cert = certs.find((c) => c.x509.checkPrivateKey(key.key));
    if (!cert)
      throw new ConfigError(
        `${opts.certPath}: the certificate does not match the private key ${key.path}`,
        opts.certPath,
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
