/**
 * Putting a signing key together with the keyid the kernel will look up.
 * The key is a file (which may carry its certificate) or a key on a PKCS#11
 * token named by a pkcs11: URI; the keyid comes from --keyid, --cert, the
 * certificate beside the key (in the file, or on the token with its CKA_ID),
 * or, failing all, is computed from the public key with a warning.
 */
import { createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { Certificate, computedKeyid, noSkidWarning, parseCertificates, subjectPublicKeyBits } from './certificate.js';
import { loadKeyFile } from './key-file.js';
import { SigningKey, KeyPasswordSource } from './keys.js';
import { keyWeakness } from './kernel-support.js';
import { isPkcs11Uri } from './pkcs11-uri.js';
import type { Pkcs11Binding } from './pkcs11-module.js';
import { loadTokenKey } from './token-key.js';
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

/** Whether the certificate is the key's: its private key, or for a key on a token its public key. */
export function certificateMatches(cert: Certificate, key: SigningKey): boolean {
  if (key.key.type === 'private') return cert.x509.checkPrivateKey(key.key);
  const der = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  return der(cert.publicKey).equals(der(key.key));
}

export interface SignerOptions extends KeyPasswordSource {
  /** A key file, or a pkcs11: URI. */
  readonly keyPath?: string;
  readonly certPath?: string;
  readonly keyid?: string;
  /** How pkcs11js is reached for a pkcs11: key (tests wrap it). */
  readonly pkcs11?: Pkcs11Binding;
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
  let key: SigningKey;
  let beside: readonly Certificate[];
  if (opts.keyPath !== undefined && isPkcs11Uri(opts.keyPath)) {
    const t = await loadTokenKey(opts.keyPath, { env: opts.env, certificates: given, binding: opts.pkcs11 });
    key = t.key;
    beside = t.certificate ? [t.certificate] : [];
  } else {
    ({ key, certificates: beside } = await loadKeyFile(opts.keyPath, opts));
  }
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
    // The certificate beside the key (signing_key.pem, or the token's) gives the keyid, as for evmctl and sign-file.
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
    `${key.path}: no --cert given: keyid ${keyid} computed from the public key, ` +
      'which matches the certificate only if its subjectKeyIdentifier was made the same way',
  );
  return { key, keyid, keyidSource: 'computed' };
}
