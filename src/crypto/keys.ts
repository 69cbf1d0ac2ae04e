/**
 * Private keys for signing: PEM or DER; PKCS#8, PKCS#1, SEC1; encrypted PKCS#8.
 * Only key types the kernel verifies for IMA are accepted: RSA (PKCS#1 v1.5) and
 * ECDSA on P-192, P-256, P-384 and P-521.
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { HashAlgo } from '../codec/hash-algo.js';
import { ConfigError, describeSystemError } from '../errors.js';

export const DEFAULT_PRIVATE_KEY = '/etc/keys/privkey_evm.pem';

export type KeyAlgorithm = 'rsa' | 'ecdsa-p192' | 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521';

/** Signs digests where the private key is kept (a PKCS#11 token), not here. */
export interface DigestSigner {
  /** RSA: PKCS#1 v1.5 over the DigestInfo of `digest`; ECDSA: the DER signature of `digest`. */
  signDigest(algo: HashAlgo, digest: Buffer): Promise<Buffer>;
}

export interface SigningKey {
  /** The key file, or for a key on a token its pkcs11: URI without the PIN. */
  readonly path: string;
  /** The private key; for a key on a token, its public key (the private half never leaves the token). */
  readonly key: KeyObject;
  readonly algorithm: KeyAlgorithm;
  /** Bits of the RSA modulus or of the curve order. */
  readonly bits: number;
  /** Set for a key on a token: signatures are made there. */
  readonly token?: DigestSigner;
}

// The kernel's x509 parser knows P-192 as well (ecdsa-nist-p192): its signatures verify there.
const curves: Record<string, KeyAlgorithm> = {
  prime192v1: 'ecdsa-p192',
  prime256v1: 'ecdsa-p256',
  secp384r1: 'ecdsa-p384',
  secp521r1: 'ecdsa-p521',
};
const curveBits: Record<string, number> = { prime192v1: 192, prime256v1: 256, secp384r1: 384, secp521r1: 521 };
/** Modulus sizes, in bytes, that the kernel's rsa_check_key_length accepts (512 to 4096 bits). */
const KERNEL_RSA_MODULUS_BYTES = [64, 128, 192, 256, 384, 512];

/** The key's algorithm when the kernel can verify it for IMA; otherwise a reason. */
export function classifyKey(key: KeyObject): { algorithm: KeyAlgorithm; bits: number } | { refused: string } {
  const type = key.asymmetricKeyType;
  // Asked only of the types used below: Node aborts the process (an assertion in crypto_dsa.cc) when a
  // malformed DSA key's details are read, and a hostile certificate can carry one.
  const details = type === 'rsa' || type === 'ec' ? (key.asymmetricKeyDetails ?? {}) : {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    // crypto/rsa.c rsa_check_key_length: the kernel takes a key only when its modulus is 512, 1024,
    // 1536, 2048, 3072 or 4096 bits long, counted in whole bytes (so a 2047-bit modulus passes as 2048).
    if (!KERNEL_RSA_MODULUS_BYTES.includes(Math.ceil(bits / 8))) {
      return {
        refused:
          `RSA-${bits} keys cannot be used: ` +
          "the kernel's RSA verifier takes only 1024, 1536, 2048, 3072 or 4096-bit keys",
      };
    }
    if (bits <= 512)
      return { refused: `RSA-${bits} keys are too weak to sign with (and too small for a sha384 or sha512 signature)` };
    return { algorithm: 'rsa', bits };
  }
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown';
    const algorithm = curves[curve];
    if (algorithm) return { algorithm, bits: curveBits[curve]! };
    return { refused: `EC curve ${curve} is not supported (P-192, P-256, P-384 or P-521)` };
  }
  return {
    refused: `${type ?? 'unknown'} keys are not supported for IMA signatures (RSA or ECDSA P-192/P-256/P-384/P-521)`,
  };
}

