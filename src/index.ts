/**
 * ima-sidecar as a library: the same operations the command line runs, as
 * typed functions. Tree operations are async generators of per-file results
 * in a stable order, each operation's result typed by its statuses and
 * details (SignResult, VerifyResult...); a run is stopped with an
 * AbortSignal (TreeOptions.signal). Nothing here prints or exits.
 */
export { FormatError, ConfigError, FileError, UsageError } from './errors.js';
export { VERSION } from './version.js';

// Pure codecs
export {
  HASH_ALGOS,
  SIGNING_ALGO_NAMES,
  hashAlgoById,
  hashAlgoByName,
  canCompute,
  signingRefusal,
  hashingRefusal,
  hashingAlgoNames,
} from './codec/hash-algo.js';
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
export { loadPrivateKey, parsePrivateKey, readPassFile, DEFAULT_PRIVATE_KEY } from './crypto/keys.js';
export type { SigningKey, KeyAlgorithm, KeyPasswordSource, DigestSigner } from './crypto/keys.js';
export { loadKeyFile } from './crypto/key-file.js';
export { loadTokenKey } from './crypto/token-key.js';
export { parsePkcs11Uri, displayUri, isPkcs11Uri, Pkcs11UriError } from './crypto/pkcs11-uri.js';
export type { Pkcs11Uri } from './crypto/pkcs11-uri.js';
export { pairingRefusal, keyWeakness, SIGNING_HASHES } from './crypto/kernel-support.js';
export {
  loadCertificates,
  parseCertificates,
  computedKeyid,
  keyidFromSkid,
  DEFAULT_CERTIFICATES,
} from './crypto/certificate.js';
export type { Certificate } from './crypto/certificate.js';
export { resolveSigner, parseKeyidHex } from './crypto/signer.js';
export type { Signer, SignerOptions } from './crypto/signer.js';

// Carriers and filesystem facts
export { sidecarPathFor, readSidecar, writeSidecar, DEFAULT_SUFFIX } from './carriers/sidecar.js';
export { DEFAULT_XATTR } from './carriers/xattr.js';
export { filesystemName } from './carriers/filesystem.js';

// Selection
export { selectFiles } from './select/walk.js';
export type { Selected, SelectOptions } from './select/walk.js';
export { runOrdered } from './select/runner.js';

export { isPattern } from './select/operands.js';

// Operations: each exports its options, its statuses, its details and its result type
export type {
  FileResult,
  AnyDetails,
  SelectionStatus,
  SelectionDetails,
  SelectionResult,
  Summary,
} from './ops/result.js';
export { resultToJson, SummaryCounter } from './ops/result.js';
export type { TreeOptions, TreeResults } from './ops/tree.js';
export { forEachResult, resultBatches } from './ops/tree.js';
export { signFile, signTree } from './ops/sign.js';
export type { SignOptions, SignDestination, SignStatus, SignDetails, SignResult } from './ops/sign.js';
export { verifyFile, verifyTree } from './ops/verify.js';
export type {
  VerifyOptions,
  VerifySource,
  VerifyStatus,
  VerifyDetails,
  VerifiedCarrier,
  VerifyResult,
} from './ops/verify.js';
export { hashFile, hashTree } from './ops/hash.js';
export type { HashOptions, HashDestination, HashStatus, HashDetails, HashResult } from './ops/hash.js';
export { inspect, inspectBytes } from './ops/inspect.js';
export type { InspectSource, InspectStatus, InspectDetails, InspectResult } from './ops/inspect.js';
export { keyidsOf } from './ops/keyid.js';
export type { KeyidStatus, KeyidDetails, KeyidResult } from './ops/keyid.js';
export { importFile, importTree } from './ops/import.js';
export type { ImportOptions, ImportStatus, ImportDetails, ImportResult } from './ops/import.js';
export { exportFile, exportTree, exportPath } from './ops/export.js';
export type { ExportOptions, ExportStatus, ExportDetails, ExportResult } from './ops/export.js';
export { statusOf, statusTree } from './ops/status.js';
export type { StatusOptions, SyncState, StatusStatus, StatusDetails, StatusResult } from './ops/status.js';
export { clearFile, clearTree } from './ops/clear.js';
export type { ClearOptions, ClearStatus, ClearDetails, ClearResult } from './ops/clear.js';
export { migrate, migrateFile, planMigration, MigrationRun } from './ops/migrate.js';
export type { MigrateOptions, MigrateCarrier, MigrateStatus, MigrateDetails, MigrateResult } from './ops/migrate.js';
export type { CarrierCheck, CarrierName } from './ops/check.js';

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
  AppendedDetails,
  OutputDetails,
  ModsigInspectStatus,
  ModsigInspectDetails,
  ModsigInspectResult,
  ModsigVerifyStatus,
  ModsigVerifyDetails,
  ModsigVerifyResult,
  ModsigStripStatus,
  ModsigStripDetails,
  ModsigStripResult,
  ModsigSignStatus,
  ModsigSignDetails,
  ModsigSignResult,
  ModsigDetachStatus,
  ModsigDetachDetails,
  ModsigDetachResult,
  ModsigAttachStatus,
  ModsigAttachDetails,
  ModsigAttachResult,
} from './ops/modsig.js';

