/**
 * The kernel's hash algorithm ids (include/uapi/linux/hash_info.h), with digest
 * sizes and the OpenSSL name Node can compute, where it can.
 */
import { getHashes } from 'node:crypto';

export interface HashAlgo {
  readonly id: number;
  /** The kernel's name (hash_algo_name[]), also evmctl's `-a` name. */
  readonly name: string;
  readonly digestSize: number;
  /** Name for node:crypto, when OpenSSL has the algorithm at all. */
  readonly nodeName?: string;
  /** Too weak to make new signatures with. */
  readonly weak?: boolean;
}

export const HASH_ALGOS: readonly HashAlgo[] = [
  { id: 0, name: 'md4', digestSize: 16, nodeName: 'md4', weak: true },
  { id: 1, name: 'md5', digestSize: 16, nodeName: 'md5', weak: true },
  { id: 2, name: 'sha1', digestSize: 20, nodeName: 'sha1' },
  { id: 3, name: 'rmd160', digestSize: 20, nodeName: 'ripemd160' },
  { id: 4, name: 'sha256', digestSize: 32, nodeName: 'sha256' },
  { id: 5, name: 'sha384', digestSize: 48, nodeName: 'sha384' },
  { id: 6, name: 'sha512', digestSize: 64, nodeName: 'sha512' },
  { id: 7, name: 'sha224', digestSize: 28, nodeName: 'sha224' },
  { id: 8, name: 'rmd128', digestSize: 16 },
  { id: 9, name: 'rmd256', digestSize: 32 },
  { id: 10, name: 'rmd320', digestSize: 40 },
  { id: 11, name: 'wp256', digestSize: 32 },
  { id: 12, name: 'wp384', digestSize: 48 },
  { id: 13, name: 'wp512', digestSize: 64, nodeName: 'whirlpool' },
  { id: 14, name: 'tgr128', digestSize: 16 },
  { id: 15, name: 'tgr160', digestSize: 20 },
  { id: 16, name: 'tgr192', digestSize: 24 },
  { id: 17, name: 'sm3', digestSize: 32, nodeName: 'sm3' },
  { id: 18, name: 'streebog256', digestSize: 32 },
  { id: 19, name: 'streebog512', digestSize: 64 },
  { id: 20, name: 'sha3-256', digestSize: 32, nodeName: 'sha3-256' },
  { id: 21, name: 'sha3-384', digestSize: 48, nodeName: 'sha3-384' },
  { id: 22, name: 'sha3-512', digestSize: 64, nodeName: 'sha3-512' },
];

/** One past the last id this table (and current kernels) know. */
export const HASH_ALGO_LAST = HASH_ALGOS.length;

export function hashAlgoById(id: number): HashAlgo | undefined {
  return Number.isInteger(id) && id >= 0 && id < HASH_ALGO_LAST ? HASH_ALGOS[id] : undefined;
}

export function hashAlgoByName(name: string): HashAlgo | undefined {
  const n = name.toLowerCase();
  return HASH_ALGOS.find((a) => a.name === n || a.nodeName === n);
}

let available: Set<string> | undefined;

/**
 * Whether this Node/OpenSSL can compute the digest (the table alone cannot say:
 * sm3 and whirlpool depend on the build).
 */
export function canCompute(algo: HashAlgo): boolean {
  if (!algo.nodeName) return false;
  available ??= new Set(getHashes().map((h) => h.toLowerCase()));
  return available.has(algo.nodeName);
}

/** Why this algorithm cannot be used to make a new signature, or undefined when it can. */
export function signingRefusal(algo: HashAlgo): string | undefined {
  if (algo.weak) return `hash algorithm ${algo.name} is too weak to sign with`;
  if (!canCompute(algo)) return `hash algorithm ${algo.name} is not available in this Node.js/OpenSSL build`;
  return undefined;
}

export const SIGNING_ALGO_NAMES = HASH_ALGOS.filter((a) => a.nodeName && !a.weak).map((a) => a.name);

/**
 * Why `hash` cannot write a digest value with this algorithm, or undefined when it can.
 * md4 has no form the kernel reads as md4: evmctl writes it as 0x01, which the kernel takes for md5.
 */
export function hashingRefusal(algo: HashAlgo): string | undefined {
  if (algo.name === 'md4')
    return 'hash algorithm md4 cannot be written: evmctl puts it in the 0x01 form, which the kernel reads as md5';
  if (!canCompute(algo)) return `hash algorithm ${algo.name} is not available in this Node.js/OpenSSL build`;
  return undefined;
}

/** The algorithms `hash` can write here, in the kernel's order (computed: sm3 and rmd160 depend on the build). */
export function hashingAlgoNames(): string[] {
  return HASH_ALGOS.filter((a) => hashingRefusal(a) === undefined).map((a) => a.name);
}
