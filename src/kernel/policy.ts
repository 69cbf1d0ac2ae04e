/**
 * IMA policy text, parsed as the kernel parses it (security/integrity/ima/
 * ima_policy.c: ima_parse_add_rule, ima_parse_rule, ima_validate_rule), so
 * that a file the kernel would refuse is refused here too, naming the line
 * and the token. The kernel refuses a whole policy for one bad line and keeps
 * the policy it had: parsePolicy stops at the first error.
 */
import { HASH_ALGOS } from '../codec/hash-algo.js';
import { DEBIAN_6_1, KernelProfile } from './profile.js';

export const POLICY_ACTIONS = [
  'measure',
  'dont_measure',
  'appraise',
  'dont_appraise',
  'audit',
  'hash',
  'dont_hash',
] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** The hooks a rule can name (ima.h __ima_hooks), in the kernel's order. */
export const POLICY_FUNCS = [
  'FILE_CHECK',
  'MMAP_CHECK',
  'BPRM_CHECK',
  'CREDS_CHECK',
  'POST_SETATTR',
  'MODULE_CHECK',
  'FIRMWARE_CHECK',
  'KEXEC_KERNEL_CHECK',
  'KEXEC_INITRAMFS_CHECK',
  'POLICY_CHECK',
  'KEXEC_CMDLINE',
  'KEY_CHECK',
  'CRITICAL_DATA',
  'SETXATTR_CHECK',
] as const;
export type PolicyFunc = (typeof POLICY_FUNCS)[number];

/** Old names ima_parse_rule still takes. */
const FUNC_ALIASES: Readonly<Record<string, PolicyFunc>> = { PATH_CHECK: 'FILE_CHECK', FILE_MMAP: 'MMAP_CHECK' };

/** The MAY_* bits of include/linux/fs.h. */
export const MAY = { MAY_EXEC: 0x1, MAY_WRITE: 0x2, MAY_READ: 0x4, MAY_APPEND: 0x8 } as const;
export type MayName = keyof typeof MAY;

export type IdOperator = '=' | '>' | '<';

export interface IdCondition {
  readonly op: IdOperator;
  readonly value: number;
}

export const LSM_FIELDS = ['obj_user', 'obj_role', 'obj_type', 'subj_user', 'subj_role', 'subj_type'] as const;
export type LsmField = (typeof LSM_FIELDS)[number];

export interface LsmCondition {
  readonly field: LsmField;
  readonly value: string;
}

export type AppraiseType = 'imasig' | 'imasig|modsig' | 'sigv3';

export interface PolicyRule {
  readonly action: PolicyAction;
  readonly func?: PolicyFunc;
  /** mask=X: the request's mask must be X; mask=^X (anyOf): it must include X. */
  readonly mask?: { readonly name: MayName; readonly anyOf: boolean };
  readonly fsmagic?: number;
  readonly fsname?: string;
  /** Canonical lower-case form. */
  readonly fsuuid?: string;
  /** uid= or euid= (the kernel keeps one of the two). */
  readonly uid?: IdCondition & { readonly effective: boolean };
  /** gid= or egid=. */
  readonly gid?: IdCondition & { readonly effective: boolean };
  readonly fowner?: IdCondition;
  readonly fgroup?: IdCondition;
  readonly lsm: readonly LsmCondition[];
  readonly appraiseType?: AppraiseType;
  readonly digestType?: 'verity';
  readonly checkBlacklist?: boolean;
  /** Kernel hash algorithm names, in the order given. */
  readonly appraiseAlgos?: readonly string[];
  readonly keyrings?: readonly string[];
  readonly label?: readonly string[];
  readonly template?: string;
  readonly pcr?: number;
  readonly permitDirectio?: boolean;
  /** The rule as written (leading and trailing blanks removed), or as the kernel prints a built-in one. */
  readonly text: string;
  /** Where the rule comes from: a file name, or `ima_policy=NAME` for a built-in one. */
  readonly source: string;
  /** 1-based line in `source` (absent for built-in rules). */
  readonly line?: number;
}

/** A rule needs a signature, not a hash (IMA_DIGSIG_REQUIRED). */
export function signatureRequired(rule: PolicyRule): boolean {
  return rule.appraiseType !== undefined;
}

/** A rule wants fs-verity signatures (IMA_VERITY_REQUIRED). */
export function verityRequired(rule: PolicyRule): boolean {
  return rule.digestType === 'verity';
}