export interface KeyPasswordSource {
  /** Contents of --pass-file, already read; takes precedence over the environment. */
  readonly password?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export function keyPassword(src: KeyPasswordSource = {}): string | undefined {
  if (src.password !== undefined) return src.password;
  const env = src.env ?? process.env;
  return env.IMA_SIDECAR_KEY_PASSWORD ?? env.EVMCTL_KEY_PASSWORD;
}

function looksEncrypted(text: string): boolean {
  return text.includes('ENCRYPTED PRIVATE KEY') || text.includes('Proc-Type: 4,ENCRYPTED');
}

/** OID arcs 1.2.840.113549.1.5 (PKCS#5: PBES1, PBES2) and 1.2.840.113549.1.12.1 (PKCS#12 PBE), DER-encoded. */
const PKCS5_OID_PREFIX = Buffer.from('06092a864886f70d0105', 'hex');
const PKCS12_PBE_OID_PREFIX = Buffer.from('060a2a864886f70d010c01', 'hex');

/** A DER EncryptedPrivateKeyInfo: its first AlgorithmIdentifier is a password-based encryption scheme. */
function looksEncryptedDer(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 24);
  return bytes[0] === 0x30 && (head.includes(PKCS5_OID_PREFIX) || head.includes(PKCS12_PBE_OID_PREFIX));
}

/** Parses key bytes; throws ConfigError naming `path` with the reason. */
export function parsePrivateKey(bytes: Buffer, path: string, passSrc: KeyPasswordSource = {}): SigningKey {
  const passphrase = keyPassword(passSrc);
  const isPem = bytes.includes('-----BEGIN');
  let key: KeyObject | undefined;
  let lastError: unknown;
  if (isPem) {
    const text = bytes.toString('latin1');
    if (looksEncrypted(text) && passphrase === undefined) {
      throw new ConfigError(`${path}: the key is encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file`, path);
    }
    if (text.includes('BEGIN CERTIFICATE') && !text.includes('PRIVATE KEY')) {
      throw new ConfigError(`${path}: this is a certificate, not a private key`, path);
    }
    try {
      key = createPrivateKey({ key: bytes, format: 'pem', passphrase });
    } catch (e) {
      lastError = e;
    }
  } else {
    for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
      try {
        // No passphrase at all (not ''), so that an encrypted key reports ERR_MISSING_PASSPHRASE.
        key = createPrivateKey({ key: bytes, format: 'der', type, passphrase });
        break;
      } catch (e) {
        lastError ??= e;
      }
    }
  }
  if (!key) {
    if ((lastError as NodeJS.ErrnoException | undefined)?.code === 'ERR_MISSING_PASSPHRASE') {
      throw new ConfigError(`${path}: the key is encrypted; set IMA_SIDECAR_KEY_PASSWORD or use --pass-file`, path);
    }
    const msg = String((lastError as Error | undefined)?.message ?? '');
    // A wrong password usually fails the padding check ("bad decrypt"), but about one in 256 decrypts
    // to valid padding and then fails as "DECODER routines::unsupported": an encrypted PEM key that
    // does not open with the password given has the wrong password, whatever OpenSSL says.
    // The same holds for DER, where such a miss fails as "asn1 encoding routines::header too long".
    const encrypted = isPem ? looksEncrypted(bytes.toString('latin1')) : looksEncryptedDer(bytes);
    if (/bad decrypt|wrong password|passphrase|decrypt/i.test(msg) || (passphrase !== undefined && encrypted)) {
      throw new ConfigError(`${path}: wrong password for the encrypted key`, path);
    }
    throw new ConfigError(`${path}: not a private key in PEM or DER (PKCS#8, PKCS#1 or SEC1)`, path);
  }
  const kind = classifyKey(key);
  if ('refused' in kind) throw new ConfigError(`${path}: ${kind.refused}`, path);
  return { path, key, algorithm: kind.algorithm, bits: kind.bits };
}

/** The bytes of a private key file (the default one when no path is given), and the path read. */
export async function readPrivateKeyFile(path: string | undefined): Promise<{ path: string; bytes: Buffer }> {
  const p = path ?? DEFAULT_PRIVATE_KEY;
  try {
    return { path: p, bytes: await readFile(p) };
  } catch (e) {
    const hint = path === undefined ? ' (the default key; give --key)' : '';
    throw new ConfigError(`${p}: cannot read private key: ${describeSystemError(e)}${hint}`, p);
  }
}

export async function loadPrivateKey(path: string | undefined, passSrc: KeyPasswordSource = {}): Promise<SigningKey> {
  const { path: p, bytes } = await readPrivateKeyFile(path);
  return parsePrivateKey(bytes, p, passSrc);
}

export async function readPassFile(path: string): Promise<string> {
  try {
    // Like openssl's file: source, only the first line is the password.
    return (await readFile(path, 'utf8')).split(/\r?\n/)[0] ?? '';
  } catch (e) {
    throw new ConfigError(`${path}: cannot read password file: ${describeSystemError(e)}`, path);
  }
}
