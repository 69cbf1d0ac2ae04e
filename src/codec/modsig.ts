/**
 * The trailer of an appended ("module") signature, decoded and encoded
 * without I/O (include/linux/module_signature.h, kernel/module_signature.c):
 *
 *     payload || PKCS#7 DER (sig_len bytes) || struct module_signature (12) || "~Module signature appended~\n" (28)
 *
 *     struct module_signature { u8 algo; u8 hash; u8 id_type; u8 signer_len;
 *                               u8 key_id_len; u8 __pad[3]; __be32 sig_len; }
 *
 * The checks are the kernel's mod_check_sig(): id_type must be PKEY_ID_PKCS7
 * (2), every other field but sig_len must be zero, and sig_len must be smaller
 * than the file minus the 40 trailer bytes (so the payload is at least one
 * byte). Everything here throws only FormatError.
 */
import { FormatError } from '../errors.js';

export const MODULE_SIG_STRING = '~Module signature appended~\n';
export const MODSIG_MAGIC: Buffer = Buffer.from(MODULE_SIG_STRING, 'latin1');
export const MODSIG_MAGIC_SIZE = 28;
export const MODSIG_INFO_SIZE = 12;
/** struct module_signature plus the marker string: what sits after the CMS. */
export const MODSIG_TRAILER_SIZE = MODSIG_INFO_SIZE + MODSIG_MAGIC_SIZE;

/** enum pkey_id_type (module_signature.h). Only PKCS#7 is accepted by current kernels. */
export const PKEY_ID_PGP = 0;
export const PKEY_ID_X509 = 1;
export const PKEY_ID_PKCS7 = 2;

/** The kernel's ASN.1 decoder refuses longer messages (lib/asn1_decoder.c: datalen > 65535 is -EMSGSIZE). */
export const MAX_SIG_LEN = 65535;

const idTypeNames: Record<number, string> = {
  [PKEY_ID_PGP]: 'PGP',
  [PKEY_ID_X509]: 'X.509',
  [PKEY_ID_PKCS7]: 'PKCS#7',
};

export function idTypeName(id: number): string {
  return idTypeNames[id] ?? `unknown (${id})`;
}

/** The fields of struct module_signature, as stored. */
export interface ModuleSignatureInfo {
  readonly algo: number;
  readonly hash: number;
  readonly idType: number;
  readonly signerLen: number;
  readonly keyIdLen: number;
  readonly pad: readonly [number, number, number];
  readonly sigLen: number;
}

/** Where the parts of a file with an appended signature lie. */
export interface AppendedLayout {
  readonly fileSize: number;
  /** Bytes covered by the signature: [0, payloadLength). */
  readonly payloadLength: number;
  /** The CMS is [cmsOffset, cmsOffset + sigLen) and cmsOffset === payloadLength. */
  readonly cmsOffset: number;
  readonly sigLen: number;
  readonly info: ModuleSignatureInfo;
}