/** Where a rule is, for people: `file:line` or the built-in policy's name. */
export function ruleLocation(rule: PolicyRule): string {
  return rule.line !== undefined ? `${rule.source}:${rule.line}` : rule.source;
}

/** A policy line the kernel would refuse. `line` is 1-based; `token` is the word that failed ('' for the line). */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly source: string,
    readonly line: number,
    readonly token: string,
    readonly problem: string,
  ) {
    super(`${source}:${line}: ${token ? `'${printableToken(token)}': ` : ''}${problem}`);
  }
  /** The message without the location. */
  get reason(): string {
    return this.message.slice(`${this.source}:${this.line}: `.length);
  }
}

function printableToken(token: string): string {
  // eslint-disable-next-line no-control-regex
  return token.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export interface ParseOptions {
  readonly profile?: KernelProfile;
  /** A template format given as ima_template_fmt= on the command line: template= then takes it too. */
  readonly extraTemplate?: string;
  /** Name used in errors and in each rule's `source`. */
  readonly source?: string;
  /**
   * Text the kernel printed (securityfs): ima_policy_show puts appraise_type=sigv3 before digest_type=verity,
   * an order ima_parse_rule itself refuses, so digest_type= is read first.
   */
  readonly readBack?: boolean;
}

/** The flags the kernel tracks per rule (IMA_FUNC, IMA_MASK...), and below which ima_validate_rule allows per hook. */
type Flag =
  | 'func'
  | 'mask'
  | 'fsmagic'
  | 'fsname'
  | 'fsuuid'
  | 'uid'
  | 'euid'
  | 'gid'
  | 'egid'
  | 'fowner'
  | 'fgroup'
  | 'pcr'
  | 'keyrings'
  | 'label'
  | 'appraise_algos'
  | 'digsig'
  | 'modsig'
  | 'blacklist'
  | 'permit_directio'
  | 'verity';

const FILE_FLAGS: readonly Flag[] = [
  'func',
  'mask',
  'fsmagic',
  'uid',
  'fowner',
  'fsuuid',
  'euid',
  'pcr',
  'fsname',
  'gid',
  'egid',
  'fgroup',
  'digsig',
  'permit_directio',
  'appraise_algos',
];
const ALLOWED_FLAGS: ReadonlyMap<PolicyFunc | 'NONE', ReadonlySet<Flag>> = (() => {
  const m = new Map<PolicyFunc | 'NONE', ReadonlySet<Flag>>();
  const fileLike = new Set<Flag>([...FILE_FLAGS, 'verity']);
  for (const f of ['NONE', 'FILE_CHECK', 'MMAP_CHECK', 'BPRM_CHECK', 'CREDS_CHECK', 'POST_SETATTR'] as const)
    m.set(f, fileLike);
  m.set('FIRMWARE_CHECK', fileLike);
  m.set('POLICY_CHECK', fileLike);
  const kernelRead = new Set<Flag>([...FILE_FLAGS, 'modsig', 'blacklist']);
  for (const f of ['MODULE_CHECK', 'KEXEC_KERNEL_CHECK', 'KEXEC_INITRAMFS_CHECK'] as const) m.set(f, kernelRead);
  m.set(
    'KEXEC_CMDLINE',
    new Set<Flag>(['func', 'fsmagic', 'uid', 'fowner', 'fsuuid', 'euid', 'pcr', 'fsname', 'gid', 'egid', 'fgroup']),
  );
  m.set('KEY_CHECK', new Set<Flag>(['func', 'uid', 'gid', 'pcr', 'keyrings']));
  m.set('CRITICAL_DATA', new Set<Flag>(['func', 'uid', 'gid', 'pcr', 'label']));
  m.set('SETXATTR_CHECK', new Set<Flag>(['func', 'appraise_algos']));
  return m;
})();

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A rule being read, with the token that set each flag, for errors found only once the whole rule is read. */
interface Draft {
  rule: Partial<Mutable<Omit<PolicyRule, 'lsm' | 'text' | 'source' | 'line'>>>;
  lsm: LsmCondition[];
  flags: Map<Flag, string>;
}

/** kstrtoul/kstrtoull: optional '+', then digits of the base only ('0x' allowed in base 16). */
function kstrtoul(text: string, base: 10 | 16): bigint | undefined {
  let s = text.startsWith('+') ? text.slice(1) : text;
  if (base === 16 && /^0[xX]/.test(s)) s = s.slice(2);
  const digits = base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
  if (!digits.test(s)) return undefined;
  const value = BigInt(base === 16 ? `0x${s}` : s);
  return value <= 0xffffffffffffffffn ? value : undefined;
}

/** kstrtoint base 10: an optional sign, then digits, within int. */
function kstrtoint(text: string): number | undefined {
  const m = /^([+-]?)([0-9]+)$/.exec(text);
  if (!m) return undefined;
  const value = BigInt(m[2]!) * (m[1] === '-' ? -1n : 1n);
  return value >= -2147483648n && value <= 2147483647n ? Number(value) : undefined;
}

/** uuid_parse(): the first 36 characters must be a UUID; the kernel does not look further. */
function parseUuid(text: string): string | undefined {
  const head = text.slice(0, 36);
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(head)) return undefined;
  return head.toLowerCase();
}

