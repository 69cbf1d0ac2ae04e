/**
 * The PKCS#7 / CMS SignedData inside an appended ("module") signature:
 * parsing it (only FormatError escapes), the kernel's structural rules
 * (crypto/asymmetric_keys/pkcs7_parser.c, pkcs7_verify.c), matching its
 * signer to a certificate, and building one exactly as scripts/sign-file
 * does. (The signature is checked over the streamed payload in ops/modsig.ts
 * with ContentVerifier: RSA over the digest, ECDSA over the content.)
 *
 * What sign-file 6.1 (CMS_sign + CMS_add1_signer with CMS_NOCERTS |
 * CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR [| CMS_USE_KEYID], CMS_DETACHED)
 * writes, observed with OpenSSL 3.0:
 *
 *   ContentInfo { id-signedData, [0] EXPLICIT SignedData {
 *     version 1 (3 with -k),
 *     digestAlgorithms SET { SEQUENCE { hashOID } }          -- no NULL parameter
 *     encapContentInfo SEQUENCE { id-data }                  -- detached: no eContent
 *     -- no certificates, no crls
 *     signerInfos SET { SignerInfo {
 *       version 1: sid IssuerAndSerialNumber (the certificate's issuer Name, byte for byte, and serial)
 *       version 3: sid [0] IMPLICIT OCTET STRING subjectKeyIdentifier
 *       digestAlgorithm SEQUENCE { hashOID }                  -- no NULL parameter
 *       -- no signedAttrs
 *       signatureAlgorithm RSA: { rsaEncryption, NULL }; ECDSA: { ecdsa-with-SHAxxx } (no parameter)
 *       signature OCTET STRING                                -- PKCS#1 v1.5 over DigestInfo, or DER ECDSA
 *     } } } }
 *
 * Without signed attributes the signature is over the payload's digest, the
 * same bytes as a v2 IMA signature of the payload (identical for RSA).
 */
import { BaseBlock, Constructed, fromBER, Integer, Null, OctetString, Primitive } from 'asn1js';
import {
  AlgorithmIdentifier,
  ContentInfo,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  RelativeDistinguishedNames,
  SignedData,
  SignerInfo,
} from 'pkijs';
import { HashAlgo, hashAlgoByName } from '../codec/hash-algo.js';
import { FormatError } from '../errors.js';
import type { Certificate } from './certificate.js';

export const OID_DATA = '1.2.840.113549.1.7.1';
export const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** Digest algorithm OIDs, by kernel hash name; `kernel` says which kernels' PKCS#7 parser knows it. */
const DIGESTS: readonly { oid: string; name: string; kernel?: string }[] = [
  { oid: '1.2.840.113549.2.5', name: 'md5', kernel: 'md5 is too weak and refused by current kernels' },
  { oid: '1.3.14.3.2.26', name: 'sha1' },
  { oid: '2.16.840.1.101.3.4.2.4', name: 'sha224' },
  { oid: '2.16.840.1.101.3.4.2.1', name: 'sha256' },
  { oid: '2.16.840.1.101.3.4.2.2', name: 'sha384' },
  { oid: '2.16.840.1.101.3.4.2.3', name: 'sha512' },
  { oid: '2.16.840.1.101.3.4.2.8', name: 'sha3-256', kernel: 'sha3 digests in PKCS#7 need kernel 6.7 or later' },
  { oid: '2.16.840.1.101.3.4.2.9', name: 'sha3-384', kernel: 'sha3 digests in PKCS#7 need kernel 6.7 or later' },
  { oid: '2.16.840.1.101.3.4.2.10', name: 'sha3-512', kernel: 'sha3 digests in PKCS#7 need kernel 6.7 or later' },
  { oid: '1.2.156.10197.1.401', name: 'sm3' },
  { oid: '1.2.643.7.1.1.2.2', name: 'streebog256' },
  { oid: '1.2.643.7.1.1.2.3', name: 'streebog512' },
];

