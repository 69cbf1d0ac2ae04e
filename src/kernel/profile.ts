/**
 * What a kernel build decides about IMA before any policy is loaded: the
 * configuration options doctor's predictions depend on. Only Debian
 * bookworm's 6.1 kernel is described (linux-config-6.1, config.amd64_none_amd64,
 * checked against linux-source-6.1); another build would be another profile.
 */

export interface KernelProfile {
  readonly name: string;
  /** HASH_ALGO__LAST of this kernel: ids from here on are unknown to it (6.1 stops before sha3). */
  readonly hashAlgoLast: number;
  /** CONFIG_IMA_DEFAULT_HASH: used when a value names no algorithm the kernel knows. */
  readonly defaultHashAlgo: string;
  /** Names crypto_has_alg() finds (built in or as a module): what appraise_algos= accepts. */
  readonly availableHashAlgos: ReadonlySet<string>;
  /** Public key algorithms the kernel's crypto can verify with (CONFIG_CRYPTO_ECDSA is off in Debian 6.1). */
  readonly signatureKeyTypes: ReadonlySet<string>;
  /** CONFIG_IMA_APPRAISE_MODSIG: appraise_type=imasig|modsig and appraise_flag= parse only with it. */
  readonly appraiseModsig: boolean;
  /** CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS: func=KEY_CHECK and keyrings= parse only with it. */
  readonly measureAsymmetricKeys: boolean;
  /** CONFIG_INTEGRITY_TRUSTED_KEYRING: the kernel's own .ima keyring; without it userspace makes _ima. */
  readonly trustedKeyring: boolean;
  /** CONFIG_IMA_READ_POLICY: the policy in force can be read back from securityfs. */
  readonly readPolicy: boolean;
  /** CONFIG_IMA_WRITE_POLICY: more than one policy write per boot (else the securityfs file goes away). */
  readonly writePolicy: boolean;
  /** CONFIG_IMA_APPRAISE_BOOTPARAM: ima_appraise= on the command line is honoured. */
  readonly appraiseBootparam: boolean;
  /** CONFIG_INTEGRITY_PLATFORM_KEYRING: KEXEC_KERNEL_CHECK also tries the .platform keyring (UEFI db). */
  readonly platformKeyring: boolean;
  /** The rules ima_efi.c puts in front of every policy under Secure Boot (CONFIG_IMA_ARCH_POLICY). */
  readonly secureBootArchRules: readonly string[];
  /** The built-in templates (ima_template.c): template= takes a name or a format. */
  readonly templates: ReadonlyMap<string, string>;
}

/**
 * Debian 6.1 (amd64): _ima keyring, policy not readable and loadable once,
 * no modsig, RSA only, sha256 by default. KEXEC_SIG and MODULE_SIG are on, so
 * the Secure Boot arch rules only measure.
 */
export const DEBIAN_6_1: KernelProfile = {
  name: 'Debian 6.1',
  hashAlgoLast: 20,
  defaultHashAlgo: 'sha256',
  // md4, rmd160, sha384/512, wp*, streebog* are modules crypto_has_alg() loads; rmd128/256/320 and tgr*
  // left the kernel before 6.1; sm3 is not configured.
  availableHashAlgos: new Set([
    'md4',
    'md5',
    'sha1',
    'rmd160',
    'sha256',
    'sha384',
    'sha512',
    'sha224',
    'wp256',
    'wp384',
    'wp512',
    'streebog256',
    'streebog512',
  ]),
  signatureKeyTypes: new Set(['rsa']),
  appraiseModsig: false,
  measureAsymmetricKeys: true,
  trustedKeyring: false,
  readPolicy: false,
  writePolicy: false,
  appraiseBootparam: true,
  platformKeyring: true,
  secureBootArchRules: ['measure func=KEXEC_KERNEL_CHECK', 'measure func=MODULE_CHECK'],
  templates: new Map([
    ['ima', 'd|n'],
    ['ima-ng', 'd-ng|n-ng'],
    ['ima-sig', 'd-ng|n-ng|sig'],
    ['ima-ngv2', 'd-ngv2|n-ng'],
    ['ima-sigv2', 'd-ngv2|n-ng|sig'],
    ['ima-buf', 'd-ng|n-ng|buf'],
    ['ima-modsig', 'd-ng|n-ng|sig|d-modsig|modsig'],
    ['evm-sig', 'd-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode'],
  ]),
};

/** The keyring IMA looks signers up in: `.ima` when the kernel makes it, else `_ima` made by userspace. */
export function imaKeyringName(profile: KernelProfile): string {
  return profile.trustedKeyring ? '.ima' : '_ima';
}

/** Likewise for EVM. */
export function evmKeyringName(profile: KernelProfile): string {
  return profile.trustedKeyring ? '.evm' : '_evm';
}
