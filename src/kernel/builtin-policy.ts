/**
 * The policies built into the kernel (ima_policy.c's rule tables), chosen by
 * name on the command line (ima_policy=tcb|appraise_tcb|secure_boot|
 * critical_data, ima_tcb, ima_appraise_tcb), and the order ima_init_policy
 * puts them in. Written as the kernel prints them and parsed like any other
 * policy, so they match exactly as a loaded policy would.
 */
import { parsePolicyLine, PolicyRule } from './policy.js';
import { DEBIAN_6_1, KernelProfile } from './profile.js';

export type BuiltinPolicyName = 'tcb' | 'ima_tcb' | 'appraise_tcb' | 'secure_boot' | 'critical_data';

/** The magic numbers of the pseudo filesystems the tcb policies leave alone (include/uapi/linux/magic.h). */
const MAGIC = {
  proc: 0x9fa0,
  sysfs: 0x62656572,
  debugfs: 0x64626720,
  tmpfs: 0x01021994,
  ramfs: 0x858458f6,
  devpts: 0x1cd1,
  binfmt_misc: 0x42494e4d,
  securityfs: 0x73636673,
  selinuxfs: 0xf97cff8c,
  smackfs: 0x43415d53,
  nsfs: 0x6e736673,
  efivarfs: 0xde5e81e4,
  cgroup: 0x27e0eb,
  cgroup2: 0x63677270,
} as const;
type Pseudo = keyof typeof MAGIC;

const fsmagic = (name: Pseudo): string => `fsmagic=0x${MAGIC[name].toString(16)}`;

/** dont_measure_rules, in their order (no ramfs there, unlike the appraise list). */
const DONT_MEASURE = (
  [
    'proc',
    'sysfs',
    'debugfs',
    'tmpfs',
    'devpts',
    'binfmt_misc',
    'securityfs',
    'selinuxfs',
    'smackfs',
    'cgroup',
    'cgroup2',
    'nsfs',
    'efivarfs',
  ] as const
).map((n) => `dont_measure ${fsmagic(n)}`);

/** default_appraise_rules, in their order; Debian 6.1 has neither WRITE_POLICY nor APPRAISE_SIGNED_INIT. */
const DONT_APPRAISE = (
  [
    'proc',
    'sysfs',
    'debugfs',
    'tmpfs',
    'ramfs',
    'devpts',
    'binfmt_misc',
    'securityfs',
    'selinuxfs',
    'smackfs',
    'nsfs',
    'efivarfs',
    'cgroup',
    'cgroup2',
  ] as const
).map((n) => `dont_appraise ${fsmagic(n)}`);

const RULE_TEXT: Readonly<Record<BuiltinPolicyName, readonly string[]>> = {
  // original_measurement_rules (the ima_tcb parameter)
  ima_tcb: [
    ...DONT_MEASURE,
    'measure func=MMAP_CHECK mask=MAY_EXEC',
    'measure func=BPRM_CHECK mask=MAY_EXEC',
    'measure func=FILE_CHECK mask=MAY_READ uid=0',
    'measure func=MODULE_CHECK',
    'measure func=FIRMWARE_CHECK',
  ],
  // default_measurement_rules (ima_policy=tcb)
  tcb: [
    ...DONT_MEASURE,
    'measure func=MMAP_CHECK mask=MAY_EXEC',
    'measure func=BPRM_CHECK mask=MAY_EXEC',
    'measure func=FILE_CHECK mask=^MAY_READ euid=0',
    'measure func=FILE_CHECK mask=^MAY_READ uid=0',
    'measure func=MODULE_CHECK',
    'measure func=FIRMWARE_CHECK',
    'measure func=POLICY_CHECK',
  ],
  appraise_tcb: [...DONT_APPRAISE, 'appraise fowner=0'],
  secure_boot: [
    'appraise func=MODULE_CHECK appraise_type=imasig',
    'appraise func=FIRMWARE_CHECK appraise_type=imasig',
    'appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig',
    'appraise func=POLICY_CHECK appraise_type=imasig',
  ],
  critical_data: ['measure func=CRITICAL_DATA'],
};

export const BUILTIN_POLICY_NAMES = Object.keys(RULE_TEXT) as BuiltinPolicyName[];

function parsed(lines: readonly string[], source: string, profile: KernelProfile): PolicyRule[] {
  return lines.map((text) => {
    const rule = parsePolicyLine(text, 1, { profile, source });
    // Built-in rules have no line of their own.
    return { ...rule!, line: undefined };
  });
}

/** One built-in policy's own rules. */
export function builtinPolicy(name: BuiltinPolicyName, profile: KernelProfile = DEBIAN_6_1): PolicyRule[] {
  const source = name === 'ima_tcb' ? 'ima_tcb' : `ima_policy=${name}`;
  return parsed(RULE_TEXT[name], source, profile);
}

/** What the command line asks for (see cmdline.ts). */
export interface BootPolicies {
  /** ima_policy=tcb, or the older ima_tcb (which wins only when it comes first). */
  readonly tcb?: 'tcb' | 'ima_tcb';
  readonly appraiseTcb: boolean;
  readonly secureBoot: boolean;
  readonly criticalData: boolean;
}

/** The rules ima_efi.c adds in front of every policy when Secure Boot is on. */
export function secureBootArchRules(profile: KernelProfile = DEBIAN_6_1): PolicyRule[] {
  return parsed(profile.secureBootArchRules, 'Secure Boot arch policy', profile);
}

/**
 * The policy in force before any is loaded, in ima_init_policy's order: the
 * measurement rules, the Secure Boot arch rules, secure_boot, appraise_tcb,
 * critical_data.
 */
export function bootPolicyRules(
  boot: BootPolicies,
  secureBootOn: boolean,
  profile: KernelProfile = DEBIAN_6_1,
): PolicyRule[] {
  const rules: PolicyRule[] = [];
  if (boot.tcb) rules.push(...builtinPolicy(boot.tcb, profile));
  if (secureBootOn) rules.push(...secureBootArchRules(profile));
  if (boot.secureBoot) rules.push(...builtinPolicy('secure_boot', profile));
  if (boot.appraiseTcb) rules.push(...builtinPolicy('appraise_tcb', profile));
  if (boot.criticalData) rules.push(...builtinPolicy('critical_data', profile));
  return rules;
}

/** What stays in front of a loaded custom policy: the arch rules (no build-time rules in Debian 6.1). */
export function customPolicyPrefix(secureBootOn: boolean, profile: KernelProfile = DEBIAN_6_1): PolicyRule[] {
  return secureBootOn ? secureBootArchRules(profile) : [];
}
