/**
 * Which key and hash pairs the kernel's asymmetric keys verify, so that sign
 * refuses a signature no kernel could check, and warns about keys it takes but
 * that are weak. From crypto/asymmetric_keys/public_key.c
 * (software_key_determine_akcipher), crypto/rsa-pkcs1pad.c (its DigestInfo
 * table) and crypto/ecdsa.c.
 */
import type { HashAlgo } from '../codec/hash-algo.js';
import type { KeyAlgorithm } from './keys.js';

/** The hashes pkcs1pad has a DigestInfo for (sha3 since 6.7); sm3 and streebog have none. */
const RSA_HASHES = [
  'md5',
  'sha1',
  'rmd160',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'sha3-256',
  'sha3-384',
  'sha3-512',
];
/** The hashes public_key.c lets an ECDSA key take (sha3 since 6.7). */
const ECDSA_HASHES = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-384', 'sha3-512'];

/** Whether the kernel verifies a signature of this key type with this hash. */
export function kernelPairs(algorithm: KeyAlgorithm, algo: HashAlgo): boolean {
  return (algorithm === 'rsa' ? RSA_HASHES : ECDSA_HASHES).includes(algo.name);
}

const why = (key: string, algo: HashAlgo): string =>
  `${key} signatures with ${algo.name} cannot be verified by the kernel`;

/** Why the kernel could not verify a signature by this key with this hash, or undefined when it can. */
export function pairingRefusal(key: { readonly algorithm: KeyAlgorithm }, algo: HashAlgo): string | undefined {
  if (kernelPairs(key.algorithm, algo)) return undefined;
  if (key.algorithm === 'rsa') return `${why('RSA', algo)}: its PKCS#1 DigestInfo table has no ${algo.name}`;
  return `${why('ECDSA', algo)}: it pairs ECDSA keys only with sha1, sha2 and sha3`;
}

/** What is weak about a key the kernel still takes, or undefined. */
export function keyWeakness(key: { readonly algorithm: KeyAlgorithm; readonly bits: number }): string | undefined {
  // Below 112-bit security (NIST SP 800-57): a kernel in FIPS mode refuses such RSA keys (crypto/rsa.c).
  if (key.algorithm === 'rsa' && key.bits < 2048)
    return `RSA-${key.bits} is weak (below 112-bit security; a kernel in FIPS mode refuses it): use 2048 bits or more`;
  if (key.algorithm === 'ecdsa-p192') return 'P-192 is weak (96-bit security): use P-256 or larger';
  return undefined;
}

/** For --help: the hashes sign takes, by key type. */
export const SIGNING_HASHES =
  'sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384, sha3-512; rmd160 with RSA keys';