const NULL_UUID = '00000000-0000-0000-0000-000000000000';

/** ima_alloc_rule_opt_list: items separated by '|', none empty. */
function optList(text: string): string[] | undefined {
  const items = text.split('|');
  return items.some((i) => i === '') ? undefined : items;
}

const LITERAL_TOKENS = new Set<string>([...POLICY_ACTIONS, 'permit_directio']);

/** The keys of policy_tokens that take a value; the id conditions also take '<' and '>'. */
const VALUE_KEYS = new Set([
  ...LSM_FIELDS,
  'func',
  'mask',
  'fsmagic',
  'fsname',
  'fsuuid',
  'digest_type',
  'appraise_type',
  'appraise_flag',
  'appraise_algos',
  'pcr',
  'template',
  'keyrings',
  'label',
]);
const ID_KEYS = new Set(['uid', 'euid', 'gid', 'egid', 'fowner', 'fgroup']);

/** match_token over policy_tokens: the key and operator of a token, or undefined for Opt_err. */
function matchToken(token: string): { key: string; op: IdOperator | undefined; value: string } | undefined {
  if (LITERAL_TOKENS.has(token)) return { key: token, op: undefined, value: '' };
  const m = /^([a-z_]+)([=<>])(.+)$/s.exec(token);
  if (!m) return undefined;
  const [, key, op, value] = m as unknown as [string, string, IdOperator, string];
  if (ID_KEYS.has(key)) return { key, op, value };
  if (op === '=' && VALUE_KEYS.has(key)) return { key, op: undefined, value };
  return undefined;
}

/** Why an unknown token is unknown, when there is a likely slip to name. */
function unknownTokenHint(token: string): string {
  if (token.endsWith('\r'))
    return 'unknown token: a carriage return (CRLF line ends) is part of the word for the kernel';
  if (token.startsWith('#')) return "unknown token: '#' starts a comment only at the start of a line";
  const spelled = /^(uid|euid|gid|egid|fowner|fgroup)_(gt|lt)=(.*)$/.exec(token);
  if (spelled)
    return `unknown token (the kernel spells it ${spelled[1]}${spelled[2] === 'gt' ? '>' : '<'}${spelled[3]})`;
  if (/^[a-z_]+=$/.test(token)) return 'unknown token: a value is needed after =';
  return 'unknown token';
}

const KERNEL_HASH_NAMES = (profile: KernelProfile): string[] =>
  HASH_ALGOS.slice(0, profile.hashAlgoLast).map((a) => a.name);

