/**
 * The kernel as IMA appraisal sees it, gathered once for a run: the appraisal
 * mode, the policy in force and where it was found, the IMA keyrings' keys,
 * EVM's state. Every source is read through injectable readers under a root
 * folder, so a test (or a copy of another machine's /proc, /sys and /etc) can
 * stand in for the running system; keyctl(1) is asked only about this one.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, describeSystemError, errnoOf } from '../errors.js';
import { BootPolicies, bootPolicyRules, customPolicyPrefix } from './builtin-policy.js';
import { AppraiseMode, KernelCmdline, parseCmdline } from './cmdline.js';
import { EvmState, parseEvmFlags, unknownEvm } from './evm.js';
import { KeyctlRunner, keyringView, KeyringView } from './keyring.js';
import { parsePolicy, PolicyRule } from './policy.js';
import { DEBIAN_6_1, imaKeyringName, KernelProfile } from './profile.js';
import { readSecureBoot, SecureBootState } from './secure-boot.js';

/** A file's text, or the errno of the failed read ('ENOENT' when it is not there). */
export type TextRead = { readonly text: string } | { readonly error: string };

export interface KernelViewSources {
  /** Folder holding proc/, sys/ and etc/ ('' or '/' for this system). */
  readonly root?: string;
  /** A policy file given by the user as the one in force (--policy). */
  readonly policyFile?: string;
  /** An appraisal mode to predict for instead of the kernel's. */
  readonly appraiseMode?: AppraiseMode;
  readonly profile?: KernelProfile;
  readonly readText?: (path: string) => TextRead;
  readonly readBytes?: (path: string) => Buffer | undefined | 'unreadable';
  readonly exists?: (path: string) => boolean;
  /** keyctl(1); null to never use it. By default used only when root is this system. */
  readonly keyctl?: KeyctlRunner | null;
}

export type PolicySource = 'securityfs' | 'file' | 'assumed' | 'builtin' | 'none';

export interface PolicyInForce {
  readonly rules: readonly PolicyRule[];
  /** securityfs: read back; file: --policy; assumed: /etc/ima/ima-policy; builtin: ima_policy= names; none: no IMA. */
  readonly source: PolicySource;
  readonly path?: string;
  /** For people: where the rules come from and how sure that is. */
  readonly description: string;
}

export interface KernelView {
  readonly profile: KernelProfile;
  /** /proc/sys/kernel/osrelease, when readable. */
  readonly release?: string;
  readonly cmdline: KernelCmdline;
  readonly secureBoot: SecureBootState;
  readonly appraise: { readonly mode: AppraiseMode; readonly how: string };
  /** Whether the kernel has IMA (its securityfs folder), when that can be seen. */
  readonly ima: 'present' | 'absent' | 'unknown';
  readonly policy: PolicyInForce;
  readonly keyring: KeyringView;
  readonly platformKeyring: KeyringView;
  readonly evm: EvmState;
  readonly notes: readonly string[];
}

export const DEFAULT_POLICY_FILE = '/etc/ima/ima-policy';

function systemReadText(path: string): TextRead {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (e) {
    return { error: errnoOf(e) ?? describeSystemError(e) };
  }
}

function systemReadBytes(path: string): Buffer | undefined | 'unreadable' {
  try {
    return readFileSync(path);
  } catch (e) {
    return errnoOf(e) === 'ENOENT' ? undefined : 'unreadable';
  }
}