// Loading a kernel with kexec_file_load from wherever it is kept
export { kexecLoad, requireKexecTools, KexecRefused } from './ops/kexec.js';
export type { KexecOptions, KexecResult, StagedFile } from './ops/kexec.js';

// File names given as arguments keep their raw bytes with rawArguments (see carriers/fs-path.ts).
// (Stopping on signals is TreeOptions.signal, then .rollback for the writes in flight.)
export { rawArguments } from './carriers/fs-path.js';

// The kernel's view and its appraisal verdicts (doctor)
export { doctorFile, doctorFiles } from './ops/doctor.js';
export type { DoctorOptions, DoctorResult, DoctorVerdict, DoctorError } from './ops/doctor.js';
export { gatherKernelView, gatherKeyrings, DEFAULT_POLICY_FILE } from './kernel/view.js';
export type { KernelView, KernelViewSources, PolicyInForce, PolicySource, TextRead } from './kernel/view.js';
export { predictVerdict, HOOKS, HOOK_NAMES } from './kernel/verdict.js';
export type {
  Verdict,
  VerdictInput,
  VerdictName,
  VerdictFile,
  HookName,
  HookStep,
  ImaFact,
  EvmFact,
  KeyCheck,
  DigestFact,
} from './kernel/verdict.js';
export {
  parsePolicy,
  parsePolicyLine,
  formatRule,
  PolicyError,
  POLICY_ACTIONS,
  POLICY_FUNCS,
  signatureRequired,
  verityRequired,
  ruleLocation,
} from './kernel/policy.js';
export type { PolicyRule, PolicyAction, PolicyFunc, ParseOptions, IdCondition, LsmCondition } from './kernel/policy.js';
export { builtinPolicy, bootPolicyRules, BUILTIN_POLICY_NAMES } from './kernel/builtin-policy.js';
export type { BuiltinPolicyName, BootPolicies } from './kernel/builtin-policy.js';
export { ruleMatches, decidingRule } from './kernel/match.js';
export type { MatchFile, MatchRequest, Subject } from './kernel/match.js';
export { parseProcKeys, keyringView, asymmetricKey, keyForKeyid } from './kernel/keyring.js';
export type { ProcKey, KernelKey, KeyringView, KeyringSources, KeyctlRunner } from './kernel/keyring.js';
export { parseEvmFlags, describeEvm, EVM_FLAGS } from './kernel/evm.js';
export type { EvmState } from './kernel/evm.js';
export { parseCmdline, splitKernelParameters } from './kernel/cmdline.js';
export type { KernelCmdline, AppraiseMode } from './kernel/cmdline.js';
export { kernelValue } from './kernel/ima-xattr.js';
export type { KernelValue } from './kernel/ima-xattr.js';
export { DEBIAN_6_1, imaKeyringName } from './kernel/profile.js';
export { keyctlVerifier } from './kernel/key-verify.js';
export type { KernelProfile } from './kernel/profile.js';