/** Parses one rule (text without its newline); undefined for a comment or a blank line. Throws PolicyError only. */
export function parsePolicyLine(text: string, lineNumber = 1, opts: ParseOptions = {}): PolicyRule | undefined {
  const profile = opts.profile ?? DEBIAN_6_1;
  const source = opts.source ?? 'policy';
  const fail = (token: string, problem: string): never => {
    const crlf =
      token.endsWith('\r') && !problem.includes('carriage return')
        ? ' (a carriage return ends it: CRLF line ends)'
        : '';
    throw new PolicyError(source, lineNumber, token, problem + crlf);
  };
  const nul = text.indexOf('\0');
  if (nul >= 0) fail('', 'NUL byte in the line: the kernel refuses the policy');
  const body = text.replace(/^[ \t]+/, '');
  if (body === '' || body.startsWith('#')) return undefined;
  const draft: Draft = { rule: {}, lsm: [], flags: new Map() };
  const r = draft.rule;
  const setFlag = (flag: Flag, token: string): void => {
    draft.flags.set(flag, token);
  };
  const words = body.split(/[ \t]/);
  if (opts.readBack) words.sort((a, b) => Number(b.startsWith('digest_type=')) - Number(a.startsWith('digest_type=')));
  for (const token of words) {
    if (token === '') continue;
    const t = matchToken(token);
    if (!t) return fail(token, unknownTokenHint(token));
    const { key, op, value } = t;
    if ((POLICY_ACTIONS as readonly string[]).includes(key)) {
      if (r.action !== undefined) fail(token, `a second action (the rule already says ${r.action})`);
      r.action = key as PolicyAction;
      continue;
    }
    switch (key) {
      case 'func': {
        if (r.func !== undefined) fail(token, 'func= given twice');
        const func = FUNC_ALIASES[value] ?? (POLICY_FUNCS as readonly string[]).find((f) => f === value);
        if (!func) fail(token, `unknown hook (one of ${POLICY_FUNCS.join(', ')}, or PATH_CHECK, FILE_MMAP)`);
        if (func === 'KEY_CHECK' && !profile.measureAsymmetricKeys)
          fail(token, `KEY_CHECK needs CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS, which ${profile.name} lacks`);
        r.func = func as PolicyFunc;
        setFlag('func', token);
        break;
      }
      case 'mask': {
        if (r.mask !== undefined) fail(token, 'mask= given twice');
        const anyOf = value.startsWith('^');
        const name = anyOf ? value.slice(1) : value;
        if (!(name in MAY))
          fail(token, 'unknown mask (MAY_EXEC, MAY_WRITE, MAY_READ or MAY_APPEND, ^ before for "any of")');
        r.mask = { name: name as MayName, anyOf };
        setFlag('mask', token);
        break;
      }
      case 'fsmagic': {
        if (r.fsmagic) fail(token, 'fsmagic= given twice');
        const magic = kstrtoul(value, 16);
        if (magic === undefined) fail(token, 'not a hexadecimal number');
        r.fsmagic = Number(magic);
        setFlag('fsmagic', token);
        break;
      }
      case 'fsname':
        // The kernel keeps the last fsname= without complaint.
        r.fsname = value;
        setFlag('fsname', token);
        break;
      case 'fsuuid': {
        if (r.fsuuid !== undefined && r.fsuuid !== NULL_UUID) fail(token, 'fsuuid= given twice');
        const uuid = parseUuid(value);
        if (!uuid) fail(token, 'not a UUID (8-4-4-4-12 hexadecimal digits)');
        r.fsuuid = uuid;
        setFlag('fsuuid', token);
        break;
      }
      case 'uid':
      case 'euid':
      case 'gid':
      case 'egid':
      case 'fowner':
      case 'fgroup': {
        const effective = key === 'euid' || key === 'egid';
        const slot = key === 'uid' || key === 'euid' ? 'uid' : key === 'gid' || key === 'egid' ? 'gid' : key;
        if (r[slot] !== undefined) {
          const other = slot === 'uid' || slot === 'gid' ? `${slot}= or e${slot}=` : `${slot}=`;
          fail(token, `${other} given twice (one per rule)`);
        }
        const n = kstrtoul(value, 10);
        // The id must fit in 32 bits and not be (uid_t)-1, the invalid id.
        if (n === undefined || n >= 0xffffffffn) fail(token, 'not an id (a decimal number below 4294967295)');
        const cond = { op: op!, value: Number(n) };
        if (slot === 'uid' || slot === 'gid') r[slot] = { ...cond, effective };
        else r[slot] = cond;
        setFlag(key as Flag, token);
        break;
      }
      case 'obj_user':
      case 'obj_role':
      case 'obj_type':
      case 'subj_user':
      case 'subj_role':
      case 'subj_type':
        if (draft.lsm.some((c) => c.field === key)) fail(token, `${key}= given twice`);
        draft.lsm.push({ field: key, value });
        break;
      case 'digest_type':
        if (draft.flags.has('digsig')) fail(token, 'digest_type= must come before appraise_type=');
        if (value !== 'verity') fail(token, 'unknown digest type (only verity)');
        r.digestType = 'verity';
        setFlag('verity', token);
        break;
      case 'appraise_type':
        if (value === 'imasig') {
          if (r.digestType) fail(token, 'digest_type=verity takes appraise_type=sigv3, not imasig');
          r.appraiseType = 'imasig';
        } else if (value === 'sigv3') {
          if (!r.digestType) fail(token, 'appraise_type=sigv3 needs digest_type=verity before it (fs-verity only)');
          r.appraiseType = 'sigv3';
        } else if (value === 'imasig|modsig' && profile.appraiseModsig) {
          if (r.digestType) fail(token, 'digest_type=verity takes appraise_type=sigv3, not imasig|modsig');
          r.appraiseType = 'imasig|modsig';
          setFlag('modsig', token);
        } else if (value === 'imasig|modsig') {
          fail(token, `appended signatures need CONFIG_IMA_APPRAISE_MODSIG, which ${profile.name} lacks`);
        } else fail(token, 'unknown appraise type (imasig, imasig|modsig, or sigv3 with digest_type=verity)');
        setFlag('digsig', token);
        break;
      case 'appraise_flag':
        if (!profile.appraiseModsig)
          fail(token, `appraise_flag= needs CONFIG_IMA_APPRAISE_MODSIG, which ${profile.name} lacks`);
        // The kernel looks for the word anywhere in the value.
        if (!value.includes('blacklist')) fail(token, 'unknown flag (check_blacklist)');
        r.checkBlacklist = true;
        setFlag('blacklist', token);
        break;
      case 'appraise_algos': {
        if (r.appraiseAlgos !== undefined) fail(token, 'appraise_algos= given twice');
        const known = KERNEL_HASH_NAMES(profile);
        const algos = value.split(',');
        for (const a of algos) {
          if (!known.includes(a))
            fail(token, `unknown hash algorithm "${a}" (the kernel's names: ${known.join(', ')})`);
          if (!profile.availableHashAlgos.has(a))
            fail(token, `hash algorithm "${a}" is not available in ${profile.name}'s crypto`);
        }
        r.appraiseAlgos = [...new Set(algos)];
        setFlag('appraise_algos', token);
        break;
      }
      case 'keyrings':
      case 'label': {
        if (key === 'keyrings' && !profile.measureAsymmetricKeys)
          fail(token, `keyrings= needs CONFIG_IMA_MEASURE_ASYMMETRIC_KEYS, which ${profile.name} lacks`);
        if (r[key] !== undefined) fail(token, `${key}= given twice`);
        const items = optList(value);
        if (!items) fail(token, 'an empty item in the | list');
        r[key] = items;
        setFlag(key, token);
        break;
      }
      case 'pcr': {
        const pcr = kstrtoint(value);
        if (pcr === undefined || pcr < 0 || pcr >= 64) fail(token, 'not a PCR index (0 to 63)');
        r.pcr = pcr;
        setFlag('pcr', token);
        break;
      }
      case 'template': {
        if (r.action !== 'measure') fail(token, 'template= is for measure rules, after the action');
        if (r.template !== undefined) fail(token, 'template= given twice');
        const known =
          profile.templates.has(value) ||
          [...profile.templates.values()].includes(value) ||
          (opts.extraTemplate !== undefined && value === opts.extraTemplate);
        if (!known) fail(token, `unknown template (${[...profile.templates.keys()].join(', ')}, or one's format)`);
        r.template = value;
        break;
      }
      case 'permit_directio':
        r.permitDirectio = true;
        setFlag('permit_directio', token);
        break;
    }
  }
  validate(draft, body, fail);
  return {
    ...(r as Omit<PolicyRule, 'lsm' | 'text' | 'source' | 'line'> & { action: PolicyAction }),
    lsm: draft.lsm,
    text: body.replace(/[ \t]+$/, ''),
    source,
    line: lineNumber,
  };
}

