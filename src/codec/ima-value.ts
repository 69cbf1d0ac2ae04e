/**
 * The value of security.ima (and of an evmctl sidecar file), decoded and encoded
 * without I/O. Validation follows the kernel (integrity.h, ima_appraise.c,
 * digsig_asymmetric.c) and is stricter where the kernel is lenient (trailing
 * bytes after a digest).
 */
import { FormatError } from '../errors.js';
import { HASH_ALGO_LAST, HashAlgo, hashAlgoById } from './hash-algo.js';

export const XATTR_TYPE = {
  DIGEST: 0x01,
  EVM_HMAC: 0x02,
  DIGSIG: 0x03,
  DIGEST_NG: 0x04,
  EVM_PORTABLE_DIGSIG: 0x05,
  VERITY_DIGSIG: 0x06,
} as const;

export const SIGNATURE_HEADER_SIZE = 9;
/** XATTR_SIZE_MAX: no filesystem takes a larger value. */
export const MAX_VALUE_SIZE = 65536;
/** evmctl's MAX_SIGNATURE_SIZE: larger values are valid but evmctl 1.4 cannot read them. */
export const EVMCTL_MAX_VALUE_SIZE = 1024;

export interface DigestValue {
  readonly kind: 'digest';
  /** 0x01 (legacy sha1/md5) or 0x04 (algorithm byte follows). */
  readonly type: 0x01 | 0x04;
  readonly algo: HashAlgo;
  readonly digest: Buffer;
  /** 0x01 form of an md5 digest padded to 20 bytes with zeros (the kernel accepts it). */
  readonly md5Padded?: boolean;
}

export interface SignatureValue {
  readonly kind: 'signature';
  /** 0x03 file signature, 0x06 fs-verity digest signature. */
  readonly type: 0x03 | 0x06;
  readonly version: 2 | 3;
  readonly algo: HashAlgo;
  /** Last 4 bytes of the signer's subjectKeyIdentifier, as 8 lower-case hex digits. */
  readonly keyid: string;
  readonly signature: Buffer;
}

export type ImaValue = DigestValue | SignatureValue;

export interface Decoded {
  readonly value: ImaValue;
  readonly warnings: string[];
}

const typeNames: Record<number, string> = {
  0x01: 'digest (IMA_XATTR_DIGEST)',
  0x02: 'EVM HMAC',
  0x03: 'signature (EVM_IMA_XATTR_DIGSIG)',
  0x04: 'digest (IMA_XATTR_DIGEST_NG)',
  0x05: 'EVM portable signature',
  0x06: 'fs-verity signature (IMA_VERITY_DIGSIG)',
};

export function typeName(type: number): string {
  return typeNames[type] ?? `unknown type 0x${type.toString(16).padStart(2, '0')}`;
}

function algoFromId(id: number): HashAlgo {
  const algo = hashAlgoById(id);
  if (!algo) throw new FormatError(`hash algorithm id ${id} is out of range (0..${HASH_ALGO_LAST - 1})`);
  return algo;
}