function view(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/** Whether the bytes end with "~Module signature appended~\n" (the kernel's only test for "is there one"). */
export function endsWithMagic(tail: Uint8Array): boolean {
  const b = view(tail);
  return b.length >= MODSIG_MAGIC_SIZE && b.subarray(b.length - MODSIG_MAGIC_SIZE).equals(MODSIG_MAGIC);
}

/** Reads struct module_signature from exactly 12 bytes, without judging it. */
export function decodeModuleSignatureInfo(bytes: Uint8Array): ModuleSignatureInfo {
  const b = view(bytes);
  if (b.length !== MODSIG_INFO_SIZE)
    throw new FormatError(`struct module_signature is ${MODSIG_INFO_SIZE} bytes, not ${b.length}`);
  return {
    algo: b[0]!,
    hash: b[1]!,
    idType: b[2]!,
    signerLen: b[3]!,
    keyIdLen: b[4]!,
    pad: [b[5]!, b[6]!, b[7]!],
    sigLen: b.readUInt32BE(8),
  };
}

/** struct module_signature as sign-file writes it: zeros, id_type 2, be32 sig_len. */
export function encodeModuleSignatureInfo(sigLen: number): Buffer {
  if (!Number.isInteger(sigLen) || sigLen <= 0 || sigLen > MAX_SIG_LEN)
    throw new FormatError(`sig_len must be from 1 to ${MAX_SIG_LEN}, not ${sigLen}`);
  const b = Buffer.alloc(MODSIG_INFO_SIZE);
  b[2] = PKEY_ID_PKCS7;
  b.writeUInt32BE(sigLen, 8);
  return b;
}

/** The 40 bytes that follow a CMS of `sigLen` bytes. */
export function buildTrailer(sigLen: number): Buffer {
  return Buffer.concat([encodeModuleSignatureInfo(sigLen), MODSIG_MAGIC]);
}

/**
 * Checks the last 40 bytes of a file of `fileSize` bytes as the kernel does
 * and says where payload and CMS lie. Throws FormatError with the reason.
 */
export function parseTrailer(trailer: Uint8Array, fileSize: number): AppendedLayout {
  const t = view(trailer);
  if (t.length !== MODSIG_TRAILER_SIZE)
    throw new FormatError(`the trailer is the last ${MODSIG_TRAILER_SIZE} bytes, not ${t.length}`);
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) throw new FormatError(`bad file size ${fileSize}`);
  if (!endsWithMagic(t))
    throw new FormatError(
      'no appended signature: the file does not end with "~Module signature appended~" and a newline',
    );
  if (fileSize <= MODSIG_TRAILER_SIZE) {
    throw new FormatError(
      `truncated: the file is ${fileSize} bytes, too short for the ${MODSIG_TRAILER_SIZE}-byte trailer ` +
        'plus a signature and a payload',
    );
  }
  const info = decodeModuleSignatureInfo(t.subarray(0, MODSIG_INFO_SIZE));
  const room = fileSize - MODSIG_TRAILER_SIZE;
  // The kernel's order: sig_len, then id_type, then the zero fields.
  if (info.sigLen > room) {
    throw new FormatError(
      `bad sig_len ${info.sigLen}: only ${room} bytes precede the ${MODSIG_TRAILER_SIZE}-byte trailer ` +
        '(truncated file or corrupt trailer)',
    );
  }
  if (info.sigLen === room) {
    throw new FormatError(
      `bad sig_len ${info.sigLen}: it leaves an empty payload, which the kernel rejects ` +
        `(sig_len must be smaller than the file size minus ${MODSIG_TRAILER_SIZE})`,
    );
  }
  if (info.idType !== PKEY_ID_PKCS7) {
    throw new FormatError(
      `id_type is ${info.idType} (${idTypeName(info.idType)}), the kernel accepts only ${PKEY_ID_PKCS7} (PKCS#7)`,
    );
  }
  const nonZero: string[] = [];
  if (info.algo) nonZero.push(`algo=${info.algo}`);
  if (info.hash) nonZero.push(`hash=${info.hash}`);
  if (info.signerLen) nonZero.push(`signer_len=${info.signerLen}`);
  if (info.keyIdLen) nonZero.push(`key_id_len=${info.keyIdLen}`);
  if (info.pad.some((p) => p !== 0)) nonZero.push(`__pad=${info.pad.join(',')}`);
  if (nonZero.length)
    throw new FormatError(
      `struct module_signature has non-zero fields the kernel requires to be zero (${nonZero.join(', ')})`,
    );
  if (info.sigLen === 0) throw new FormatError('bad sig_len 0: there is no PKCS#7 message');
  if (info.sigLen > MAX_SIG_LEN)
    throw new FormatError(`bad sig_len ${info.sigLen}: the kernel's ASN.1 decoder takes at most ${MAX_SIG_LEN} bytes`);
  const payloadLength = room - info.sigLen;
  return { fileSize, payloadLength, cmsOffset: payloadLength, sigLen: info.sigLen, info };
}

export interface SplitAppended {
  readonly layout: AppendedLayout;
  readonly payload: Buffer;
  readonly cms: Buffer;
}

/**
 * Splits a whole file held in memory. Undefined when it carries no appended
 * signature (no marker); FormatError when the marker is there but the trailer is wrong.
 */
export function splitAppended(file: Uint8Array): SplitAppended | undefined {
  const b = view(file);
  if (!endsWithMagic(b)) return undefined;
  if (b.length < MODSIG_TRAILER_SIZE) {
    throw new FormatError(
      `truncated: the file is ${b.length} bytes, too short for the ${MODSIG_TRAILER_SIZE}-byte trailer ` +
        'plus a signature and a payload',
    );
  }
  const layout = parseTrailer(b.subarray(b.length - MODSIG_TRAILER_SIZE), b.length);
  return {
    layout,
    payload: b.subarray(0, layout.payloadLength),
    cms: b.subarray(layout.cmsOffset, layout.cmsOffset + layout.sigLen),
  };
}

/** payload || cms || trailer, for files small enough to hold in memory. */
export function appendSignature(payload: Uint8Array, cms: Uint8Array): Buffer {
  if (payload.length === 0)
    throw new FormatError('empty payload: the kernel rejects an appended signature with nothing before it');
  return Buffer.concat([view(payload), view(cms), buildTrailer(cms.length)]);
}

/** Plain description of a trailer for JSON and `modsig inspect`. */
export function describeLayout(l: AppendedLayout): Record<string, unknown> {
  return {
    fileSize: l.fileSize,
    payloadLength: l.payloadLength,
    sigLen: l.sigLen,
    idType: l.info.idType,
    idTypeName: idTypeName(l.info.idType),
  };
}