export type CmsKeyType = 'rsa' | 'ecdsa';

/**
 * Signature algorithm OIDs: what key they need, the hash they name (when they
 * do), and whether the kernel's parser takes them.
 */
const SIGNATURE_ALGORITHMS: readonly { oid: string; name: string; key: CmsKeyType; hash?: string; kernel?: string }[] =
  [
    { oid: OID_RSA_ENCRYPTION, name: 'rsaEncryption', key: 'rsa' },
    {
      oid: '1.2.840.113549.1.1.5',
      name: 'sha1WithRSAEncryption',
      key: 'rsa',
      hash: 'sha1',
      kernel: "the kernel's PKCS#7 parser takes only rsaEncryption for RSA signers",
    },
    {
      oid: '1.2.840.113549.1.1.14',
      name: 'sha224WithRSAEncryption',
      key: 'rsa',
      hash: 'sha224',
      kernel: "the kernel's PKCS#7 parser takes only rsaEncryption for RSA signers",
    },
    {
      oid: '1.2.840.113549.1.1.11',
      name: 'sha256WithRSAEncryption',
      key: 'rsa',
      hash: 'sha256',
      kernel: "the kernel's PKCS#7 parser takes only rsaEncryption for RSA signers",
    },
    {
      oid: '1.2.840.113549.1.1.12',
      name: 'sha384WithRSAEncryption',
      key: 'rsa',
      hash: 'sha384',
      kernel: "the kernel's PKCS#7 parser takes only rsaEncryption for RSA signers",
    },
    {
      oid: '1.2.840.113549.1.1.13',
      name: 'sha512WithRSAEncryption',
      key: 'rsa',
      hash: 'sha512',
      kernel: "the kernel's PKCS#7 parser takes only rsaEncryption for RSA signers",
    },
    { oid: '1.2.840.10045.4.1', name: 'ecdsa-with-SHA1', key: 'ecdsa', hash: 'sha1' },
    { oid: '1.2.840.10045.4.3.1', name: 'ecdsa-with-SHA224', key: 'ecdsa', hash: 'sha224' },
    { oid: '1.2.840.10045.4.3.2', name: 'ecdsa-with-SHA256', key: 'ecdsa', hash: 'sha256' },
    { oid: '1.2.840.10045.4.3.3', name: 'ecdsa-with-SHA384', key: 'ecdsa', hash: 'sha384' },
    { oid: '1.2.840.10045.4.3.4', name: 'ecdsa-with-SHA512', key: 'ecdsa', hash: 'sha512' },
    {
      oid: '2.16.840.1.101.3.4.3.10',
      name: 'ecdsa-with-SHA3-256',
      key: 'ecdsa',
      hash: 'sha3-256',
      kernel: 'ECDSA with sha3 in PKCS#7 needs kernel 6.7 or later',
    },
    {
      oid: '2.16.840.1.101.3.4.3.11',
      name: 'ecdsa-with-SHA3-384',
      key: 'ecdsa',
      hash: 'sha3-384',
      kernel: 'ECDSA with sha3 in PKCS#7 needs kernel 6.7 or later',
    },
    {
      oid: '2.16.840.1.101.3.4.3.12',
      name: 'ecdsa-with-SHA3-512',
      key: 'ecdsa',
      hash: 'sha3-512',
      kernel: 'ECDSA with sha3 in PKCS#7 needs kernel 6.7 or later',
    },
  ];