/** Decodes a security.ima value; throws only FormatError. */
export function decodeImaValue(input: Uint8Array): Decoded {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const warnings: string[] = [];
  if (bytes.length === 0) throw new FormatError('empty value');
  if (bytes.length > MAX_VALUE_SIZE)
    throw new FormatError(`value is ${bytes.length} bytes, larger than the ${MAX_VALUE_SIZE}-byte xattr limit`);
  const type = bytes[0]!;
  switch (type) {
    case XATTR_TYPE.DIGEST: {
      // integrity.h keeps the 0x01 form for sha1 (21 bytes) and md5 (17, or 21 padded with zeros).
      if (bytes.length === 17)
        return {
          value: { kind: 'digest', type: 0x01, algo: algoFromId(1), digest: Buffer.from(bytes.subarray(1)) },
          warnings,
        };
      if (bytes.length !== 21)
        throw new FormatError(`a 0x01 digest value must be 21 bytes (sha1) or 17 (md5), not ${bytes.length}`);
      if (bytes.readUInt32BE(17) === 0) {
        warnings.push('0x01 value ends in four zero bytes: the kernel reads it as a padded md5 digest');
        return {
          value: {
            kind: 'digest',
            type: 0x01,
            algo: algoFromId(1),
            digest: Buffer.from(bytes.subarray(1, 17)),
            md5Padded: true,
          },
          warnings,
        };
      }
      return {
        value: { kind: 'digest', type: 0x01, algo: algoFromId(2), digest: Buffer.from(bytes.subarray(1)) },
        warnings,
      };
    }
    case XATTR_TYPE.DIGEST_NG: {
      if (bytes.length < 2) throw new FormatError('0x04 digest value has no hash algorithm byte');
      const algo = algoFromId(bytes[1]!);
      const got = bytes.length - 2;
      if (got !== algo.digestSize)
        throw new FormatError(`${algo.name} digest must be ${algo.digestSize} bytes, value holds ${got}`);
      return { value: { kind: 'digest', type: 0x04, algo, digest: Buffer.from(bytes.subarray(2)) }, warnings };
    }
    case XATTR_TYPE.DIGSIG:
    case XATTR_TYPE.VERITY_DIGSIG: {
      if (bytes.length <= SIGNATURE_HEADER_SIZE)
        throw new FormatError(
          `signature value is ${bytes.length} bytes, ` +
            `shorter than its ${SIGNATURE_HEADER_SIZE}-byte header plus a signature`,
        );
      const version = bytes[1]!;
      if (version !== 2 && version !== 3)
        throw new FormatError(`unknown signature version ${version} (2 or 3 expected)`);
      if (type === XATTR_TYPE.VERITY_DIGSIG && version !== 3)
        throw new FormatError('an fs-verity signature (0x06) must be version 3');
      const algo = algoFromId(bytes[2]!);
      const keyid = bytes.subarray(3, 7).toString('hex');
      const sigSize = bytes.readUInt16BE(7);
      const actual = bytes.length - SIGNATURE_HEADER_SIZE;
      if (sigSize !== actual) {
        throw new FormatError(
          sigSize > actual
            ? `truncated: header says ${sigSize} signature bytes, value holds ${actual}`
            : `${actual - sigSize} trailing bytes after the ${sigSize}-byte signature`,
        );
      }
      if (type === XATTR_TYPE.DIGSIG && version === 3)
        warnings.push('a 0x03 version 3 signature needs kernel 7.1 or later (appraise_type=sigv3)');
      if (bytes.length > EVMCTL_MAX_VALUE_SIZE)
        warnings.push(`value is ${bytes.length} bytes: evmctl 1.4 reads at most ${EVMCTL_MAX_VALUE_SIZE}`);
      return {
        value: {
          kind: 'signature',
          type,
          version,
          algo,
          keyid,
          signature: Buffer.from(bytes.subarray(SIGNATURE_HEADER_SIZE)),
        },
        warnings,
      };
    }
    case XATTR_TYPE.EVM_HMAC:
    case XATTR_TYPE.EVM_PORTABLE_DIGSIG:
      throw new FormatError(`type 0x0${type} (${typeNames[type]}) belongs in security.evm, never in security.ima`);
    default:
      throw new FormatError(`unknown value type 0x${type.toString(16).padStart(2, '0')}`);
  }
}