function systemExists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** keyctl(1) with a short timeout: its output, or undefined when it is missing or fails. */
export const systemKeyctl: KeyctlRunner = (args) => {
  const r = spawnSync('keyctl', [...args], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? r.stdout : undefined;
};

const describeBoot = (b: BootPolicies): string[] =>
  [
    b.tcb,
    b.secureBoot ? 'secure_boot' : undefined,
    b.appraiseTcb ? 'appraise_tcb' : undefined,
    b.criticalData ? 'critical_data' : undefined,
  ].filter((x): x is string => x !== undefined);

/** Gathers the kernel view. Throws PolicyError for a policy file that does not parse, ConfigError for one missing. */
export function gatherKernelView(sources: KernelViewSources = {}): KernelView {
  const reading = readingOf(sources);
  const { root, profile, readText, exists, at } = reading;
  const notes: string[] = [];

  const release = textOf(readText(at('/proc/sys/kernel/osrelease')))?.trim();
  if (release && !/^6\.1\./.test(release))
    notes.push(`the running kernel is ${release}; the predictions follow ${profile.name}'s IMA`);
  const cmdlineText = textOf(readText(at('/proc/cmdline')));
  if (cmdlineText === undefined) notes.push('/proc/cmdline cannot be read: taken as empty');
  const cmdline = parseCmdline(cmdlineText ?? '');
  if (cmdline.invalidAppraise !== undefined)
    notes.push(`ima_appraise=${cmdline.invalidAppraise} is not a mode the kernel knows: it keeps enforce`);
  for (const p of cmdline.unknownPolicies) notes.push(`ima_policy=${p}: the kernel knows no such policy`);
  const secureBoot = readSecureBoot(sources.readBytes ?? systemReadBytes, exists, root);

  const appraise = appraiseMode(sources.appraiseMode, cmdline, secureBoot, profile, notes);
  const securityfs = at('/sys/kernel/security');
  const imaDir = `${securityfs}/ima`;
  // securityfs always has its lsm file: mounted without an ima folder, the kernel has no IMA.
  const ima: KernelView['ima'] = exists(imaDir) ? 'present' : exists(`${securityfs}/lsm`) ? 'absent' : 'unknown';
  const policy = policyInForce(
    sources.policyFile,
    ima,
    imaDir,
    cmdline,
    secureBoot,
    profile,
    readText,
    exists,
    at,
    notes,
  );

  const { keyring, platformKeyring } = keyrings(reading, notes);
  const evmRead = readText(at('/sys/kernel/security/evm'));
  const evm =
    'text' in evmRead
      ? parseEvmFlags(evmRead.text)
      : unknownEvm(
          evmRead.error === 'ENOENT'
            ? '/sys/kernel/security/evm is not there'
            : `/sys/kernel/security/evm cannot be read (${evmRead.error})`,
        );
  return { profile, release, cmdline, secureBoot, appraise, ima, policy, keyring, platformKeyring, evm, notes };
}

/** The IMA keyring and .platform, as gatherKernelView reads them, for when the policy cannot be known. */
export function gatherKeyrings(sources: KernelViewSources = {}): {
  readonly keyring: KeyringView;
  readonly platformKeyring: KeyringView;
} {
  return keyrings(readingOf(sources), []);
}

/** How a view reads the machine: the sources given, the system's own for the rest (keyctl only for the real root). */
interface Reading {
  readonly root: string;
  readonly profile: KernelProfile;
  readonly readText: (path: string) => TextRead;
  readonly exists: (path: string) => boolean;
  readonly keyctl: KeyctlRunner | undefined;
  /** A path of the machine under `root`. */
  readonly at: (p: string) => string;
}

function readingOf(sources: KernelViewSources): Reading {
  const root = (sources.root ?? '').replace(/\/+$/, '');
  return {
    root,
    profile: sources.profile ?? DEBIAN_6_1,
    readText: sources.readText ?? systemReadText,
    exists: sources.exists ?? systemExists,
    keyctl: sources.keyctl === null ? undefined : (sources.keyctl ?? (root === '' ? systemKeyctl : undefined)),
    at: (p: string): string => `${root}${p}`,
  };
}

function keyrings(
  { profile, readText, keyctl, at }: Reading,
  notes: string[],
): { keyring: KeyringView; platformKeyring: KeyringView } {
  const procKeys = (): string | undefined => textOf(readText(at('/proc/keys')));
  const keyring = keyringView(imaKeyringName(profile), { procKeys, keyctl });
  // The other spelling present instead: a kernel built otherwise than the profile says (TRUSTED_KEYRING).
  const otherName = profile.trustedKeyring ? '_ima' : '.ima';
  if (keyring.state === 'absent' && keyringView(otherName, { procKeys }).state === 'present')
    notes.push(
      `there is a ${otherName} keyring but no ${keyring.name}: ${profile.name} looks signers up in ${keyring.name}`,
    );
  return { keyring, platformKeyring: keyringView('.platform', { procKeys, keyctl }) };
}

function textOf(r: TextRead): string | undefined {
  return 'text' in r ? r.text : undefined;
}

function appraiseMode(
  override: AppraiseMode | undefined,
  cmdline: KernelCmdline,
  secureBoot: SecureBootState,
  profile: KernelProfile,
  notes: string[],
): KernelView['appraise'] {
  if (override) return { mode: override, how: `--appraise ${override}` };
  const asked = profile.appraiseBootparam ? cmdline.appraise : undefined;
  if (!asked) return { mode: 'enforce', how: 'the default, no ima_appraise=' };
  if (asked !== 'enforce' && secureBoot.enabled === true)
    return { mode: 'enforce', how: `ima_appraise=${asked} is ignored under Secure Boot` };
  if (asked !== 'enforce' && secureBoot.enabled === undefined)
    notes.push(`Secure Boot state unknown (${secureBoot.how}): under Secure Boot ima_appraise=${asked} is ignored`);
  return { mode: asked, how: `ima_appraise=${asked}` };
}

function policyInForce(
  policyFile: string | undefined,
  ima: KernelView['ima'],
  imaDir: string,
  cmdline: KernelCmdline,
  secureBoot: SecureBootState,
  profile: KernelProfile,
  readText: (path: string) => TextRead,
  exists: (path: string) => boolean,
  at: (p: string) => string,
  notes: string[],
): PolicyInForce {
  const sbOn = secureBoot.enabled === true;
  const parseOpts = { profile, extraTemplate: cmdline.templateFormat };
  const custom = (path: string, shown: string): PolicyRule[] => {
    const r = readText(path);
    if (!('text' in r)) throw new ConfigError(`${shown}: cannot read the policy: ${describeCode(r.error)}`, shown);
    if (r.text.length > 0 && !r.text.endsWith('\n'))
      notes.push(`${shown} does not end with a newline: the kernel reading it by its path refuses it`);
    return [...customPolicyPrefix(sbOn, profile), ...parsePolicy(r.text, { ...parseOpts, source: shown })];
  };
  const boot = cmdline.policies;
  const names = describeBoot(boot);
  const builtin = (why: string): PolicyInForce => ({
    rules: bootPolicyRules(boot, sbOn, profile),
    source: 'builtin',
    description: `built-in (${names.length ? names.map((n) => `ima_policy=${n}`).join(' ') : 'none named'}): ${why}`,
  });
  if (policyFile !== undefined)
    return {
      rules: custom(policyFile, policyFile),
      source: 'file',
      path: policyFile,
      description: `${policyFile} (--policy)`,
    };
  if (ima === 'absent') return { rules: [], source: 'none', description: 'none: this kernel has no IMA' };
  const node = `${imaDir}/policy`;
  const assumedPath = at(DEFAULT_POLICY_FILE);
  if (ima === 'present') {
    const read = readText(node);
    if ('text' in read) {
      // Read back from the kernel: exactly what is in force, arch rules included.
      // An empty read-back is a kernel with no rules at all, not a policy file without any.
      const blank = read.text.trim() === '';
      return {
        rules: blank
          ? []
          : parsePolicy(read.text, { ...parseOpts, source: '/sys/kernel/security/ima/policy', readBack: true }),
        source: 'securityfs',
        path: '/sys/kernel/security/ima/policy',
        description: 'read back from /sys/kernel/security/ima/policy',
      };
    }
    if (read.error !== 'ENOENT' && !profile.writePolicy)
      // The file goes away at the first policy loaded: still there means none was.
      return builtin('no custom policy was loaded since boot (/sys/kernel/security/ima/policy is still there)');
    if (read.error === 'ENOENT') {
      if (!exists(assumedPath))
        throw new ConfigError(
          `a custom IMA policy is loaded, but the kernel cannot show it (CONFIG_IMA_READ_POLICY is off) and ` +
            `${DEFAULT_POLICY_FILE} does not exist: give the policy with --policy FILE`,
        );
      return {
        rules: custom(assumedPath, DEFAULT_POLICY_FILE),
        source: 'assumed',
        path: DEFAULT_POLICY_FILE,
        description: `${DEFAULT_POLICY_FILE} (assumed: a custom policy is loaded, and the kernel cannot show it)`,
      };
    }
  }
  if (exists(assumedPath)) {
    if (boot.secureBoot)
      notes.push(`ima_policy=secure_boot appraises POLICY_CHECK: ${DEFAULT_POLICY_FILE} loads only if it is signed`);
    return {
      rules: custom(assumedPath, DEFAULT_POLICY_FILE),
      source: 'assumed',
      path: DEFAULT_POLICY_FILE,
      description: `${DEFAULT_POLICY_FILE} (assumed: systemd loads it at boot; the kernel's state cannot be seen)`,
    };
  }
  return builtin(`${DEFAULT_POLICY_FILE} does not exist`);
}

function describeCode(code: string): string {
  return describeSystemError({ code, message: '' });
}
