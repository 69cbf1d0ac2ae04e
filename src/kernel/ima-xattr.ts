/**
 * A security.ima value as the kernel reads it during appraisal
 * (ima_appraise.c: ima_get_hash_algo, xattr_verify; digsig.c; and
 * digsig_asymmetric.c's asymmetric_verify), which is more lenient than
 * codec/ima-value.ts in some places and stricter in others: which hash it
 * computes, which bytes it compares, and what it refuses before any key is
 * looked at. Pure: bytes in, a description out.
 */
import { HashAlgo, hashAlgoById, hashAlgoByName } from '../codec/hash-algo.js';
import type { KernelProfile } from './profile.js';

export type KernelValue =
  /** A zero-length value: the kernel takes it as no value at all. */
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'digest';
      readonly type: 0x01 | 0x04;
      /** The hash the kernel computes for this value. */
      readonly algo: HashAlgo;
      /** The value's bytes the kernel compares with that hash; undefined when the value is too short to hold it. */
      readonly compared?: Buffer;
      /** The value names an algorithm this kernel does not know, so the default one is computed. */
      readonly unknownAlgoId?: number;
    }
  | {
      readonly kind: 'signature';
      readonly version: number;
      /** The hash the kernel computes for this value (the header's when usable, else the default). */
      readonly algo: HashAlgo;
      readonly keyid?: string;
      readonly signature: Buffer;
      /** Why asymmetric_verify refuses the value before looking at any key (then always invalid-signature). */
      readonly malformed?: string;
    }
  | { readonly kind: 'verity-signature'; readonly version: number; readonly algo: HashAlgo; readonly keyid?: string }
  /** EVM types (0x02, 0x05) and anything past 0x06: "unknown-ima-data". */
  | { readonly kind: 'unknown'; readonly type: number };

const HEADER = 9;

function defaultAlgo(profile: KernelProfile): HashAlgo {
  return hashAlgoByName(profile.defaultHashAlgo)!;
}

/** The algorithm with this id if this kernel knows it. */
function kernelAlgo(id: number, profile: KernelProfile): HashAlgo | undefined {
  return id < profile.hashAlgoLast ? hashAlgoById(id) : undefined;
}

export function kernelValue(bytes: Buffer, profile: KernelProfile): KernelValue {
  if (bytes.length === 0) return { kind: 'empty' };
  const type = bytes[0]!;
  const fallback = defaultAlgo(profile);
  switch (type) {
    case 0x01: {
      // Legacy form: 21 bytes is sha1 unless it ends in four zeros (padded md5), 17 is md5, else the default.
      let algo = fallback;
      if (bytes.length === 21) algo = hashAlgoByName(bytes.readUInt32BE(17) === 0 ? 'md5' : 'sha1')!;
      else if (bytes.length === 17) algo = hashAlgoByName('md5')!;
      const end = 1 + algo.digestSize;
      return { kind: 'digest', type, algo, compared: bytes.length >= end ? bytes.subarray(1, end) : undefined };
    }
    case 0x04: {
      const id = bytes.length >= 2 ? bytes[1]! : undefined;
      const known = id !== undefined ? kernelAlgo(id, profile) : undefined;
      const algo = known ?? fallback;
      const end = 2 + algo.digestSize;
      return {
        kind: 'digest',
        type,
        algo,
        compared: bytes.length >= end ? bytes.subarray(2, end) : undefined,
        ...(known === undefined && id !== undefined ? { unknownAlgoId: id } : {}),
      };
    }
    case 0x03: {
      const version = bytes.length >= 2 ? bytes[1]! : 0;
      const id = bytes.length >= 3 ? bytes[2]! : undefined;
      const known = id !== undefined ? kernelAlgo(id, profile) : undefined;
      const usable = version === 2 && bytes.length > HEADER && known !== undefined;
      const keyid = bytes.length >= 7 ? bytes.subarray(3, 7).toString('hex') : undefined;
      let malformed: string | undefined;
      if (bytes.length <= HEADER) malformed = `the value is ${bytes.length} bytes, no longer than the signature header`;
      else if (bytes.readUInt16BE(7) !== bytes.length - HEADER) {
        const size = bytes.readUInt16BE(7);
        malformed = `the header says ${size} signature bytes, the value holds ${bytes.length - HEADER}`;
      } else if (known === undefined) malformed = `hash algorithm id ${id} is unknown to this kernel`;
      return {
        kind: 'signature',
        version,
        algo: usable ? known : fallback,
        keyid,
        signature: bytes.subarray(Math.min(HEADER, bytes.length)),
        ...(malformed ? { malformed } : {}),
      };
    }
    case 0x06: {
      const version = bytes.length >= 2 ? bytes[1]! : 0;
      const id = bytes.length >= 3 ? bytes[2]! : undefined;
      const known = id !== undefined ? kernelAlgo(id, profile) : undefined;
      const usable = version === 3 && bytes.length > HEADER && known !== undefined;
      return {
        kind: 'verity-signature',
        version,
        algo: usable ? known : fallback,
        keyid: bytes.length >= 7 ? bytes.subarray(3, 7).toString('hex') : undefined,
      };
    }
    default:
      return { kind: 'unknown', type };
  }
}
