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
export type { SigningKey, KeyAlgorithm } from './crypto/keys.js';
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

// The kernel's view and its appraisal verdicts (doctor)
export { doctorFile, doctorFiles } from './ops/doctor.js';
export type { DoctorOptions, DoctorResult, DoctorVerdict, DoctorError } from './ops/doctor.js';
export { gatherKernelView, DEFAULT_POLICY_FILE } from './kernel/view.js';
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
export type { KernelProfile } from './kernel/profile.js';