/** Encodes a value; throws FormatError for values the decoder would refuse or read differently. */
export function encodeImaValue(value: ImaValue): Buffer {
  // Checked at run time too: library callers in plain JavaScript get no help from the types.
  const algo = hashAlgoById(value.algo?.id);
  if (!algo || algo.name !== value.algo.name)
    throw new FormatError(
      `hash algorithm ${value.algo?.name ?? '?'} (id ${value.algo?.id}) is not in the kernel's table`,
    );
  if (value.kind === 'digest') {
    if (value.digest.length !== algo.digestSize)
      throw new FormatError(`${algo.name} digest must be ${algo.digestSize} bytes`);
    if (value.type === 0x01) {
      if (algo.name === 'sha1') {
        // The kernel reads a 21-byte 0x01 value ending in four zero bytes as a padded md5 digest.
        if (value.digest.readUInt32BE(16) === 0)
          throw new FormatError(
            'a sha1 digest ending in four zero bytes would be read as a padded md5 digest in the 0x01 form; use 0x04',
          );
        return Buffer.concat([Buffer.of(0x01), value.digest]);
      }
      if (algo.name === 'md5')
        return Buffer.concat([Buffer.of(0x01), value.digest, value.md5Padded ? Buffer.alloc(4) : Buffer.alloc(0)]);
      throw new FormatError(`the 0x01 form holds only sha1 or md5, not ${algo.name}`);
    }
    if (value.type !== 0x04) throw new FormatError(`digest values have type 0x01 or 0x04, not ${String(value.type)}`);
    return Buffer.concat([Buffer.of(0x04, algo.id), value.digest]);
  }
  if (value.kind !== 'signature')
    throw new FormatError(`unknown value kind ${String((value as { kind?: unknown }).kind)}`);
  if (value.type !== 0x03 && value.type !== 0x06)
    throw new FormatError(`signature values have type 0x03 or 0x06, not ${String(value.type)}`);
  if (value.version !== 2 && value.version !== 3)
    throw new FormatError(`signature version must be 2 or 3, not ${String(value.version)}`);
  if (typeof value.keyid !== 'string' || !/^[0-9a-f]{8}$/.test(value.keyid))
    throw new FormatError(`keyid must be 8 hex digits, not "${value.keyid}"`);
  if (value.signature.length === 0) throw new FormatError('empty signature');
  if (value.type === 0x06 && value.version !== 3)
    throw new FormatError('an fs-verity signature (0x06) must be version 3');
  const total = SIGNATURE_HEADER_SIZE + value.signature.length;
  if (total > MAX_VALUE_SIZE)
    throw new FormatError(`value would be ${total} bytes, larger than the ${MAX_VALUE_SIZE}-byte xattr limit`);
  const header = Buffer.alloc(SIGNATURE_HEADER_SIZE);
  header[0] = value.type;
  header[1] = value.version;
  header[2] = algo.id;
  Buffer.from(value.keyid, 'hex').copy(header, 3);
  header.writeUInt16BE(value.signature.length, 7);
  return Buffer.concat([header, value.signature]);
}

/**
 * The value `evmctl ima_hash` 1.6 writes: md5 and sha1 in the 0x01 form (the kernel reads a 17-byte
 * 0x01 value as md5 and a 21-byte one as sha1), every other algorithm as 0x04 with its id. A sha1
 * digest ending in four zero bytes (one in 2^32) gets the 0x04 form, since the kernel would read
 * the 0x01 form as a padded md5 digest; evmctl writes 0x01 there.
 */
export function digestValue(algo: HashAlgo, digest: Buffer): DigestValue {
  const ambiguous = algo.name === 'sha1' && digest.length === 20 && digest.readUInt32BE(16) === 0;
  const legacy = (algo.name === 'sha1' && !ambiguous) || (algo.name === 'md5' && digest.length === 16);
  return { kind: 'digest', type: legacy ? 0x01 : 0x04, algo, digest };
}

/**
 * What a version 3 signature signs: the packed struct ima_file_id
 * { u8 hash_type; u8 hash_algorithm; u8 hash[digest_len] } (used bytes only).
 */
export function imaFileId(hashType: 0x03 | 0x06, algo: HashAlgo, digest: Buffer): Buffer {
  return Buffer.concat([Buffer.of(hashType, algo.id), digest]);
}

/** Plain-object description for JSON output and `inspect`. */
export function describeValue(value: ImaValue): Record<string, unknown> {
  if (value.kind === 'digest') {
    return {
      type: `0x0${value.type}`,
      typeName: typeName(value.type),
      hashAlgo: value.algo.name,
      digest: value.digest.toString('hex'),
    };
  }
  return {
    type: `0x0${value.type}`,
    typeName: typeName(value.type),
    version: value.version,
    hashAlgo: value.algo.name,
    keyid: value.keyid,
    signatureSize: value.signature.length,
  };
}