/** Hash algorithms `modsig sign` can put into a CMS, by kernel name. */
export const CMS_SIGNING_ALGOS = ['sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'sha3-256', 'sha3-384', 'sha3-512'];

function digestOidOf(algo: HashAlgo): string | undefined {
  return DIGESTS.find((d) => d.name === algo.name)?.oid;
}

function ecdsaOidOf(algo: HashAlgo): string | undefined {
  return SIGNATURE_ALGORITHMS.find((s) => s.key === 'ecdsa' && s.hash === algo.name)?.oid;
}

const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

export type SignerIdentifier =
  | { readonly kind: 'issuer-serial'; readonly issuerDer: Buffer; readonly issuer: string; readonly serial: Buffer }
  | { readonly kind: 'skid'; readonly skid: Buffer };

export interface CmsSigner {
  readonly version: number;
  readonly sid: SignerIdentifier;
  readonly digestAlgorithmOid: string;
  /** Undefined when the OID is not a hash the kernel table names. */
  readonly digestAlgo?: HashAlgo;
  readonly signatureAlgorithmOid: string;
  readonly signatureAlgorithmName: string;
  /** The key type the signature algorithm needs; undefined for an unknown algorithm. */
  readonly keyType?: CmsKeyType;
  readonly signedAttributes: boolean;
  readonly unsignedAttributes: boolean;
  readonly signature: Buffer;
}

export interface ParsedCms {
  readonly der: Buffer;
  readonly signedDataVersion: number;
  readonly digestAlgorithmOids: readonly string[];
  readonly contentType: string;
  /** The CMS holds the content itself (not detached). */
  readonly hasContent: boolean;
  readonly certificates: number;
  readonly crls: number;
  readonly signers: readonly CmsSigner[];
  /** Bytes after the end of the DER inside sig_len. */
  readonly trailingBytes: number;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function oidName(oid: string): string {
  const d = DIGESTS.find((x) => x.oid === oid);
  if (d) return d.name;
  const s = SIGNATURE_ALGORITHMS.find((x) => x.oid === oid);
  if (s) return s.name;
  if (oid === OID_DATA) return 'id-data';
  if (oid === OID_SIGNED_DATA) return 'id-signedData';
  return oid;
}

function nameToString(rdn: RelativeDistinguishedNames): string {
  return rdn.typesAndValues
    .map((tv) => {
      const key = NAME_ATTRIBUTES[tv.type] ?? tv.type;
      const v = tv.value as { valueBlock?: { value?: unknown } };
      const value =
        typeof v?.valueBlock?.value === 'string'
          ? v.valueBlock.value
          : `#${hex(new Uint8Array((tv.value as BaseBlock).toBER(false)))}`;
      return `${key}=${value}`;
    })
    .join(', ');
}

function signerOf(si: SignerInfo): CmsSigner {
  let sid: SignerIdentifier;
  if (si.sid instanceof IssuerAndSerialNumber) {
    const issuerDer = Buffer.from(si.sid.issuer.valueBeforeDecode);
    sid = {
      kind: 'issuer-serial',
      issuerDer,
      issuer: nameToString(si.sid.issuer),
      serial: Buffer.from(si.sid.serialNumber.valueBlock.valueHexView),
    };
  } else {
    const block = si.sid as Constructed & Primitive;
    const inner = block.idBlock.isConstructed ? (block.valueBlock.value[0] as OctetString | undefined) : undefined;
    const skid = block.idBlock.isConstructed
      ? inner
        ? Buffer.from(inner.getValue())
        : Buffer.alloc(0)
      : Buffer.from((block as Primitive).valueBlock.valueHexView);
    sid = { kind: 'skid', skid };
  }
  const digestAlgorithmOid = si.digestAlgorithm.algorithmId;
  const d = DIGESTS.find((x) => x.oid === digestAlgorithmOid);
  const s = SIGNATURE_ALGORITHMS.find((x) => x.oid === si.signatureAlgorithm.algorithmId);
  return {
    version: si.version,
    sid,
    digestAlgorithmOid,
    digestAlgo: d ? hashAlgoByName(d.name) : undefined,
    signatureAlgorithmOid: si.signatureAlgorithm.algorithmId,
    signatureAlgorithmName: s?.name ?? si.signatureAlgorithm.algorithmId,
    keyType: s?.key,
    signedAttributes: si.signedAttrs !== undefined,
    unsignedAttributes: si.unsignedAttrs !== undefined,
    signature: Buffer.from(si.signature.getValue()),
  };
}

/** Parses the CMS of an appended signature. Throws only FormatError. */
export async function parseCms(input: Uint8Array): Promise<ParsedCms> {
  try {
    const der = Buffer.from(input);
    if (der.length === 0) throw new FormatError('empty PKCS#7 message');
    const asn1 = fromBER(der);
    if (asn1.offset === -1)
      throw new FormatError(`not a PKCS#7 message (not valid DER: ${asn1.result.error || 'cannot decode'})`);
    let ci: ContentInfo;
    try {
      ci = new ContentInfo({ schema: asn1.result });
    } catch {
      throw new FormatError('not a PKCS#7 message (no ContentInfo structure)');
    }
    if (ci.contentType !== OID_SIGNED_DATA)
      throw new FormatError(`PKCS#7 content type is ${oidName(ci.contentType)}, not signedData`);
    let sd: SignedData;
    try {
      sd = new SignedData({ schema: ci.content });
    } catch (e) {
      throw new FormatError(`malformed PKCS#7 SignedData${e instanceof Error && e.message ? ` (${e.message})` : ''}`);
    }
    const signers = sd.signerInfos.map((si) => signerOf(si));
    return {
      der,
      signedDataVersion: sd.version,
      digestAlgorithmOids: sd.digestAlgorithms.map((a) => a.algorithmId),
      contentType: sd.encapContentInfo.eContentType,
      hasContent: sd.encapContentInfo.eContent !== undefined,
      certificates: sd.certificates?.length ?? 0,
      crls: sd.crls?.length ?? 0,
      signers,
      trailingBytes: der.length - asn1.offset,
    };
  } catch (e) {
    if (e instanceof FormatError) throw e;
    // asn1js/pkijs throw plain Errors (and RangeErrors on absurd input): all mean "malformed".
    throw new FormatError(`malformed PKCS#7 message${e instanceof Error && e.message ? ` (${e.message})` : ''}`);
  }
}

export interface KernelCheck {
  /** Reasons the kernel would refuse this CMS for a module/kexec/IMA appended signature. */
  readonly problems: string[];
  /** Things worth knowing that the kernel accepts. */
  readonly warnings: string[];
}

/** The kernel's structural rules (pkcs7_parser.c, pkcs7_verify.c for VERIFYING_MODULE_SIGNATURE). */
export function kernelRules(cms: ParsedCms): KernelCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (cms.signedDataVersion !== 1 && cms.signedDataVersion !== 3)
    problems.push(`SignedData version ${cms.signedDataVersion} (the kernel takes 1 or 3)`);
  if (cms.contentType !== OID_DATA)
    problems.push(`content type ${oidName(cms.contentType)}, the kernel requires id-data`);
  if (cms.hasContent) problems.push('the PKCS#7 message embeds its content; an appended signature must be detached');
  if (cms.signers.length === 0) problems.push('no SignerInfo');
  if (cms.signers.length > 1)
    problems.push(`${cms.signers.length} SignerInfos; ima-sidecar handles exactly one, as sign-file makes`);
  if (cms.trailingBytes > 0)
    warnings.push(`${cms.trailingBytes} bytes after the end of the PKCS#7 message inside sig_len`);
  if (cms.certificates > 0)
    warnings.push(
      `the PKCS#7 message carries ${cms.certificates} certificate(s); the kernel uses its keyrings, not these`,
    );
  for (const s of cms.signers) {
    if (s.version === 1) {
      if (cms.signedDataVersion !== 1) problems.push('SignerInfo version 1 inside a SignedData that is not version 1');
      if (s.sid.kind !== 'issuer-serial')
        problems.push('SignerInfo version 1 must name its signer by issuer and serial number');
    } else if (s.version === 3) {
      if (cms.signedDataVersion === 1) problems.push('SignerInfo version 3 inside a version 1 SignedData');
      if (s.sid.kind !== 'skid') problems.push('SignerInfo version 3 must name its signer by subjectKeyIdentifier');
    } else {
      problems.push(`SignerInfo version ${s.version} (the kernel takes 1 or 3)`);
    }
    if (s.signedAttributes)
      problems.push('signed attributes are present (the kernel refuses them in module and appended signatures)');
    const d = DIGESTS.find((x) => x.oid === s.digestAlgorithmOid);
    if (!d) problems.push(`unknown digest algorithm ${s.digestAlgorithmOid}`);
    else if (d.name === 'md5') problems.push(d.kernel!);
    else if (d.kernel) warnings.push(d.kernel);
    if (!cms.digestAlgorithmOids.includes(s.digestAlgorithmOid))
      warnings.push("the signer's digest algorithm is missing from SignedData.digestAlgorithms");
    const sa = SIGNATURE_ALGORITHMS.find((x) => x.oid === s.signatureAlgorithmOid);
    if (!sa) problems.push(`unsupported signature algorithm ${s.signatureAlgorithmOid}`);
    else {
      if (sa.kernel && sa.key === 'rsa') problems.push(`signature algorithm ${sa.name}: ${sa.kernel}`);
      else if (sa.kernel) warnings.push(sa.kernel);
      if (sa.hash && d && sa.hash !== d.name)
        warnings.push(`signature algorithm ${sa.name} names ${sa.hash}, the digest algorithm is ${d.name}`);
    }
    if (s.signature.length === 0) problems.push('empty signature');
    if (s.sid.kind === 'skid' && s.sid.skid.length === 0)
      problems.push('empty subjectKeyIdentifier as signer identifier');
  }
  return { problems, warnings };
}

/** Plain description for JSON output and `modsig inspect`. */
export function describeCms(cms: ParsedCms): Record<string, unknown> {
  const s = cms.signers[0];
  const out: Record<string, unknown> = {
    cmsSize: cms.der.length,
    signedDataVersion: cms.signedDataVersion,
    contentType: oidName(cms.contentType),
    detached: !cms.hasContent,
    certificates: cms.certificates,
    signerInfos: cms.signers.length,
  };
  if (s) {
    out.signerInfoVersion = s.version;
    out.digestAlgorithm = s.digestAlgo?.name ?? s.digestAlgorithmOid;
    out.signatureAlgorithm = s.signatureAlgorithmName;
    if (s.sid.kind === 'skid') {
      out.signerId = 'skid';
      out.skid = s.sid.skid.toString('hex');
    } else {
      out.signerId = 'issuer-serial';
      out.issuer = s.sid.issuer;
      out.serial = s.sid.serial.toString('hex').toUpperCase();
    }
    out.signedAttributes = s.signedAttributes;
    out.unsignedAttributes = s.unsignedAttributes;
    out.signatureSize = s.signature.length;
  }
  return out;
}

/** Human description of a signer identifier. */
export function describeSid(sid: SignerIdentifier): string {
  return sid.kind === 'skid'
    ? `subjectKeyIdentifier ${sid.skid.toString('hex')}`
    : `issuer "${sid.issuer}" serial ${sid.serial.toString('hex').toUpperCase()}`;
}

/**
 * Whether the certificate is the one the signer identifier names (the kernel's
 * match: raw issuer bytes and serial, or the SKID).
 */
export async function certMatchesSid(cert: Certificate, sid: SignerIdentifier): Promise<boolean> {
  if (sid.kind === 'skid') return cert.skid !== undefined && cert.skid.equals(sid.skid);
  return cert.issuerDer.equals(sid.issuerDer) && cert.serialBytes.equals(sid.serial);
}

export async function certificatesForSid(sid: SignerIdentifier, certs: readonly Certificate[]): Promise<Certificate[]> {
  const out: Certificate[] = [];
  for (const c of certs) if (await certMatchesSid(c, sid)) out.push(c);
  return out;
}

/** The key type of a certificate, as a CMS signature algorithm needs it. */
export function certKeyType(cert: Certificate): CmsKeyType | undefined {
  if (cert.algorithm === 'rsa') return 'rsa';
  if (cert.algorithm?.startsWith('ecdsa')) return 'ecdsa';
  return undefined;
}

export type SignerIdForm = 'issuer-serial' | 'skid';

export interface BuildOptions {
  readonly cert: Certificate;
  readonly hashAlgo: HashAlgo;
  /** The signature over the payload's digest: PKCS#1 v1.5 for RSA, DER ECDSA. */
  readonly signature: Buffer;
  readonly signerId: SignerIdForm;
}

/** Why this certificate and hash cannot make a CMS, or undefined when they can. */
export function buildRefusal(cert: Certificate, hashAlgo: HashAlgo, signerId: SignerIdForm): string | undefined {
  const keyType = certKeyType(cert);
  if (!keyType)
    return (
      `${cert.source}: the certificate's key cannot make a kernel-verifiable signature ` +
      '(RSA or ECDSA P-192/P-256/P-384/P-521)'
    );
  if (!digestOidOf(hashAlgo))
    return (
      `hash algorithm ${hashAlgo.name} cannot be used in a PKCS#7 appended signature ` +
      `(one of ${CMS_SIGNING_ALGOS.join(', ')})`
    );
  if (keyType === 'ecdsa' && !ecdsaOidOf(hashAlgo))
    return `ECDSA with ${hashAlgo.name} has no signature algorithm identifier`;
  if (signerId === 'skid' && !cert.skid)
    return (
      `${cert.source}: the certificate has no subjectKeyIdentifier, ` +
      'which --signer-id skid needs (as sign-file -k does)'
    );
  return undefined;
}

/**
 * DER of the SignedData sign-file makes: byte-identical to it for RSA (whose
 * signature is deterministic), structurally identical for ECDSA.
 * Throws FormatError when `buildRefusal` would refuse.
 */
export async function buildModuleCms(opts: BuildOptions): Promise<Buffer> {
  const refusal = buildRefusal(opts.cert, opts.hashAlgo, opts.signerId);
  if (refusal) throw new FormatError(refusal);
  const digestOid = digestOidOf(opts.hashAlgo)!;
  const rsa = certKeyType(opts.cert) === 'rsa';
  const sid =
    opts.signerId === 'skid'
      ? new Primitive({ idBlock: { tagClass: 3, tagNumber: 0 }, valueHex: new Uint8Array(opts.cert.skid!) })
      : new IssuerAndSerialNumber({
          // The issuer as encoded, not rebuilt from its names: the kernel matches the raw bytes.
          issuer: new RelativeDistinguishedNames({ valueBeforeDecode: new Uint8Array(opts.cert.issuerDer).buffer }),
          serialNumber: new Integer({ valueHex: new Uint8Array(opts.cert.serialBytes) }),
        });
  const signatureAlgorithm = rsa
    ? new AlgorithmIdentifier({ algorithmId: OID_RSA_ENCRYPTION, algorithmParams: new Null() })
    : new AlgorithmIdentifier({ algorithmId: ecdsaOidOf(opts.hashAlgo)! });
  const signerInfo = new SignerInfo({
    version: opts.signerId === 'skid' ? 3 : 1,
    sid,
    digestAlgorithm: new AlgorithmIdentifier({ algorithmId: digestOid }),
    signatureAlgorithm,
    signature: new OctetString({ valueHex: new Uint8Array(opts.signature) }),
  });
  const signedData = new SignedData({
    // toSchema() recomputes the version from the signers: 1, or 3 with a SKID signer, as CMS_sign does.
    version: opts.signerId === 'skid' ? 3 : 1,
    digestAlgorithms: [new AlgorithmIdentifier({ algorithmId: digestOid })],
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: OID_DATA }),
    signerInfos: [signerInfo],
  });
  const contentInfo = new ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema() });
  return Buffer.from(contentInfo.toSchema().toBER(false));
}