/** ima_validate_rule, in its order: the combinations the kernel refuses once the whole rule is read. */
function validate(draft: Draft, body: string, fail: (token: string, problem: string) => never): void {
  const r = draft.rule;
  const flagToken = (f: Flag): string => draft.flags.get(f) ?? '';
  if (r.action === undefined) fail('', `no action (one of ${POLICY_ACTIONS.join(', ')}) in "${body.trim()}"`);
  if (r.action !== 'measure' && draft.flags.has('pcr')) fail(flagToken('pcr'), 'pcr= is for measure rules only');
  if (r.action !== 'appraise') {
    for (const f of ['digsig', 'modsig', 'blacklist', 'appraise_algos'] as const)
      if (draft.flags.has(f)) fail(flagToken(f), `${flagToken(f).split('=')[0]}= is for appraise rules only`);
  }
  const func = r.func ?? 'NONE';
  const measureOnly = func === 'KEXEC_CMDLINE' || func === 'KEY_CHECK' || func === 'CRITICAL_DATA';
  if (measureOnly && r.action !== 'measure' && r.action !== 'dont_measure')
    fail(flagToken('func'), `func=${func} is for measure and dont_measure rules only`);
  if (func === 'SETXATTR_CHECK') {
    if (r.action !== 'appraise') fail(flagToken('func'), 'func=SETXATTR_CHECK is for appraise rules only');
    if (!draft.flags.has('appraise_algos')) fail(flagToken('func'), 'func=SETXATTR_CHECK needs appraise_algos=');
  }
  const allowed = ALLOWED_FLAGS.get(func)!;
  for (const [flag, token] of draft.flags) {
    if (!allowed.has(flag)) fail(token, `not allowed in ${func === 'NONE' ? 'a rule without func=' : `func=${func}`}`);
  }
  if ((func === 'KEY_CHECK' || func === 'CRITICAL_DATA') && draft.lsm.length > 0)
    fail(`${draft.lsm[0]!.field}=${draft.lsm[0]!.value}`, `LSM conditions are not allowed in func=${func}`);
  if (draft.flags.has('blacklist') && !draft.flags.has('modsig'))
    fail(flagToken('blacklist'), 'appraise_flag=check_blacklist needs appraise_type=imasig|modsig');
  if (r.action === 'appraise' && r.digestType && !r.appraiseType)
    fail(flagToken('verity'), 'an appraise rule with digest_type=verity needs appraise_type=sigv3');
}

