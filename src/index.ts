/**
 * ima-sidecar as a library: the same operations the command line runs, as
 * typed functions. Tree operations are async generators of per-file results
 * in a stable order; nothing here prints or exits.
 */
export { FormatError, ConfigError, FileError } from './errors.js';

// Pure codecs
export { HASH_ALGOS, hashAlgoById, hashAlgoByName, canCompute, signingRefusal } from './codec/hash-algo.js';
export type { HashAlgo } from './codec/hash-algo.js';
export {
  decodeImaValue,
  encodeImaValue,
  digestValue,
  imaFileId,
  describeValue,
  typeName,
  XATTR_TYPE,
  MAX_VALUE_SIZE,
  EVMCTL_MAX_VALUE_SIZE,
} from './codec/ima-value.js';
export type { ImaValue, DigestValue, SignatureValue, Decoded } from './codec/ima-value.js';

// Crypto
export { loadPrivateKey, parsePrivateKey, DEFAULT_PRIVATE_KEY } from './crypto/keys.js';
export type { SigningKey, KeyAlgorithm, DigestSigner } from './crypto/keys.js';
export { loadKeyFile } from './crypto/key-file.js';
export { loadTokenKey } from './crypto/token-key.js';
export { parsePkcs11Uri, displayUri, isPkcs11Uri, Pkcs11UriError } from './crypto/pkcs11-uri.js';
export type { Pkcs11Uri } from './crypto/pkcs11-uri.js';
export { pairingRefusal, keyWeakness } from './crypto/kernel-support.js';
export {
  loadCertificates,
  parseCertificates,
  computedKeyid,
  keyidFromSkid,
  DEFAULT_CERTIFICATES,
} from './crypto/certificate.js';
export type { Certificate } from './crypto/certificate.js';
export { resolveSigner, parseKeyidHex } from './crypto/signer.js';
export type { Signer } from './crypto/signer.js';

// Carriers and filesystem facts
export { sidecarPathFor, readSidecar, writeSidecar, DEFAULT_SUFFIX } from './carriers/sidecar.js';
export { DEFAULT_XATTR } from './carriers/xattr.js';
export { filesystemName } from './carriers/filesystem.js';
export { writeFileAtomic } from './carriers/atomic-write.js';

// Selection
export { selectFiles } from './select/walk.js';
export type { Selected, SelectOptions } from './select/walk.js';
export { runOrdered } from './select/runner.js';

// Operations
export type { FileResult, Summary } from './ops/result.js';
export { resultToJson, SummaryCounter } from './ops/result.js';
export type { TreeOptions } from './ops/tree.js';
export { signFile, signTree } from './ops/sign.js';
export type { SignOptions, SignDestination } from './ops/sign.js';
export { verifyFile, verifyTree } from './ops/verify.js';
export type { VerifyOptions, VerifySource } from './ops/verify.js';
export { hashFile, hashTree } from './ops/hash.js';
export type { HashOptions, HashDestination } from './ops/hash.js';
export { inspect, inspectBytes } from './ops/inspect.js';
export type { InspectSource } from './ops/inspect.js';
export { keyidsOf } from './ops/keyid.js';
export { importFile, importTree } from './ops/import.js';
export type { ImportOptions } from './ops/import.js';
export { exportFile, exportTree } from './ops/export.js';
export type { ExportOptions } from './ops/export.js';
export { statusOf, statusTree } from './ops/status.js';
export type { StatusOptions, SyncState } from './ops/status.js';
export { clearFile, clearTree } from './ops/clear.js';
export type { ClearOptions } from './ops/clear.js';
export { migrate, migrateFile } from './ops/migrate.js';
export type { MigrateOptions } from './ops/migrate.js';
export { checkValues, planChecks } from './ops/check.js';
export type { CarrierCheck, CarrierValue, CarrierName } from './ops/check.js';

// Appended ("module") signatures: trailer codec, CMS, operations, and the appended carrier
export {
  parseTrailer,
  buildTrailer,
  splitAppended,
  appendSignature,
  endsWithMagic,
  MODSIG_MAGIC,
  MODSIG_TRAILER_SIZE,
  MAX_SIG_LEN,
} from './codec/modsig.js';
export type { AppendedLayout, ModuleSignatureInfo, SplitAppended } from './codec/modsig.js';
export {
  parseCms,
  kernelRules,
  buildModuleCms,
  buildRefusal,
  describeCms,
  certMatchesSid,
  CMS_SIGNING_ALGOS,
} from './crypto/cms.js';
export type { ParsedCms, CmsSigner, SignerIdentifier, SignerIdForm, KernelCheck } from './crypto/cms.js';
export {
  inspectModsig,
  inspectModsigTree,
  verifyModsig,
  verifyModsigTree,
  stripModsig,
  stripModsigTree,
  signModsig,
  signModsigTree,
  detachModsig,
  detachModsigTree,
  attachModsig,
  attachModsigTree,
  readAppendedSignature,
  loadAppended,
  verifyAppended,
  checkAppended,
} from './ops/modsig.js';
export type {
  AppendedInfo,
  LoadedAppended,
  AppendedVerdict,
  ModsigVerifyOptions,
  ModsigSignOptions,
  ModsigDetachOptions,
  ModsigAttachOptions,
  OutputOption,
} from './ops/modsig.js';