/**
 * Parses a whole policy, stopping at the first line the kernel would refuse
 * (PolicyError, the only error thrown). A policy with no rule at all is
 * refused as the kernel refuses it (ima_check_policy).
 */
export function parsePolicy(text: string, opts: ParseOptions = {}): PolicyRule[] {
  const source = opts.source ?? 'policy';
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  const rules: PolicyRule[] = [];
  lines.forEach((line, i) => {
    const rule = parsePolicyLine(line, i + 1, { ...opts, source });
    if (rule) rules.push(rule);
  });
  if (rules.length === 0)
    throw new PolicyError(source, Math.max(1, lines.length), '', 'no rules: the kernel refuses an empty policy');
  return rules;
}

/** A rule in the kernel's read-back format (ima_policy_show), without the trailing space. */
export function formatRule(rule: Omit<PolicyRule, 'text' | 'source' | 'line'>): string {
  const parts: string[] = [rule.action];
  if (rule.func) parts.push(`func=${rule.func}`);
  if (rule.mask) parts.push(`mask=${rule.mask.anyOf ? '^' : ''}${rule.mask.name}`);
  if (rule.fsmagic !== undefined) parts.push(`fsmagic=0x${rule.fsmagic.toString(16)}`);
  if (rule.fsname !== undefined) parts.push(`fsname=${rule.fsname}`);
  if (rule.keyrings) parts.push(`keyrings=${rule.keyrings.join('|')}`);
  if (rule.label) parts.push(`label=${rule.label.join('|')}`);
  if (rule.pcr !== undefined) parts.push(`pcr=${rule.pcr}`);
  if (rule.fsuuid) parts.push(`fsuuid=${rule.fsuuid}`);
  if (rule.uid) parts.push(`${rule.uid.effective ? 'euid' : 'uid'}${rule.uid.op}${rule.uid.value}`);
  if (rule.gid) parts.push(`${rule.gid.effective ? 'egid' : 'gid'}${rule.gid.op}${rule.gid.value}`);
  if (rule.fowner) parts.push(`fowner${rule.fowner.op}${rule.fowner.value}`);
  if (rule.fgroup) parts.push(`fgroup${rule.fgroup.op}${rule.fgroup.value}`);
  if (rule.appraiseAlgos) {
    // The kernel prints the allowed set in id order.
    const order = HASH_ALGOS.map((a) => a.name);
    parts.push(
      `appraise_algos=${[...rule.appraiseAlgos].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(',')}`,
    );
  }
  for (const field of LSM_FIELDS) {
    const c = rule.lsm.find((l) => l.field === field);
    if (c) parts.push(`${c.field}=${c.value}`);
  }
  if (rule.template) parts.push(`template=${rule.template}`);
  if (rule.appraiseType) parts.push(`appraise_type=${rule.appraiseType}`);
  if (rule.digestType) parts.push(`digest_type=${rule.digestType}`);
  if (rule.checkBlacklist) parts.push('appraise_flag=check_blacklist');
  if (rule.permitDirectio) parts.push('permit_directio');
  return parts.join(' ');
}
